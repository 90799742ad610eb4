"""Admin building blocks shared by every app (Unfold + import-export + simple-history).

* ``BusinessErrorAdminMixin`` turns a ``BusinessError`` raised while saving or
  running an action into an admin error message (never a 500);
* ``workflow_redirect`` / ``confirm_dialog`` / ``status_badge`` are the pieces of
  a workflow button on the change form (Unfold ``actions_detail``);
* ``WarehouseScopedAdminMixin`` / ``WarehouseScopedInlineMixin`` narrow rows
  with ``backoffice.scoping`` (``user_warehouse_ids`` is re-exported from there);
* ``SafeHistoryAdminMixin`` scopes history and version pages and stops a
  revert that the user may not make;
* ``ImportExportAdminMixin`` is import-export with Unfold forms, all-or-nothing
  imports, streamed formula-safe exports and a downloadable import template per
  resource.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import tablib
from django.contrib import messages
from django.contrib.admin.filters import RelatedFieldListFilter
from django.contrib.admin.utils import unquote
from django.contrib.admin.widgets import AutocompleteMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from import_export.admin import ImportExportModelAdmin
from import_export.formats import base_formats
from unfold.contrib.import_export.forms import ExportForm, ImportForm
from unfold.decorators import action, display

from backoffice import admin_bounds  # noqa: F401  (bounds searches and inlines of every ModelAdmin on import)
from backoffice.errors import BusinessError
from backoffice.export_admin import StreamedExportMixin
from backoffice.import_admin import SafeImportAdminMixin
from backoffice.scoping import is_scoped_model, scope_queryset, user_warehouse_ids

# ---------------------------------------------------------------------------
# Business errors and workflow buttons


class BusinessErrorAdminMixin:
    """A ``BusinessError`` escaping a save or an action becomes an error message.

    The service that raised it ran inside a transaction, so nothing was written;
    the user is sent back to the page they were on.
    """

    def message_business_error(self, request: HttpRequest, error: BusinessError) -> None:
        self.message_user(request, error.message, level=messages.ERROR)

    def run_service(self, request: HttpRequest, call: Callable[[], Any], *, success: str = "") -> bool:
        """Call a service; report success or the business error. True when it worked."""
        try:
            call()
        except BusinessError as error:
            self.message_business_error(request, error)
            return False
        if success:
            self.message_user(request, success, level=messages.SUCCESS)
        return True

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except BusinessError as error:
            self.message_business_error(request, error)
            return HttpResponseRedirect(request.get_full_path())

    def changelist_view(self, request, extra_context=None):
        try:
            return super().changelist_view(request, extra_context)
        except BusinessError as error:
            self.message_business_error(request, error)
            return HttpResponseRedirect(request.get_full_path())


def workflow_redirect(request: HttpRequest, url: str) -> HttpResponse:
    """Leave a workflow action: HTMX (Unfold dialogs) follows ``HX-Redirect``, browsers a 302."""
    if request.headers.get("HX-Request"):
        return HttpResponse(headers={"HX-Redirect": url})
    return HttpResponseRedirect(url)


def confirm_dialog(title: str, description: str, submit: str) -> dict:
    """An Unfold action dialog: the action runs only on its POST (CSRF-protected)."""
    return {"title": title, "description": description, "form_submit_text": submit}


def change_url(obj) -> str:
    opts = obj._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=(obj.pk,))


STATUS_COLORS = {
    "draft": "info",
    "applied": "success",
    "confirmed": "info",
    "sent": "info",
    "partially_received": "warning",
    "partially_shipped": "warning",
    "received": "success",
    "shipped": "success",
    "delivered": "success",
    "closed": "success",
    "cancelled": "danger",
}


def status_badge(field: str = "status", *, description: str = "", colors: dict[str, str] | None = None):
    """A list/readonly column showing a choices field as a coloured Unfold label."""

    @display(description=description or _("status"), ordering=field, label=colors or STATUS_COLORS)
    def badge(self, obj):
        value = getattr(obj, field)
        return value, getattr(obj, f"get_{field}_display")()

    return badge


# ---------------------------------------------------------------------------
# Malformed ids


def is_valid_pk(model, value) -> bool:
    """Whether ``value`` can be looked up as ``model``'s primary key (a number in range, for integer keys)."""
    field = model._meta.pk
    try:
        value = field.to_python(value)
    except ValidationError:
        return False
    if isinstance(value, int):
        try:
            low, high = connection.ops.integer_field_range(field.get_internal_type())
        except KeyError:
            return True
        return (low is None or value >= low) and (high is None or value <= high)
    return value is not None


_autocomplete_optgroups = AutocompleteMixin.optgroups


def _autocomplete_optgroups_of_valid_ids(self, name, value, attr=None):
    """Django's autocomplete widget queries the submitted ids as they are when it re-renders a form with
    errors: a posted ``abc`` or an id too big for the database raised a 500 instead of "Select a valid choice"."""
    model = self.field.remote_field.model
    to_field = model._meta.get_field(getattr(self.field.remote_field, "field_name", model._meta.pk.attname))
    if to_field.primary_key:
        value = [v for v in value if str(v) in self.choices.field.empty_values or is_valid_pk(model, v)]
    return _autocomplete_optgroups(self, name, value, attr)


AutocompleteMixin.optgroups = _autocomplete_optgroups_of_valid_ids


# ---------------------------------------------------------------------------
# Warehouse scope


class WarehouseScopedInlineMixin:
    """Inline rows limited to what the user may see (``backoffice.scoping.scope_queryset``)."""

    def get_queryset(self, request):
        return scope_queryset(request.user, super().get_queryset(request))


class WarehouseScopedAdminMixin(WarehouseScopedInlineMixin):
    """Rows limited by ``backoffice.scoping`` (lists, change pages, autocomplete, exports), and
    warehouse choices limited to the user's warehouses.

    ``warehouse_choice_fields``: foreign keys to a warehouse whose choices are
    limited (and which the user must staff to change the row). The check in
    ``backoffice.scoping`` requires this mixin on the admin of every
    warehouse-bound model; history pages are scoped by ``SafeHistoryAdminMixin``.
    """

    warehouse_choice_fields: tuple[str, ...] = ("warehouse",)

    def _get_obj_does_not_exist_redirect(self, request, opts, object_id):
        # Django answers a missing id on change/delete pages with a redirect and a message; for
        # warehouse-bound rows both a missing id and another warehouse's row answer 404 instead,
        # like their history pages, the workflow buttons and the API do.
        raise Http404(_("No such object."))

    def may_act_on(self, request, obj) -> bool:
        ids = user_warehouse_ids(request.user)
        if ids is None or obj is None:
            return True
        return all(getattr(obj, f"{name}_id") in ids for name in self.warehouse_choice_fields)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name in self.warehouse_choice_fields:
            kwargs["queryset"] = scope_queryset(request.user, db_field.remote_field.model._default_manager.all())
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


_related_filter_choices = RelatedFieldListFilter.field_choices


def _scoped_related_filter_choices(self, field, request, model_admin):
    """A list filter on a warehouse (or another warehouse-bound model) offers only the rows the user
    may see: the "warehouse" dropdowns of Unfold and Django name no other warehouse."""
    related = field.related_model
    if related is None or not is_scoped_model(related):
        return _related_filter_choices(self, field, request, model_admin)
    ordering = self.field_admin_ordering(field, request, model_admin)
    visible = scope_queryset(request.user, related._default_manager.all()).values("pk")
    return field.get_choices(include_blank=False, limit_choices_to={"pk__in": visible}, ordering=ordering)


RelatedFieldListFilter.field_choices = _scoped_related_filter_choices


# ---------------------------------------------------------------------------
# History


class SafeHistoryAdminMixin:
    """History and version pages only for what the user may see, and no revert they may not make.

    simple-history shows the history of any id, falling back to the history
    rows when the admin's queryset does not hold the object, and lets anyone
    who may *view* history POST a revert. Here the object must be in this
    admin's queryset (a deleted one: its history rows must be in the user's
    scope), the listed and opened versions are narrowed by
    ``backoffice.scoping.scope_queryset``, anything else is a 404; a revert
    needs the right to change the current object.
    """

    history_revert_allowed = True

    def revert_disabled(self, request, obj=None):
        return not self.history_revert_allowed or super().revert_disabled(request, obj)

    def _history_manager(self):
        return getattr(self.model, self.model._meta.simple_history_manager_attribute)

    def _history_visible(self, request, object_id) -> bool:
        # simple-history looks the id up unchecked: "abc" would be a 500, not a 404.
        if not is_valid_pk(self.model, object_id):
            return False
        if self.get_queryset(request).filter(pk=object_id).exists():
            return True
        if self.model._default_manager.filter(pk=object_id).exists():
            return False  # it exists, outside what this user may see
        rows = self._history_manager().filter(**{self.model._meta.pk.attname: object_id})
        return scope_queryset(request.user, rows).exists()

    def get_history_queryset(self, request, history_manager, pk_name, object_id):
        return scope_queryset(request.user, super().get_history_queryset(request, history_manager, pk_name, object_id))

    def history_view(self, request, object_id, extra_context=None):
        if not self._history_visible(request, unquote(object_id)):
            raise Http404(_("No such object."))
        return super().history_view(request, object_id, extra_context)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        history = self._history_manager()
        if not self._history_visible(request, unquote(object_id)) or not is_valid_pk(history.model, version_id):
            raise Http404(_("No such object."))
        version = history.filter(**{self.model._meta.pk.attname: unquote(object_id), "history_id": version_id})
        if not scope_queryset(request.user, version).exists():
            raise Http404(_("No such version."))
        if request.method == "POST":
            current = self.get_object(request, unquote(object_id))
            if (
                current is None
                or not self.history_revert_allowed
                or not self.has_change_permission(request, current)
                or self.revert_disabled(request, current)
            ):
                raise PermissionDenied
            request._history_revert_current = current
        return super().history_form_view(request, object_id, version_id, extra_context)

    def save_model(self, request, obj, form, change):
        """A revert brings back only what the form lets a user edit.

        Fields outside the form (moving-average cost, status, timestamps, …) are
        owned by services; the old version's values must not overwrite them.
        """
        current = getattr(request, "_history_revert_current", None)
        if current is not None and change:
            editable = set(form.fields)
            for field in obj._meta.concrete_fields:
                if field.name not in editable and not field.primary_key:
                    setattr(obj, field.attname, getattr(current, field.attname))
        super().save_model(request, obj, form, change)


# ---------------------------------------------------------------------------
# Import / export


def import_template_dataset(resource) -> tablib.Dataset:
    """The resource's import headers and its ``import_example`` row."""
    headers = [field.column_name for field in resource.get_import_fields() if not field.readonly]
    example = getattr(resource, "import_example", {})
    dataset = tablib.Dataset(headers=headers)
    dataset.append([example.get(header, "") for header in headers])
    return dataset


IMPORT_TEMPLATE_ACTIONS = {
    "title": _("Import template"),
    "icon": "download",
    "items": ["import_template_csv", "import_template_xlsx"],
}


class ImportExportAdminMixin(SafeImportAdminMixin, StreamedExportMixin, ImportExportModelAdmin):
    """import-export with Unfold forms; imports are all-or-nothing, uploads safe.

    Uploads are read within the limits and confirmed through a server-side
    preview token (``SafeImportAdminMixin``, ``backoffice.imports``). Exports
    are streamed, typed and formula-safe (``StreamedExportMixin``,
    ``backoffice.exports``).

    The preview (dry run) lists every bad row with its number, column and
    reason, and offers no confirm button while any row is bad. The confirm
    step rolls back on any error too (data may have changed in between).
    Resources marked ``bulk_import = True`` (products) are validated and written
    in bulk with their history (``backoffice.bulk_import``); the others are
    saved row by row. Either way history records the user.
    """

    import_form_class = ImportForm
    export_form_class = ExportForm
    # Classes, not the dotted strings of settings.IMPORT_FORMATS (import-export calls each entry).
    import_formats = [base_formats.CSV, base_formats.XLSX]
    export_formats = [base_formats.CSV, base_formats.XLSX]
    actions_list = [IMPORT_TEMPLATE_ACTIONS]

    def process_result(self, result, request):
        if result.has_errors() or result.has_validation_errors():
            bad_rows = sorted({row.number for row in result.error_rows} | {row.number for row in result.invalid_rows})
            self.message_user(
                request,
                _("Nothing was imported: rows %(rows)s are invalid. Upload the file again to see why.")
                % {"rows": ", ".join(str(n) for n in bad_rows) or "-"},
                level=messages.ERROR,
            )
            opts = self.model._meta
            return HttpResponseRedirect(reverse(f"admin:{opts.app_label}_{opts.model_name}_import"))
        return super().process_result(result, request)

    def _import_template_response(self, request, file_format: type[base_formats.Format]) -> HttpResponse:
        resource_class = self.get_import_resource_classes(request)[0]
        resource = resource_class(**self.get_import_resource_kwargs(request))
        data = file_format().export_data(import_template_dataset(resource))
        response = HttpResponse(data, content_type=file_format().get_content_type())
        filename = f"{self.model._meta.model_name}_import_template.{file_format().get_extension()}"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response

    @action(description=_("CSV template"), icon="csv", permissions=["import"], url_path="import-template-csv")
    def import_template_csv(self, request):
        return self._import_template_response(request, base_formats.CSV)

    @action(description=_("Excel template"), icon="table_view", permissions=["import"], url_path="import-template-xlsx")
    def import_template_xlsx(self, request):
        return self._import_template_response(request, base_formats.XLSX)


def saved_fields(obj, *, exclude: Iterable[str]) -> list[str]:
    """Concrete non-pk field names to save, leaving out counters other code maintains."""
    skip = set(exclude)
    return [f.name for f in obj._meta.concrete_fields if not f.primary_key and f.name not in skip]
