"""The admin side of the export path for django-import-export model admins.

``StreamedExportMixin`` keeps import-export's export page (the Unfold form
with its format choice, the current filters and search, the "export
selected" action) and its resources (the same columns and headers, so an
export re-imports unchanged), but the file is written by
``backoffice.exports``: streamed, typed and formula-safe, never built in
memory as a ``tablib.Dataset``.

The override points are import-export's own: ``get_data_for_export`` returns
a lazy ``ResourceExport`` (columns + row iterator) instead of a dataset, so
an admin that narrows or replaces the queryset there (the order admins
export one row per order line) keeps working unchanged; ``_do_file_export``
turns it into the download response — or, above ``EXPORT_SYNC_MAX_ROWS`` rows,
into a background ``ExportJob`` (``backoffice.export_jobs``): the user is sent
to the Exports page and gets an e-mail with the link when the file is ready.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from django.contrib import messages
from django.core.exceptions import FieldDoesNotExist, PermissionDenied
from django.db import models
from django.db.models import QuerySet
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from import_export import widgets
from import_export.admin import ExportMixin
from import_export.formats import base_formats
from import_export.signals import post_export
from unfold.contrib.import_export.forms import ExportForm

from backoffice import export_jobs, exports
from backoffice.exports import Column

_INTEGER_FIELDS = (models.IntegerField, models.AutoField)  # Positive*/Small*/Big* are IntegerField subclasses


def model_field_at(model, attribute: str | None):
    """The model field an import-export ``attribute`` path (``order__customer__code``) ends on, or None."""
    if not attribute:
        return None
    field = None
    for part in attribute.split("__"):
        if model is None:
            return None
        try:
            field = model._meta.get_field(part)
        except FieldDoesNotExist:
            return None
        model = field.related_model if field.is_relation else None
    return field


def decimal_type(field: models.Field | None) -> str:
    """Percent for percentages (``discount %``, ``tax_rate``), money for the other decimals of this app."""
    if field is None:
        return exports.DECIMAL
    name, label = field.name, str(field.verbose_name or "")
    if "%" in label or name.endswith(("percent", "_rate")):
        return exports.PERCENT
    return exports.MONEY


def type_of_model_field(field: models.Field | None) -> str:
    if field is None or field.is_relation or getattr(field, "choices", None):
        return exports.TEXT
    if isinstance(field, models.BooleanField):
        return exports.BOOL
    if isinstance(field, _INTEGER_FIELDS):
        return exports.INTEGER
    if isinstance(field, models.DecimalField):
        return decimal_type(field)
    if isinstance(field, models.FloatField):
        return exports.DECIMAL
    if isinstance(field, models.DateTimeField):
        return exports.DATETIME
    if isinstance(field, models.DateField):
        return exports.DATE
    return exports.TEXT


def column_type(resource, field) -> str:
    """The export type of a resource field: declared, else from its widget, else from the model field."""
    declared = getattr(resource, "export_column_types", {}).get(field.column_name)
    if declared:
        return declared
    if _dehydrate(resource, field) is not None:
        return exports.AUTO
    widget = field.widget
    model_field = model_field_at(resource._meta.model, field.attribute)
    if isinstance(widget, widgets.ForeignKeyWidget | widgets.ManyToManyWidget):
        return exports.TEXT
    if isinstance(widget, widgets.BooleanWidget):
        return exports.BOOL
    if isinstance(widget, widgets.IntegerWidget):
        return exports.INTEGER
    if isinstance(widget, widgets.DecimalWidget):
        return decimal_type(model_field)
    if isinstance(widget, widgets.FloatWidget):
        return exports.DECIMAL
    if isinstance(widget, widgets.DateTimeWidget):
        return exports.DATETIME
    if isinstance(widget, widgets.DateWidget):
        return exports.DATE
    if type(widget) in (widgets.Widget, widgets.CharWidget):
        if model_field is None and field.attribute:
            return exports.AUTO  # a property: its value's type decides
        return type_of_model_field(model_field)
    return exports.TEXT


def _dehydrate(resource, field):
    method = field.get_dehydrate_method(resource.get_field_name(field))
    return method if callable(method) else getattr(resource, method, None)


def number_format(resource, field, kind: str) -> str:
    """Money with more than two decimals (prices, costs) shows them: ``#,##0.00##``."""
    model_field = model_field_at(resource._meta.model, field.attribute)
    if kind == exports.MONEY and getattr(model_field, "decimal_places", 2) > 2:
        return "#,##0.00" + "#" * (model_field.decimal_places - 2)
    return ""


class ResourceExport:
    """An import-export resource's export as typed columns and a lazy row iterator.

    ``before_export`` and ``filter_export`` run as import-export runs them;
    ``after_export`` (which receives a whole dataset) is not called: no rows are
    ever held together.
    """

    def __init__(self, resource, queryset: QuerySet, *, export_fields: list[str] | None = None, **kwargs: Any):
        self.resource = resource
        resource.before_export(queryset, **kwargs)
        self.queryset = resource.filter_export(queryset, **kwargs)
        self.fields = [field for field in resource.get_export_fields(export_fields) if field is not None]
        self.columns: list[Column] = []
        self._getters: list[Callable[[Any], Any]] = []
        # Readable headers ("Sale price") where the resource has them; its import reads them back.
        label = getattr(resource, "column_label", str)
        for field in self.fields:
            kind = column_type(resource, field)
            self.columns.append(
                Column(field.column_name, label(field.column_name), kind, number_format(resource, field, kind))
            )
            self._getters.append(self._getter(field, kind))
        # Every column a plain database value (the usual case): read rows as tuples, no model instances.
        paths = [self._value_path(field, column.type) for field, column in zip(self.fields, self.columns, strict=True)]
        self._paths = paths if paths and None not in paths else None

    def _value_path(self, field, kind: str) -> str | None:
        """The ``values_list`` path giving exactly what the getter would, or None when a model instance is needed."""
        resource, model = self.resource, self.resource._meta.model
        if not field.attribute or _dehydrate(resource, field) is not None:
            return None
        path = field.attribute
        widget = field.widget
        if isinstance(widget, widgets.ForeignKeyWidget):
            renders_field = type(widget).render is widgets.ForeignKeyWidget.render
            if not renders_field or widget.use_natural_foreign_keys or widget.key_is_id:
                return None
            path = f"{path}__{widget.field}"
        elif kind in (exports.TEXT, exports.AUTO) and type(widget) not in (widgets.Widget, widgets.CharWidget):
            return None
        model_field = model_field_at(model, path)
        if model_field is None or model_field.is_relation or not model_field.concrete:
            return None
        return path

    def _getter(self, field, kind: str) -> Callable[[Any], Any]:
        resource = self.resource
        plain = type(field.widget) in (widgets.Widget, widgets.CharWidget) and _dehydrate(resource, field) is None
        if kind == exports.TEXT and plain:
            return field.get_value  # the widget would only ``force_str`` it; the writer does
        if kind in (exports.TEXT, exports.AUTO):
            # The resource's own rendering (natural keys of related records, dehydrate methods).
            return lambda obj: resource.export_field(field, obj)
        return field.get_value  # the typed value; the writer formats it

    def __iter__(self) -> Iterator[Sequence]:
        if self._paths is not None and isinstance(self.queryset, QuerySet):
            yield from self.queryset.values_list(*self._paths).iterator(chunk_size=exports.DEFAULT_CHUNK_SIZE)
            return
        getters = self._getters
        for obj in self._objects():
            yield [getter(obj) for getter in getters]

    def _objects(self) -> Iterator[Any]:
        queryset = self.queryset
        if isinstance(queryset, QuerySet) and not queryset._prefetch_related_lookups:
            yield from queryset.iterator(chunk_size=exports.DEFAULT_CHUNK_SIZE)
        else:
            yield from self.resource.iter_queryset(queryset)  # pages through prefetching querysets


#: the session key holding the format of the user's last export (csv / xlsx), preselected on the next export form
EXPORT_FORMAT_SESSION_KEY = "backoffice.export_format"


class StreamedExportMixin(ExportMixin):
    """import-export's admin export, written through ``backoffice.exports`` (streamed, typed, formula-safe)."""

    # Unfold's form (format choice, no per-column checkboxes); classes, not settings' dotted strings.
    export_form_class = ExportForm
    export_formats = [base_formats.CSV, base_formats.XLSX]

    def get_export_formats(self):
        """Only the formats the export path writes (every export is formula-safe)."""
        return [f for f in super().get_export_formats() if f().get_extension() in exports.FORMATS]

    def init_request_context_data(self, request, form):
        """The export form with the format this user chose last time preselected (kept in their session)."""
        remembered = request.session.get(EXPORT_FORMAT_SESSION_KEY)
        if remembered and "format" in form.fields and not form.is_bound:
            for index, file_format in enumerate(self.get_export_formats()):
                if file_format().get_extension() == remembered:
                    form.initial["format"] = str(index)
                    form.fields["format"].initial = str(index)
        return super().init_request_context_data(request, form)

    def get_data_for_export(self, request, queryset, **kwargs):
        export_form = kwargs.get("export_form")
        resource_class = self.choose_export_resource_class(export_form, request)
        resource = resource_class(**self.get_export_resource_kwargs(request, **kwargs))
        export_fields = self.get_export_resource_fields_from_form(export_form)
        return ResourceExport(resource, queryset, export_fields=export_fields, **kwargs)

    def get_export_data(self, file_format, request, queryset, **kwargs):
        """The whole file as bytes (for callers that want it; the admin view streams instead)."""
        if not self.has_export_permission(request):
            raise PermissionDenied
        data = self.get_data_for_export(request, queryset, **kwargs)
        buffer = io.BytesIO()
        exports.write_export(data, data.columns, file_format.get_extension(), buffer, title=self.export_title())
        return buffer.getvalue()

    def get_export_filename(self, request, queryset, file_format):
        return exports.export_filename(str(self.model._meta.verbose_name_plural), file_format.get_extension())

    def export_title(self) -> str:
        return str(self.model._meta.verbose_name_plural).capitalize()

    def _do_file_export(self, file_format, request, queryset, export_form=None):
        if not self.has_export_permission(request):
            raise PermissionDenied
        request.session[EXPORT_FORMAT_SESSION_KEY] = file_format.get_extension()  # preselected next time
        data = self.get_data_for_export(request, queryset, export_form=export_form)
        if export_jobs.is_big(data.queryset):
            return self._background_export(request, file_format)
        response = exports.export_response(
            data,
            data.columns,
            file_format.get_extension(),
            self.get_export_filename(request, queryset, file_format),
            title=self.export_title(),
        )
        post_export.send(sender=None, model=self.model)
        return response

    def _background_export(self, request, file_format):
        """Too many rows for one request: written by a task; the user is sent to the Exports page."""
        job = export_jobs.export_job_queue(model_admin=self, request=request, file_format=file_format.get_extension())
        url = reverse("admin:backoffice_exportjob_change", args=[job.pk])
        messages.info(
            request,
            format_html(
                _(
                    "Your export of more than {limit} rows is being prepared. It will be listed under "
                    '<a href="{url}" class="underline">Exports</a>, and you will get an e-mail when it is ready.'
                ),
                limit=f"{export_jobs.sync_max_rows():,}",
                url=url,
            ),
        )
        return HttpResponseRedirect(url)
