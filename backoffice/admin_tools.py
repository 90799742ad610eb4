"""Admin building blocks shared by every app (Unfold + import-export + simple-history).

* ``BusinessErrorAdminMixin`` turns a ``BusinessError`` raised while saving or
  running an action into an admin error message (never a 500);
* ``workflow_redirect`` / ``confirm_dialog`` / ``status_badge`` are the pieces of
  a workflow button on the change form (Unfold ``actions_detail``);
* ``WarehouseScopedAdminMixin`` limits Warehouse-role users to the warehouses
  they staff;
* ``SafeHistoryAdminMixin`` stops a revert that the user may not make;
* ``ImportExportAdminMixin`` is import-export with Unfold forms, all-or-nothing
  imports and a downloadable import template per resource.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import tablib
from django.contrib import messages
from django.contrib.admin.utils import unquote
from django.contrib.admin.widgets import AutocompleteMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from import_export.admin import ImportExportModelAdmin
from import_export.formats import base_formats
from unfold.contrib.import_export.forms import ExportForm, ImportForm
from unfold.decorators import action, display

from backoffice.errors import BusinessError
from backoffice.roles import ADMIN, MANAGER, WAREHOUSE

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


def user_warehouse_ids(user) -> set[int] | None:
    """Warehouses a Warehouse-role user may act in; ``None`` means all of them.

    Superusers, Admins and Managers see every warehouse; so do roles other
    than Warehouse (they only read). Cached on the user for the request.
    """
    cached = getattr(user, "_backoffice_warehouse_ids", False)
    if cached is not False:
        return cached
    scope = None
    if not user.is_superuser:
        groups = set(user.groups.values_list("name", flat=True))
        if WAREHOUSE in groups and not groups & {ADMIN, MANAGER}:
            scope = set(user.warehouses.values_list("pk", flat=True))
    user._backoffice_warehouse_ids = scope
    return scope


class WarehouseScopedAdminMixin:
    """Rows and warehouse choices limited to the user's warehouses.

    ``warehouse_scope_fields``: lookups to a warehouse; a row is visible when any
    matches. ``warehouse_choice_fields``: foreign keys whose choices are limited
    (and which the user must staff to change the row).
    """

    warehouse_scope_fields: tuple[str, ...] = ("warehouse",)
    warehouse_choice_fields: tuple[str, ...] = ("warehouse",)

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        return self.scope_to_warehouses(request, queryset)

    def scope_to_warehouses(self, request, queryset: QuerySet) -> QuerySet:
        ids = user_warehouse_ids(request.user)
        if ids is None:
            return queryset
        condition = Q()
        for lookup in self.warehouse_scope_fields:
            condition |= Q(**{f"{lookup}__in": ids})
        return queryset.filter(condition)

    def may_act_on(self, request, obj) -> bool:
        ids = user_warehouse_ids(request.user)
        if ids is None or obj is None:
            return True
        return all(getattr(obj, f"{name}_id") in ids for name in self.warehouse_choice_fields)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        ids = user_warehouse_ids(request.user)
        if db_field.name in self.warehouse_choice_fields and ids is not None:
            kwargs["queryset"] = db_field.remote_field.model.objects.filter(pk__in=ids)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


# ---------------------------------------------------------------------------
# History


class SafeHistoryAdminMixin:
    """simple-history lets anyone who may *view* history POST a revert; refuse
    it unless the user may change the current object (and reverts are allowed)."""

    history_revert_allowed = True

    def revert_disabled(self, request, obj=None):
        return not self.history_revert_allowed or super().revert_disabled(request, obj)

    def history_view(self, request, object_id, extra_context=None):
        # simple-history looks the id up unchecked: "abc" would be a 500, not a 404.
        if not is_valid_pk(self.model, unquote(object_id)):
            raise Http404(_("No such object."))
        return super().history_view(request, object_id, extra_context)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if not is_valid_pk(self.model, unquote(object_id)):
            raise Http404(_("No such object."))
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


class ImportExportAdminMixin(ImportExportModelAdmin):
    """import-export with Unfold forms; imports are all-or-nothing.

    The preview (dry run) lists every bad row with its number, column and
    reason, and offers no confirm button while any row is bad. The confirm
    step rolls back on any error too (data may have changed in between).
    Rows are saved one by one (no bulk mode) so history records the user.
    """

    import_form_class = ImportForm
    export_form_class = ExportForm
    # Classes, not the dotted strings of settings.IMPORT_FORMATS (import-export calls each entry).
    import_formats = [base_formats.CSV, base_formats.XLSX]
    export_formats = [base_formats.CSV, base_formats.XLSX]
    actions_list = [IMPORT_TEMPLATE_ACTIONS]

    def get_import_data_kwargs(self, **kwargs):
        kwargs = super().get_import_data_kwargs(**kwargs)
        kwargs.setdefault("rollback_on_validation_errors", True)
        return kwargs

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
