"""Base classes of the ``/api/v1/`` viewsets: pagination, deactivating deletes, ETags, the base viewset and
the id-or-code reference field (apart from ``backoffice.api``, which DRF's settings import while loading)."""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
from decimal import Decimal

from django.core.exceptions import FieldDoesNotExist
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError, RestrictedError
from django.utils.dateparse import parse_datetime
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema_field
from rest_framework import filters, mixins, permissions, serializers, status, viewsets
from rest_framework.pagination import CursorPagination, PageNumberPagination
from rest_framework.response import Response
from rest_framework.settings import ISO_8601, api_settings

from backoffice.admin_tools import KeyedSearchMixin, leads_an_index
from backoffice.api import PreconditionFailed, ScopedQuerysetMixin
from backoffice.history import save_with_user
from backoffice.limits import MAX_SEARCH_LENGTH, MAX_SEARCH_TERMS

MAX_PAGE_SIZE = 200


# Pagination ---------------------------------------------------------------------------------------


class PageNumberPages(PageNumberPagination):
    """``?page=`` and ``?page_size=`` (at most 200; 50 by default)."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE


class LedgerCursorPages(CursorPagination):
    """Cursor pages for tables that grow without bound: no ``COUNT(*)``, stable under inserts."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE
    ordering = ("-created_at", "-id")


# Filtering ----------------------------------------------------------------------------------------

#: Query parameters read by pagination, search and ordering, never by a FilterSet.
NOT_FILTER_PARAMS = frozenset({"page", "page_size", "cursor", "search", "ordering", "format"})


class FilterBackend(DjangoFilterBackend):
    """django-filter's backend, skipped when the request has no filter parameter at all: a FilterSet without
    data filters nothing, but building its form costs about a tenth of a page-of-50 list request."""

    def filter_queryset(self, request, queryset, view):
        if NOT_FILTER_PARAMS.issuperset(request.query_params.keys()):
            return queryset
        return super().filter_queryset(request, queryset, view)


class KeyedSearchFilter(filters.SearchFilter):
    """``?search=`` as DRF's ``SearchFilter`` (each word in one of ``search_fields``, any case; words split on
    spaces and commas, quotes keep a phrase) through the admin's keyed search
    (``backoffice.admin_tools.KeyedSearchMixin.keyed_search``): a field on a related table is searched on that
    table and the list narrowed by its keys, a word found in every related row adds no condition. Same rows
    as DRF's join (the API searches no to-many relation; ``tests/api/test_api_search.py``), without reading the
    whole join on a big table: sales orders "customer 12" over 200,000 orders 233 → 128 ms a page, products
    "product 12" 82 → 23 ms (``benchmarks/pages.py --match API``, PostgreSQL).

    A search of more than ``MAX_SEARCH_TERMS`` words or ``MAX_SEARCH_LENGTH`` characters is a 400 (a
    1,500-word search was a 500 on SQLite: "Expression tree is too large")."""

    def filter_queryset(self, request, queryset, view):
        search_fields = self.get_search_fields(view, request)
        if not search_fields:
            return queryset
        too_long = len(request.query_params.get(self.search_param, "")) > MAX_SEARCH_LENGTH
        terms = [] if too_long else self.get_search_terms(request)  # a huge text is refused before it is split
        if too_long or len(terms) > MAX_SEARCH_TERMS:
            raise serializers.ValidationError(
                {
                    self.search_param: [
                        f"A search may have at most {MAX_SEARCH_TERMS} words and {MAX_SEARCH_LENGTH} characters."
                    ]
                }
            )
        if not terms:
            return queryset
        fields = [str(field) for field in search_fields]
        if any(field[0] in "@$" for field in fields):  # full-text and regex searches: DRF's own
            return super().filter_queryset(request, queryset, view)
        ordered = not request.query_params.get("ordering") and leads_an_index(
            queryset.model, queryset.query.order_by or getattr(view, "ordering", None) or queryset.model._meta.ordering
        )
        # The mixin holds no model-admin state: ``keyed_search`` works on any instance of it.
        queryset, may_repeat = KeyedSearchMixin().keyed_search(queryset, fields, terms, ordered_by_index=ordered)
        return queryset.distinct() if may_repeat else queryset


# Lean lists ---------------------------------------------------------------------------------------


class LeanRows:
    """A flat ``ModelSerializer``'s list representation read with ``.values()``: the very JSON the serializer
    gives (each value through the serializer field's own ``to_representation``, keys in its order) without a
    model instance and a pass over the serializer's fields per row — about 5× less Python per page of 50.

    ``for_list`` returns None for what it cannot represent exactly — nested serializers, method fields, a custom
    ``to_representation``, properties, a nullable relation on the way to a value, ``DISTINCT`` — and the list
    then uses the serializer as usual.
    """

    _compiled: dict = {}

    def __init__(self, names: list[str], lookups: list[str], fields: list):
        self.names, self.lookups, self.fields = names, lookups, fields

    @classmethod
    def for_list(cls, serializer_class, queryset) -> LeanRows | None:
        if queryset.query.distinct:
            return None
        key = (serializer_class, queryset.model, frozenset(queryset.query.annotations))
        if key not in cls._compiled:
            cls._compiled[key] = cls._compile(serializer_class, queryset.model, set(queryset.query.annotations))
        return cls._compiled[key]

    @classmethod
    def _compile(cls, serializer_class, model, annotations: set[str]) -> LeanRows | None:
        meta = getattr(serializer_class, "Meta", None)
        if (
            not issubclass(serializer_class, serializers.ModelSerializer)
            or serializer_class.to_representation is not serializers.Serializer.to_representation
            or serializer_class.__init__ is not serializers.BaseSerializer.__init__
            or serializer_class.get_fields is not serializers.ModelSerializer.get_fields
            or getattr(meta, "list_serializer_class", None) is not None
            or getattr(meta, "model", None) is not model
        ):
            return None
        names, lookups, fields = [], [], []
        for name, field in serializer_class().fields.items():
            if field.write_only:
                continue
            found = cls._column(field, model, annotations)
            if found is None:
                return None
            names.append(name)
            lookups.append(found[0])
            fields.append(found[1])
        return cls(names, lookups, fields)

    @staticmethod
    def _column(field, model, annotations: set[str]):
        """(values() lookup, the field) of a serializer field (None for a relation given by its id), or None when
        it is not a plain column."""
        unsupported = serializers.BaseSerializer | serializers.SerializerMethodField | serializers.FileField
        if isinstance(field, unsupported) or field.source == "*":
            return None
        parts = field.source.split(".")
        if len(parts) == 1 and parts[0] in annotations:
            return parts[0], field
        current = model
        for part in parts[:-1]:  # non-null foreign keys only: a null one makes DRF skip or default the field
            try:
                step = current._meta.get_field(part)
            except FieldDoesNotExist:
                return None
            if not (step.many_to_one and step.concrete) or step.null:
                return None
            current = step.related_model
        try:
            target = current._meta.get_field(parts[-1])
        except FieldDoesNotExist:
            return None
        if not target.concrete or target.many_to_many or target.one_to_many:
            return None
        lookup = "__".join(parts)
        if target.is_relation:  # a foreign key, represented by its id
            is_pk = isinstance(field, IdOrCodeField) or (
                isinstance(field, serializers.PrimaryKeyRelatedField) and field.pk_field is None
            )
            return (lookup, None) if is_pk else None
        return lookup, field

    @staticmethod
    def _converter(field):
        """``field.to_representation``, or a shortcut giving the same result for the common cases (the time
        zone and the decimal context read once per list, as DRF would read them for each value)."""
        method = field.to_representation
        if type(field).to_representation is serializers.CharField.to_representation:
            return str
        if type(field).to_representation is serializers.IntegerField.to_representation:
            return int
        if (
            type(field) is serializers.DateTimeField
            and str(getattr(field, "format", api_settings.DATETIME_FORMAT)).lower() == ISO_8601
        ):
            zone = field.timezone if hasattr(field, "timezone") else field.default_timezone()
            if zone is None:
                return method

            def moment(value):
                if not isinstance(value, dt.datetime) or value.utcoffset() is None:
                    return method(value)
                try:
                    text = value.astimezone(zone).isoformat()
                except OverflowError:
                    return method(value)
                return text[:-6] + "Z" if text.endswith("+00:00") else text

            return moment
        if (
            type(field) is serializers.DecimalField
            and field.decimal_places is not None
            and getattr(field, "coerce_to_string", api_settings.COERCE_DECIMAL_TO_STRING)
            and not field.localize
        ):
            exponent, rounding = Decimal(".1") ** field.decimal_places, field.rounding
            context = decimal.getcontext().copy()
            if field.max_digits is not None:
                context.prec = field.max_digits

            def amount(value):
                if not isinstance(value, Decimal):
                    return method(value)
                return f"{value.quantize(exponent, rounding=rounding, context=context):f}"

            return amount
        return method

    def values(self, queryset, ordering=()):
        """The queryset's rows as dicts of the needed columns (plus ``ordering``'s, for cursor pages)."""
        extra = [name.lstrip("-") for name in ordering if name.lstrip("-") not in self.lookups]
        return queryset.prefetch_related(None).values(*dict.fromkeys([*self.lookups, *extra]))

    def represent(self, rows) -> list[dict]:
        converters = [None if field is None else self._converter(field) for field in self.fields]
        columns = list(zip(self.names, self.lookups, converters, strict=True))
        return [
            {
                name: None if (value := row[lookup]) is None else (value if convert is None else convert(value))
                for name, lookup, convert in columns
            }
            for row in rows
        ]


class ListMixin(mixins.ListModelMixin):
    """DRF's list, through ``LeanRows`` when the serializer allows it (same JSON, less Python)."""

    def list(self, request, *args, **kwargs):
        queryset = self.filter_queryset(self.get_queryset())
        lean = LeanRows.for_list(self.get_serializer_class(), queryset)
        if lean is None:
            page = self.paginate_queryset(queryset)
            if page is not None:
                return self.get_paginated_response(self.get_serializer(page, many=True).data)
            return Response(self.get_serializer(queryset, many=True).data)
        paginator = self.paginator
        ordering = paginator.get_ordering(request, queryset, self) if isinstance(paginator, CursorPagination) else ()
        rows = lean.values(queryset, ordering)
        page = self.paginate_queryset(rows)
        if page is not None:
            return self.get_paginated_response(lean.represent(page))
        return Response(lean.represent(rows))


# Viewsets -----------------------------------------------------------------------------------------


class DeactivateOnDeleteMixin:
    """``DELETE`` of a record still referenced (stock, documents) sets it inactive instead: 200
    ``{"code": "deactivated", ...}``. An unreferenced record is deleted for real: 204."""

    def perform_destroy(self, instance):
        try:
            with transaction.atomic():
                instance._history_user = self.request.user
                instance.delete()
        except (ProtectedError, RestrictedError, IntegrityError) as error:
            if not hasattr(instance, "is_active"):
                raise
            instance.refresh_from_db()
            if instance.is_active:
                instance.is_active = False
                fields = ["is_active", *(["updated_at"] if hasattr(instance, "updated_at") else [])]
                save_with_user(instance, self.request.user, update_fields=fields)
            holders = []
            if isinstance(error, ProtectedError | RestrictedError):
                objs = error.protected_objects if isinstance(error, ProtectedError) else error.restricted_objects
                holders = sorted({str(obj._meta.verbose_name) for obj in objs})
            return holders
        return None

    def destroy(self, request, *args, **kwargs):
        instance = self.get_object()
        holders = self.perform_destroy(instance)
        if holders is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        used = ", ".join(holders) or "other records"
        return Response(
            {
                "code": "deactivated",
                "detail": f"{instance} is still used by {used}: it was deactivated instead of deleted.",
                "id": instance.pk,
                "is_active": False,
                "used_by": holders,
            },
            status=status.HTTP_200_OK,
        )


def etag_for(updated_at, pk) -> str:
    moment = parse_datetime(updated_at) if isinstance(updated_at, str) else updated_at
    return f'W/"{pk}-{int(moment.timestamp() * 1_000_000)}"'


class ETagMixin:
    """Documents: ``ETag`` on every response carrying the document; ``If-Match`` (optional) on writes
    to it — a stale one is a 412 ``precondition_failed`` and nothing is written."""

    def get_object(self):
        obj = super().get_object()
        if self.request.method not in ("GET", "HEAD", "OPTIONS"):
            wanted = self.request.headers.get("If-Match")
            if wanted:
                current = etag_for(obj.updated_at, obj.pk)
                candidates = {tag.strip() for tag in wanted.split(",")}
                bare = {tag.removeprefix("W/") for tag in candidates}
                if "*" not in candidates and current.removeprefix("W/") not in bare:
                    raise PreconditionFailed()
        return obj

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        data = getattr(response, "data", None)
        if (
            isinstance(data, dict)
            and response.status_code < 300
            and data.get("updated_at")
            and data.get("id")
            and "results" not in data
        ):
            with contextlib.suppress(TypeError, ValueError, AttributeError):
                response["ETag"] = etag_for(data["updated_at"], data["id"])
        return response


class ApiViewSet(ScopedQuerysetMixin, viewsets.GenericViewSet):
    """Base of every ``/api/v1/`` viewset: scoped rows, django-filter + search + ordering, page numbers.

    ``action_permissions`` maps an extra action to the permissions it needs on top of the model's
    ``view`` permission (``backoffice.permissions.ModelPermissions``), e.g.
    ``{"confirm": ["orders.confirm_salesorder"]}`` — the same permissions the admin checks.
    """

    pagination_class = PageNumberPages
    filter_backends = [
        FilterBackend,
        KeyedSearchFilter,
        filters.OrderingFilter,
    ]
    action_permissions: dict[str, list[str]] = {}
    _writing = False

    def get_object(self):
        """The object of a write is looked up without the list's ``prefetch_related`` (lines...): the services
        lock and read it again by pk, and ``respond_with`` reads it for the answer."""
        if self.request.method in permissions.SAFE_METHODS:
            return super().get_object()
        self._writing = True
        try:
            return super().get_object()
        finally:
            self._writing = False

    def get_queryset(self):
        queryset = super().get_queryset()
        return queryset.prefetch_related(None) if self._writing else queryset

    def respond_with(self, instance, status_code: int = status.HTTP_200_OK, *, serializer_class=None, queryset=None):
        """The answer to a write or an action: ``instance`` read again (fresh totals, lines, status) through
        ``queryset`` (default: the viewset's scoped one, with its ``select_related``/``prefetch_related``) and
        represented by ``serializer_class`` (default: the viewset's)."""
        queryset = self.get_queryset() if queryset is None else queryset
        serializer_class = serializer_class or self.get_serializer_class()
        instance = queryset.get(pk=instance.pk)
        return Response(serializer_class(instance, context=self.get_serializer_context()).data, status=status_code)


class CatalogueViewSet(
    DeactivateOnDeleteMixin,
    ListMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    ApiViewSet,
):
    """Master data (products, warehouses, customers...): list, read, create, update; ``DELETE`` deactivates
    what is still referenced."""

    http_method_names = ["get", "post", "put", "patch", "delete", "head", "options"]


# Fields -------------------------------------------------------------------------------------------


@extend_schema_field({"oneOf": [{"type": "integer"}, {"type": "string"}], "description": "An id or a code."})
class IdOrCodeField(serializers.Field):
    """A reference given as the row's id (a JSON number) or its code (a JSON string: SKU, customer or
    warehouse code), resolved within ``queryset(request)`` — so another warehouse is "not found"."""

    default_error_messages = {
        "not_found": "No {name} with {kind} {value!r} (or not visible to you).",
        "invalid": "Give an id (a number) or a {code_field} (a string).",
    }

    def __init__(self, *, model, code_field: str, queryset=None, **kwargs):
        self.model, self.code_field, self.queryset_for = model, code_field, queryset
        super().__init__(**kwargs)

    def _queryset(self):
        request = self.context.get("request")
        if self.queryset_for is not None:
            return self.queryset_for(request)
        return self.model.objects.all()

    def to_internal_value(self, data):
        name = self.model._meta.verbose_name
        if isinstance(data, bool) or not isinstance(data, int | str):
            self.fail("invalid", code_field=self.code_field)
        if isinstance(data, int):
            if not -(2**63) < data < 2**63:
                self.fail("not_found", name=name, kind="id", value=data)
            lookup, kind = {"pk": data}, "id"
        else:
            if not data.strip() or len(data) > 200:
                self.fail("invalid", code_field=self.code_field)
            lookup, kind = {f"{self.code_field}__iexact": data.strip()}, self.code_field
        found = self._queryset().filter(**lookup).first()
        if found is None:
            self.fail("not_found", name=name, kind=kind, value=data)
        return found

    def to_representation(self, value):
        return value.pk
