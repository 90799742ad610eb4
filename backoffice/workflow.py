"""Workflow buttons for document admins: service calls, messages and intermediate pages.

A workflow step (confirm, ship, receive, cancel with a reason...) is an Unfold
``actions_detail`` button that opens a small intermediate page
(``render_workflow``) and, on POST, calls a service (``call_service``). A
``BusinessError`` from the service becomes an error message, never a 500.

``WorkflowAdminMixin`` expects the admin to also use
``backoffice.admin_tools.BusinessErrorAdminMixin`` (``message_business_error``)
and ``WarehouseScopedAdminMixin`` (``may_act_on``); see ``orders.admin.documents.DocumentAdmin``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse

from backoffice.admin_tools import change_url
from backoffice.errors import BusinessError

#: name prefix of the per-line quantity inputs of a workflow form (``line_<pk>``); other fields are header fields
LINE_PREFIX = "line_"


def posted(request: HttpRequest):
    """Form data on POST (even an empty POST binds the form), None on GET."""
    return request.POST if request.method == "POST" else None


class WorkflowAdminMixin:
    """Workflow buttons for a document admin: service calls, messages and intermediate pages.

    ``workflow_steps`` maps an ``actions_detail`` name to a predicate on the
    document; a button is shown only when its step applies to the current
    status (the role check is the action's ``permissions``). A stale button
    still reaches the service, whose refusal is shown as a message.
    """

    workflow_steps: dict[str, Callable[[Any], bool]] = {}
    workflow_template = "admin/orders/workflow_form.html"

    def get_actions_detail(self, request: HttpRequest, object_id):
        actions = super().get_actions_detail(request, object_id)
        document = self.workflow_object(request, object_id)
        if document is None:
            return actions
        prefix = f"{self.opts.app_label}_{self.opts.model_name}_"
        return [
            item
            for item in actions
            if (applies := self.workflow_steps.get(item.action_name.removeprefix(prefix))) is None or applies(document)
        ]

    def workflow_object(self, request: HttpRequest, object_id):
        """The document of this request, loaded once (buttons and views both need it)."""
        cache = request.__dict__.setdefault("_workflow_objects", {})
        key = (self.opts.label, str(object_id))
        if key not in cache:
            cache[key] = self.get_object(request, unquote(str(object_id)))
        return cache[key]

    def workflow_document_or_404(self, request: HttpRequest, object_id):
        document = self.workflow_object(request, object_id)
        if document is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, str(object_id))
        if not self.has_view_or_change_permission(request, document) or not self.may_act_on(request, document):
            raise PermissionDenied
        return document

    def call_service(self, request: HttpRequest, service: Callable, /, *, success: str = "", **kwargs):
        """Run ``service(**kwargs)``; report success or the business refusal. Returns (ok, result)."""
        try:
            result = service(**kwargs)
        except BusinessError as exc:
            self.message_business_error(request, exc)
            return False, exc
        if success:
            self.message_user(request, success, messages.SUCCESS)
        return True, result

    def call_service_for_each(self, request: HttpRequest, queryset, service: Callable, *, done: str, **kwargs) -> None:
        """Bulk action body: one service call per document; successes summarised, each refusal listed."""
        succeeded = []
        for document in queryset:
            try:
                service(document=document, user=request.user, **kwargs)
            except BusinessError as exc:
                self.message_user(request, f"{document}: {exc.message}", messages.ERROR)
            else:
                succeeded.append(str(document))
        if succeeded:
            self.message_user(request, f"{done}: {', '.join(succeeded)}.", messages.SUCCESS)

    def redirect_to_document(self, document) -> HttpResponseRedirect:
        return HttpResponseRedirect(change_url(document))

    def reason_workflow(
        self,
        request: HttpRequest,
        object_id,
        *,
        service: Callable,
        form_class: type[forms.Form],
        success: Callable[[Any], str],
        title: str,
        submit_label: str,
        intro: str,
        summary: Callable[[Any], Any],
    ) -> HttpResponse:
        """A transition that asks for a reason (cancel, close short): form page, then ``service(order=…, reason=…)``."""
        document = self.workflow_document_or_404(request, object_id)
        if isinstance(document, HttpResponse):
            return document
        form = form_class(posted(request))
        if request.method == "POST" and form.is_valid():
            self.call_service(
                request,
                service,
                order=document,
                user=request.user,
                reason=form.cleaned_data["reason"],
                success=success(document),
            )
            return self.redirect_to_document(document)
        return self.render_workflow(
            request,
            document,
            title=title,
            form=form,
            submit_label=submit_label,
            submit_variant="danger",
            intro=intro,
            summary=summary(document),
        )

    def render_workflow(
        self,
        request: HttpRequest,
        document,
        *,
        title: str,
        form: forms.Form,
        submit_label: str,
        intro: str = "",
        refusal: str = "",
        summary=(),
        line_columns=(),
        line_rows=(),
        line_input_label: str = "",
        empty_lines_text: str = "",
        submit_variant: str = "primary",
    ) -> TemplateResponse:
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "object": document,
            "title": f"{document} · {title}",
            "form": form,
            "header_fields": [form[name] for name in form.fields if not name.startswith(LINE_PREFIX)],
            "submit_label": submit_label,
            "submit_variant": submit_variant,
            "intro": intro,
            "refusal": refusal,
            "summary": summary,
            "line_columns": line_columns,
            "line_rows": line_rows,
            "line_input_label": line_input_label,
            "empty_lines_text": empty_lines_text,
        }
        return TemplateResponse(request, self.workflow_template, context)
