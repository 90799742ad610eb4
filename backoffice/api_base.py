"""Base classes of the ``/api/v1/`` viewsets: pagination, deactivating deletes, ETags, the base viewset and
the id-or-code reference field (apart from ``backoffice.api``, which DRF's settings import while loading)."""

from __future__ import annotations

import contextlib

from django.db import IntegrityError, transaction
from django.db.models import ProtectedError, RestrictedError
from django.utils.dateparse import parse_datetime
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema_field
from rest_framework import filters, serializers, status, viewsets
from rest_framework.pagination import CursorPagination, PageNumberPagination
from rest_framework.response import Response

from backoffice.api import PreconditionFailed, ScopedQuerysetMixin
from backoffice.history import save_with_user

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
        DjangoFilterBackend,
        filters.SearchFilter,
        filters.OrderingFilter,
    ]
    action_permissions: dict[str, list[str]] = {}


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
