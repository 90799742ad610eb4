"""The admin side of the import engine for django-import-export model admins.

``SafeImportAdminMixin`` replaces import-export's upload and confirm views
(``import_action`` / ``process_import``): the upload is read by
``backoffice.uploads`` within the limits, validated through
``backoffice.imports`` and stored as an ``ImportPreview``; the confirm form
carries only that preview's token (import-export's ``ConfirmImportForm``
carried a temp-file name chosen by the client). Big files go to a background
task and the user is sent to the import's status page.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from backoffice.import_jobs import import_job_status
from backoffice.imports import (
    Outcome,
    PreviewExpired,
    ResourceTarget,
    import_confirm,
    import_job_of,
    import_preview_get,
    import_upload_file,
    request_session_key,
)
from backoffice.models import ImportJob, ImportPreview
from backoffice.uploads import UploadRefused


class PreviewConfirmForm(forms.Form):
    """The confirm step names the server-side preview, nothing else."""

    token = forms.CharField(widget=forms.HiddenInput(), max_length=64)


def job_context(job: ImportJob | None) -> dict:
    """The link to an import's page (Imports list) and its progress, for the upload and status pages."""
    if job is None:
        return {}
    return {
        "job": job,
        "job_url": reverse("admin:backoffice_importjob_change", args=[job.pk]),
        "status_url": reverse("admin:backoffice_importjob_status", args=[job.pk]),
        "progress": import_job_status(job),
    }


def outcome_job_context(outcome: Outcome | None) -> dict:
    """``job_context`` of the job an outcome was recorded in."""
    job_id = getattr(outcome, "job_id", None)
    return job_context(ImportJob.objects.filter(pk=job_id).first() if job_id else None)


def preview_status_context(preview: ImportPreview) -> dict:
    """What a status page shows of a (background) import."""
    return {
        **job_context(import_job_of(preview)),
        "preview": preview,
        "outcome": Outcome.from_json(preview.outcome) if preview.outcome else None,
        "running": preview.status
        in {ImportPreview.Status.VALIDATING, ImportPreview.Status.CONFIRMED, ImportPreview.Status.IMPORTING},
        "confirm_form": (
            PreviewConfirmForm(initial={"token": preview.token})
            if preview.status == ImportPreview.Status.PREVIEWED
            else None
        ),
    }


class SafeImportAdminMixin:
    """Upload → limits → preview (stored, token-bound) → confirm, for a ``ImportMixin`` admin."""

    confirm_form_class = PreviewConfirmForm
    import_template_name = "admin/backoffice/import.html"
    import_status_template_name = "admin/backoffice/import_status.html"

    def get_urls(self):
        info = self.get_model_info()
        return [
            path(
                "import/<str:token>/",
                self.admin_site.admin_view(self.import_status_view),
                name="{}_{}_import_status".format(*info),
            ),
            *super().get_urls(),
        ]

    def _import_url(self, name: str, *args) -> str:
        app_label, model_name = self.get_model_info()
        return reverse(f"admin:{app_label}_{model_name}_{name}", args=args, current_app=self.admin_site.name)

    def import_targets(self, request) -> dict[str, ResourceTarget]:
        targets = [ResourceTarget(resource_class) for resource_class in self.get_import_resource_classes(request)]
        return {target.name: target for target in targets}

    def import_action(self, request, **kwargs):
        if not self.has_import_permission(request):
            raise PermissionDenied
        context = self.get_import_context_data()
        import_form = self.create_import_form(request)
        resource_classes = self.get_import_resource_classes(request)
        if request.method == "POST" and import_form.is_valid():
            resource_class = self.choose_import_resource_class(import_form, request)
            file_format = self.get_import_formats()[int(import_form.cleaned_data["format"])]().get_title().lower()
            upload = import_form.cleaned_data["import_file"]
            try:
                # A big file is stored and validated in the background unread (the request returns at once).
                preview, outcome = import_upload_file(
                    upload=upload,
                    file_format=file_format,
                    target=ResourceTarget(resource_class),
                    user=request.user,
                    session_key=request_session_key(request),
                )
            except UploadRefused as refused:
                import_form.add_error("import_file", refused.message)
            else:
                if outcome is None:
                    return HttpResponseRedirect(self._import_url("import_status", preview.token))
                context["result"] = outcome.result
                context["outcome"] = outcome
                context.update(outcome_job_context(outcome))
                if preview is not None:
                    context["confirm_form"] = self.confirm_form_class(initial={"token": preview.token})
            resource_classes = [resource_class]
        resource_kwargs = self.get_import_resource_kwargs(request=request, form=import_form, **kwargs)
        context.update(self.admin_site.each_context(request))
        context.update(
            {
                "title": _("Import"),
                "form": import_form,
                "opts": self.model._meta,
                "media": self.media + import_form.media,
                "fields_list": [
                    (
                        resource.get_display_name(),
                        [f.column_name for f in resource.get_user_visible_fields()],
                    )
                    for resource in (resource_class(**resource_kwargs) for resource_class in resource_classes)
                ],
                "import_error_display": self.import_error_display,
            }
        )
        request.current_app = self.admin_site.name
        return TemplateResponse(request, [self.import_template_name], context)

    def _expired(self, request, error: PreviewExpired):
        self.message_user(request, error.message, level=messages.ERROR)
        return HttpResponseRedirect(self._import_url("import"))

    @method_decorator(require_POST)
    def process_import(self, request, **kwargs):
        """Import the file this user previewed in this session, once (never a file the client names)."""
        if not self.has_import_permission(request):
            raise PermissionDenied
        form = self.confirm_form_class(request.POST)
        try:
            if not form.is_valid():
                raise PreviewExpired()
            preview, outcome = import_confirm(
                token=form.cleaned_data["token"],
                user=request.user,
                session_key=request.session.session_key,
                targets=self.import_targets(request),
            )
        except PreviewExpired as expired:
            return self._expired(request, expired)
        if outcome is None:
            return HttpResponseRedirect(self._import_url("import_status", preview.token))
        if outcome.result is None:  # crashed (logged, rolled back) or refused before import-export ran
            self.message_user(request, outcome.message, level=messages.ERROR)
            return HttpResponseRedirect(self._import_url("import"))
        return self.process_result(outcome.result, request)

    def import_status_view(self, request, token):
        """A background import's page: validating → preview (confirm) → importing → result."""
        if not self.has_import_permission(request):
            raise PermissionDenied
        try:
            preview = import_preview_get(token=token, user=request.user, session_key=request.session.session_key)
            if preview.target not in self.import_targets(request):
                raise PreviewExpired()
        except PreviewExpired as expired:
            return self._expired(request, expired)
        context = {
            **self.admin_site.each_context(request),
            **preview_status_context(preview),
            "title": _("Import of %(name)s") % {"name": preview.file_name},
            "opts": self.model._meta,
            "confirm_url": self._import_url("process_import"),
            "import_url": self._import_url("import"),
            "changelist_url": self._import_url("changelist"),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, [self.import_status_template_name], context)
