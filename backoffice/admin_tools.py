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
  resource;
* ``LargeListAdminMixin`` (big tables): no full-table count, an estimated count on
  PostgreSQL (``EstimatedCountPaginator``: planner estimate for big results, exact
  otherwise and on SQLite; far pages read their keys first), ties broken in the sorted
  column's direction so a ``(column, id)`` index serves any page
  (``IndexFriendlyChangeList``);
* ``KeyedSearchMixin`` searches related columns through keys instead of joins.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from functools import cached_property
from typing import Any

import tablib
from django.contrib import messages
from django.contrib.admin.filters import RelatedFieldListFilter
from django.contrib.admin.utils import lookup_spawns_duplicates, unquote
from django.contrib.admin.views.main import ORDER_VAR
from django.contrib.admin.widgets import AutocompleteMixin
from django.core.cache import cache
from django.core.exceptions import EmptyResultSet, FieldDoesNotExist, PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import connection, connections
from django.db.models import Exists, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.constants import LOOKUP_SEP
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.text import smart_split, unescape_string_literal
from django.utils.translation import gettext_lazy as _
from import_export.admin import ImportExportModelAdmin
from import_export.formats import base_formats
from unfold.contrib.import_export.forms import ExportForm, ImportForm
from unfold.decorators import action, display
from unfold.views import ChangeList as UnfoldChangeList

from backoffice import admin_bounds  # noqa: F401  (bounds searches and inlines of every ModelAdmin on import)
from backoffice.admin_bounds import _tell_search_was_cut as tell_search_was_cut
from backoffice.admin_bounds import bounded_search_term
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
    """The resource's import columns under their readable headers ("Sale price"), and its made-up
    ``import_example`` row (never a real record)."""
    names = [field.column_name for field in resource.get_import_fields() if not field.readonly]
    label = getattr(resource, "column_label", lambda name: name)
    example = getattr(resource, "import_example", {})
    dataset = tablib.Dataset(headers=[label(name) for name in names])
    dataset.append([example.get(name, "") for name in names])
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


# ---------------------------------------------------------------------------
# Big lists: estimated counts, index-friendly ordering, searches through keys

#: below this many rows (estimated) a list counts exactly: a COUNT(*) of a small table is cheap
ESTIMATE_COUNT_ABOVE = 50_000
#: pages starting at this row or later read their keys first, then the rows (``EstimatedCountPaginator.page``)
DEFERRED_OFFSET = 1_000
#: a search on a related model's column narrows by at most this many keys as a literal list (else a subquery)
SEARCH_KEYS_LIMIT = 2_000
#: from this many rows (PostgreSQL) a page of a list searched through many related keys checks its rows one by
#: one (``RowByRowExists``) instead of hashing every match first; counts and estimates still hash them once
ROW_BY_ROW_ABOVE = 10_000


def estimated_row_count(queryset) -> int | None:
    """PostgreSQL's estimate of ``queryset.count()``, or None (another database, or no statistics yet).

    Unfiltered: the table's ``pg_class.reltuples`` (kept by ANALYZE/autovacuum). Filtered: the planner's
    row estimate for the query (``EXPLAIN``), which reads no rows.
    """
    if not isinstance(queryset, QuerySet):
        return None
    conn = connections[queryset.db]
    if conn.vendor != "postgresql":
        return None
    query = queryset.query
    try:
        with conn.cursor() as cursor:
            if not query.where and not query.distinct and not query.combinator:
                cursor.execute(
                    "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", [queryset.model._meta.db_table]
                )
                row = cursor.fetchone()
                estimate = row[0] if row else -1
            else:
                sql, params = queryset.order_by().values("pk").query.sql_with_params()
                cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
                plan = cursor.fetchone()[0]
                if isinstance(plan, str):
                    plan = json.loads(plan)
                estimate = int(plan[0]["Plan"]["Plan Rows"])
    except EmptyResultSet:
        return 0
    return estimate if estimate >= 0 else None


def postgresql_count(queryset) -> tuple[int, bool] | None:
    """(rows, estimated) for a list on PostgreSQL, in ONE query when the table is small: the exact
    ``COUNT(*)`` when the table's ``pg_class.reltuples`` is under ``ESTIMATE_COUNT_ABOVE`` (or it was never
    analysed); for a big table, ``reltuples`` itself when the list is unfiltered, else the planner's
    estimate (``estimated_row_count``), or the exact count when that estimate is small.
    None for other databases."""
    if not isinstance(queryset, QuerySet):
        return None
    conn = connections[queryset.db]
    if conn.vendor != "postgresql":
        return None
    query = queryset.query
    try:
        sql, params = queryset.order_by().values("pk").query.sql_with_params()
    except EmptyResultSet:
        return 0, False
    known = cache.get(_table_size_key(queryset.model, queryset.db))
    if known is not None and known >= ESTIMATE_COUNT_ABOVE:
        # Known big (a search just looked, ``_big_table``): no exact-count statement at all, whose plan
        # PostgreSQL may JIT-compile (half a second) even though it never runs the count.
        row = (known, None)
    else:
        with conn.cursor() as cursor:
            cursor.execute(
                "SELECT c.reltuples::bigint, CASE WHEN c.reltuples >= %s THEN NULL"
                f" ELSE (SELECT COUNT(*) FROM ({sql}) AS counted) END"
                " FROM pg_class c WHERE c.oid = %s::regclass",
                [ESTIMATE_COUNT_ABOVE, *params, queryset.model._meta.db_table],
            )
            row = cursor.fetchone()
    if row is None:
        return None
    reltuples, exact = row
    if exact is not None:
        return int(exact), False
    if not (query.where or query.distinct or query.combinator or query.group_by):
        return int(reltuples), True
    estimate = estimated_row_count(queryset)
    if estimate is not None and estimate >= ESTIMATE_COUNT_ABOVE:
        return estimate, True
    return queryset.count(), False


class EstimatedCountPaginator(Paginator):
    """A paginator that does not ``COUNT(*)`` a big table: on PostgreSQL, when the planner expects at least
    ``ESTIMATE_COUNT_ABOVE`` rows, ``count`` is its estimate (``estimated`` is then True); otherwise
    (smaller results, SQLite) the exact count. Pages are still read with LIMIT/OFFSET."""

    estimated = False

    @cached_property
    def count(self):
        counted = postgresql_count(self.object_list)
        if counted is not None:
            count, self.estimated = counted
            return count
        estimate = estimated_row_count(self.object_list)
        if estimate is not None and estimate >= ESTIMATE_COUNT_ABOVE:
            self.estimated = True
            return estimate
        return super().count

    def page(self, number):
        """A far page reads its keys first (an index-only walk past the skipped rows), then its rows.

        One query with OFFSET would also join the related tables and compute the annotations of every
        skipped row (50,000 of them for page 500 of the ledger)."""
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        if bottom < DEFERRED_OFFSET or not isinstance(self.object_list, QuerySet):
            return super().page(number)
        top = bottom + self.per_page
        if top + self.orphans >= self.count:
            top = self.count
        keys = list(self.object_list.values_list("pk", flat=True)[bottom:top])
        rows = {row.pk: row for row in self.object_list.order_by().filter(pk__in=keys)}
        return self._get_page([rows[key] for key in keys if key in rows], number, self)


class IndexFriendlyChangeList(UnfoldChangeList):
    """Unfold's change list whose tie-breaking keys follow the direction of the sorted column.

    Django completes an ordering with ``-pk`` (or the queryset's own ``order_by``), so sorting a column
    ascending asked for ``col ASC, id DESC``: an order no index on ``(col, id)`` yields, and the
    database sorted every row sharing the first value. ``col ASC, id ASC`` / ``col DESC, id DESC`` are
    one index scan, forwards or backwards. Only the tie-breaking keys change: rows are ordered by the
    chosen column exactly as before. Several sorted columns (``o=1.-2``) are left as given.
    """

    def get_ordering(self, request, queryset):
        ordering = super().get_ordering(request, queryset)
        chosen = self.params.get(ORDER_VAR, "")
        if not chosen or "." in chosen or len(ordering) < 2 or not isinstance(ordering[0], str):
            return ordering
        descending = ordering[0].startswith("-")
        aligned = [ordering[0]]
        for term in ordering[1:]:
            if isinstance(term, str) and term != "?":
                term = f"-{term.lstrip('-')}" if descending else term.lstrip("-")
            aligned.append(term)
        return aligned


class LargeListAdminMixin:
    """Change lists of big tables: no full-table count, an estimated count on PostgreSQL, index-friendly
    sorting (``IndexFriendlyChangeList``). The number of rows shown is exact on SQLite and small tables.
    """

    show_full_result_count = False
    paginator = EstimatedCountPaginator

    def get_changelist(self, request, **kwargs):
        return IndexFriendlyChangeList


#: a word of at most this many characters, none of them a letter, is searched case-sensitively (below)
CASELESS_WORD_MAX = 2


def _is_caseless(term: str) -> bool:
    """A short word without letters (``12``, ``7-``): no ASCII digit or punctuation mark is the upper case
    of another character, so ``UPPER(col) LIKE '%12%'`` and ``col LIKE '%12%'`` find the same rows — the
    latter without upper-casing every value (PostgreSQL's locale-aware ``UPPER`` is most of the time of a
    search by such a word). Longer words keep ``UPPER`` so the trigram indexes on ``UPPER(col)`` serve them
    (a trigram index cannot serve fewer than 3 characters anyway)."""
    return 0 < len(term) <= CASELESS_WORD_MAX and term.isascii() and not any(char.isalpha() for char in term)


def _search_lookup(field_name: str, term: str = "") -> str:
    if field_name.startswith("^"):
        return f"{field_name[1:]}__{'startswith' if _is_caseless(term) else 'istartswith'}"
    if field_name.startswith("="):
        return f"{field_name[1:]}__{'exact' if _is_caseless(term) else 'iexact'}"
    return f"{field_name}__{'contains' if _is_caseless(term) else 'icontains'}"


#: how long the size of a searched table is remembered (``_big_table``): it only picks a plan, never rows
TABLE_SIZE_CACHE_SECONDS = 600


class RowByRowExists(Exists):
    """``EXISTS`` that PostgreSQL checks row by row (an index probe per row of the outer list) instead of
    hashing the whole subquery first. Inside an ``OR`` the planner hashes a subquery for every row the
    outer scan might read, never for the first page it stops at: a word matching a tenth of a million
    order lines ("12" in SKUs) was computed in full on every search. ``OFFSET 0`` is what keeps PostgreSQL
    from turning the ``EXISTS`` into a hashed ``IN``; the rows are the same.

    Only a page (a sliced query: LIMIT) is checked row by row. Unsliced — the exact count of a list under
    ``ESTIMATE_COUNT_ABOVE`` rows, the planner's estimate, an export — it is ``whole``, the same matches as
    one semi-join (``col IN (subquery)``), which PostgreSQL hashes once: row by row, counting the 40,000
    purchase orders searched for "12" probed 170,000 order lines (seconds), hashed it reads them once."""

    def __init__(self, queryset, *, whole: Q, **kwargs):
        super().__init__(queryset, **kwargs)
        self.whole = whole

    def get_source_expressions(self):
        return [self.query, self.whole]

    def set_source_expressions(self, exprs):
        self.query, self.whole = exprs

    def as_postgresql(self, compiler, connection, **extra_context):
        if not compiler.query.is_sliced:
            sql, params = compiler.compile(self.whole)
            return f"({sql})", params
        extra_context.pop("template", None)
        return self.as_sql(compiler, connection, template="EXISTS(%(subquery)s OFFSET 0)", **extra_context)


def _table_size_key(model, using: str) -> str:
    return f"admin_tools:reltuples:{using}:{model._meta.db_table}"


def _big_table(model, using: str, rows_at_least: int | None = None) -> bool:
    """Whether ``model``'s table has at least ``rows_at_least`` rows (default ``ESTIMATE_COUNT_ABOVE``;
    PostgreSQL's ``reltuples``, remembered ``TABLE_SIZE_CACHE_SECONDS``)."""
    table = model._meta.db_table
    key = _table_size_key(model, using)
    rows = cache.get(key)
    if rows is None:
        with connections[using].cursor() as cursor:
            cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", [table])
            row = cursor.fetchone()
        rows = int(row[0]) if row else -1
        cache.set(key, rows, TABLE_SIZE_CACHE_SECONDS)
    return rows >= (ESTIMATE_COUNT_ABOVE if rows_at_least is None else rows_at_least)


def _many_keys_key(queryset, limit: int) -> str | None:
    """The cache key remembering that ``queryset`` matched more than ``limit`` rows (PostgreSQL only)."""
    if connections[queryset.db].vendor != "postgresql":
        return None
    try:
        sql, params = queryset.query.sql_with_params()
    except EmptyResultSet:
        return None
    digest = hashlib.sha256(repr((sql, params, limit)).encode()).hexdigest()
    return f"admin_tools:many-keys:{queryset.db}:{digest}"


def _keys(queryset, limit: int | None = None):
    """The keys as a literal list when few (the outer query can use its index for each), else a subquery.

    That more than ``limit`` rows matched is remembered ``TABLE_SIZE_CACHE_SECONDS`` on PostgreSQL: the next
    search by the same word (the next page, another sort or filter) goes straight to the subquery instead
    of reading ``limit + 1`` keys again (through the order lines and every product SKU, most of a "12"
    search). It only picks a plan: the subquery finds the same rows whether the matches are many or few."""
    limit = SEARCH_KEYS_LIMIT if limit is None else limit
    many_key = _many_keys_key(queryset, limit)
    if many_key is not None and cache.get(many_key):
        return queryset
    keys = list(queryset[: limit + 1])
    if len(keys) <= limit:
        return keys
    if many_key is not None:
        cache.set(many_key, True, TABLE_SIZE_CACHE_SECONDS)
    return queryset


def leads_an_index(model, ordering) -> bool:
    """Whether ``ordering`` (a list's order, e.g. ``["-received_at", "-id"]``) starts with a column some
    index leads: the primary key, a unique or ``db_index`` column, the first column of a ``Meta.indexes``
    entry. No ordering means the primary key's."""
    ordering = list(ordering or ["-pk"])
    first = ordering[0]
    if not isinstance(first, str):
        return False
    name = first.lstrip("-")
    if name == "pk":
        return True
    try:
        field = model._meta.get_field(name)
    except FieldDoesNotExist:
        return False
    if not field.concrete or field.is_relation and not field.many_to_one:
        return False
    leading = {index.fields[0].lstrip("-") for index in model._meta.indexes if index.fields}
    return field.primary_key or field.unique or field.db_index or field.name in leading


class KeyedSearchMixin:
    """``search_fields`` across relations searched through keys instead of joins.

    Django joins every related table of ``search_fields`` and ORs the conditions over the joined rows (and
    adds DISTINCT for to-many paths): on a big table no index can serve that, so each search read the
    whole join. Here a field on a related model (``customer__name``, ``lines__product__sku``) is searched
    on its own table first (where its index serves it), and the list is narrowed by the keys found
    (``customer_id IN (...)`` / ``id IN (...)``): same matches, no duplicates, each branch indexed.
    Prefixes ``^`` (starts with) and ``=`` (exact) work as in Django; each word must match some field.
    A short word without letters (``12``) is matched case-sensitively: the same rows (``_is_caseless``),
    without upper-casing every value of every searched column. A word matching many related rows ("12" in
    the SKUs of a tenth of a million order lines) on a big PostgreSQL table is checked row by row
    (``RowByRowExists``): the first page reads a few hundred orders' keys instead of every match.
    """

    @staticmethod
    def _in_every_row(model, paths: list[str], term: str) -> bool:
        """Whether ``term`` is in some of ``paths`` (fields of ``model``, ``^``/``=`` prefixed as in
        ``search_fields``) of EVERY row of ``model``, for paths that are a column of ``model`` or reached
        through required foreign keys only (so every row of ``model`` reaches one). Asked once per table
        reached, each a query that stops at the first row without the word: cheap unless the word is
        everywhere (every customer named "Scale customer …"), which is when it pays."""
        groups: dict[tuple[str, ...], list[str]] = {}
        for path in paths:
            prefix, names = path[0] if path[0] in "^=" else "", path.lstrip("^=").split(LOOKUP_SEP)
            current = model
            for name in names[:-1]:
                field = current._meta.get_field(name)
                if not (field.many_to_one and not field.null):
                    break
                current = field.related_model
            else:
                groups.setdefault(tuple(names[:-1]), []).append(prefix + names[-1])
        for route, columns in groups.items():
            target = model
            for name in route:
                target = target._meta.get_field(name).related_model
            condition = Q()
            for column in columns:
                condition |= Q(**{_search_lookup(column, term): term})
            if not target._default_manager.exclude(condition).exists():
                return True
        return False

    def _keyed_condition(
        self, model, head_name: str, fields: list[str], term: str, *, ordered_by_index: bool = True
    ) -> Q | None:
        """``term`` in any of ``fields`` (all starting with ``head_name``), as a condition on ``model``;
        None when every row of ``model`` matches (the word is in every row the required key reaches)."""
        head = model._meta.get_field(head_name)
        local = all(LOOKUP_SEP not in field.lstrip("^=") for field in fields)
        if local or not head.is_relation or head.many_to_many:
            condition = Q()
            for field in fields:  # a local column, or many-to-many: Django's join (may duplicate rows)
                condition |= Q(**{_search_lookup(field, term): term})
            return condition
        related = Q()
        for field in fields:
            prefix = field[0] if field[0] in "^=" else ""
            related |= Q(**{_search_lookup(prefix + field.lstrip("^=").split(LOOKUP_SEP, 1)[1], term): term})
        matches = head.related_model._default_manager.filter(related).order_by()
        if head.many_to_one or (head.one_to_one and head.concrete):
            keys = _keys(matches.values_list("pk", flat=True))
            if (not isinstance(keys, list) or keys) and not head.null:
                # When the word is in every related row, it is true of every row here — no condition at
                # all, rather than a semi-join PostgreSQL builds over the whole related table or a list of
                # every key of a small one ("supplier" names all 200 suppliers of the purchase orders).
                # The check stops at the first related row without the word: cheap when few match.
                paths = [
                    field[0] + field[1:].split(LOOKUP_SEP, 1)[1] if field[0] in "^=" else field.split(LOOKUP_SEP, 1)[1]
                    for field in fields
                ]
                if self._in_every_row(head.related_model, paths, term):
                    return None
            if not isinstance(keys, list) and self._row_by_row(model, matches.db, ordered_by_index):
                whole = Q(**{f"{head.attname}__in": keys})
                return Q(RowByRowExists(matches.filter(pk=OuterRef(head.attname)), whole=whole))
            return Q(**{f"{head.attname}__in": keys})
        keys = _keys(matches.values_list(head.field.attname, flat=True))
        if not isinstance(keys, list) and self._row_by_row(model, matches.db, ordered_by_index):
            whole = Q(pk__in=keys)
            return Q(RowByRowExists(matches.filter(**{head.field.attname: OuterRef("pk")}), whole=whole))
        return Q(pk__in=keys)

    @staticmethod
    def _row_by_row(model, using: str, ordered_by_index: bool = True) -> bool:
        """Many related matches on a big PostgreSQL table (``ESTIMATE_COUNT_ABOVE`` rows), or on one of
        ``ROW_BY_ROW_ABOVE`` rows whose list is in the order of an index (``ordered_by_index``): each row of a
        page is checked by its keys (``RowByRowExists``), so the first page reads a few hundred rows instead
        of every match; a count (exact under ``ESTIMATE_COUNT_ABOVE`` rows) hashes the matches once. A list
        sorted on a column without an index (receipts by ``received_at``) sorts every match: there each row
        checked one by one costs more than one hashed subquery. Elsewhere (SQLite, small tables) the matches
        are one subquery."""
        if connections[using].vendor != "postgresql":
            return False
        return _big_table(model, using) or (ordered_by_index and _big_table(model, using, ROW_BY_ROW_ABOVE))

    def _ordered_by_index(self, request, model) -> bool:
        """Whether the list is in its default order and that order starts with a column some index leads
        (``leads_an_index``): then a page walks that index and stops after a page of matches. A column the
        user sorted by: no."""
        if request.GET.get(ORDER_VAR):
            return False
        return leads_an_index(model, self.get_ordering(request) or model._meta.ordering)

    def get_search_results(self, request, queryset, search_term):
        search_fields = [str(field) for field in self.get_search_fields(request)]
        if not search_term or not search_fields or any(field.startswith("@") for field in search_fields):
            return super().get_search_results(request, queryset, search_term)
        search_term, cut = bounded_search_term(search_term)
        if cut:
            tell_search_was_cut(request)
        bits = [
            unescape_string_literal(bit) if bit.startswith(('"', "'")) and bit[0] == bit[-1] else bit
            for bit in smart_split(search_term)
        ]
        ordered_by_index = self._ordered_by_index(request, queryset.model)
        return self.keyed_search(queryset, search_fields, bits, ordered_by_index=ordered_by_index)

    def keyed_search(
        self, queryset, search_fields: list[str], bits: list[str], *, ordered_by_index: bool = True
    ) -> tuple[QuerySet, bool]:
        """``queryset`` narrowed to rows where each word of ``bits`` is in one of ``search_fields``
        (``^``/``=`` prefixes as in Django), and whether rows may repeat (many-to-many fields only).
        ``ordered_by_index``: the list is read in an index's order (see ``_row_by_row``). Used by the
        admin's lists and by the API's ``?search=`` (``backoffice.api_base.KeyedSearchFilter``)."""
        model = queryset.model
        heads = {field.lstrip("^=").split(LOOKUP_SEP)[0] for field in search_fields}
        head = model._meta.get_field(next(iter(heads))) if len(heads) == 1 else None
        if head is not None and head.is_relation and (head.many_to_one or head.one_to_many):
            # Every field is on one related table (stock levels: product sku or name): each word must match
            # one of them there, so the whole search runs on that table and narrows by the keys once.
            related = head.related_model._default_manager.order_by()
            for bit in bits:
                condition = Q()
                for field in search_fields:
                    prefix = field[0] if field[0] in "^=" else ""
                    condition |= Q(**{_search_lookup(prefix + field.lstrip("^=").split(LOOKUP_SEP, 1)[1], bit): bit})
                related = related.filter(condition)
            if head.many_to_one:
                return queryset.filter(**{f"{head.attname}__in": _keys(related.values_list("pk", flat=True))}), False
            return queryset.filter(pk__in=_keys(related.values_list(head.field.attname, flat=True))), False
        # One key query per word and related table: the fields through one relation are ORed on its table.
        by_head: dict[str, list[str]] = {}
        for field in search_fields:
            name = field.lstrip("^=").split(LOOKUP_SEP)[0]
            key = name if LOOKUP_SEP in field.lstrip("^=") else f"{name}{LOOKUP_SEP}"  # local fields apart
            by_head.setdefault(key, []).append(field)
        for bit in bits:
            condition = Q()
            for key, fields in by_head.items():
                part = self._keyed_condition(
                    model, key.split(LOOKUP_SEP)[0], fields, bit, ordered_by_index=ordered_by_index
                )
                if part is None:  # the word is in every row: it narrows nothing
                    break
                condition |= part
            else:
                queryset = queryset.filter(condition)
        may_have_duplicates = any(
            lookup_spawns_duplicates(model._meta, _search_lookup(field))
            for field in search_fields
            if model._meta.get_field(field.lstrip("^=").split(LOOKUP_SEP)[0]).many_to_many
        )
        return queryset, may_have_duplicates


class _CountOf(Subquery):
    """``(SELECT COUNT(*) FROM (<query>) AS counted)``: the number of rows of a (limited) subquery."""

    template = "(SELECT COUNT(*) FROM (%(subquery)s) AS counted)"


def count_of(queryset: QuerySet) -> Subquery:
    """An annotation counting ``queryset``'s rows per outer row (``OuterRef``), 0 when there are none.

    Cheaper than ``Count()`` over a join on a big table: no GROUP BY of the outer rows, and when
    ``queryset`` selects only an indexed column (``.values("category")``) PostgreSQL counts each outer
    row's matches from the index alone; a slice (``[:cap + 1]``) stops counting at a cap.
    """
    if not queryset.query.is_sliced:
        queryset = queryset.order_by()  # counting needs no order (a capped count keeps the one it was given)
    return _CountOf(queryset, output_field=IntegerField())
