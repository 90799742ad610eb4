"""API plumbing shared by every app: the root router, the error handler and the JSON parser."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import ProtectedError, RestrictedError
from rest_framework import parsers, status
from rest_framework.exceptions import ParseError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from backoffice.errors import BusinessError
from backoffice.limits import MAX_JSON_DEPTH
from backoffice.scoping import scope_queryset


def exception_handler(exc, context):
    """Business errors become 400/409 JSON with a machine-readable ``code``.

    Deleting a record that others still point to (a product with stock, a
    category with products) is a 409 ``protected`` naming what holds it.
    """
    if isinstance(exc, BusinessError):
        return Response(exc.as_dict(), status=exc.http_status)
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        return Response({"code": "invalid", "detail": detail}, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, ProtectedError | RestrictedError):
        holders = exc.protected_objects if isinstance(exc, ProtectedError) else exc.restricted_objects
        kinds = sorted({str(obj._meta.verbose_name) for obj in holders})
        return Response(
            {
                "code": "protected",
                "detail": f"This record is still used by {', '.join(kinds)} and cannot be deleted.",
                "data": {"used_by": kinds},
            },
            status=status.HTTP_409_CONFLICT,
        )
    return drf_exception_handler(exc, context)


def _depth(data) -> int:
    """Nesting depth of parsed JSON, without recursion."""
    deepest, stack = 0, [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            deepest = max(deepest, depth)
            if depth > MAX_JSON_DEPTH:
                break
            stack.extend((item, depth + 1) for item in (value.values() if isinstance(value, dict) else value))
    return deepest


class JSONParser(parsers.JSONParser):
    """DRF's parser, refusing bodies nested deeper than ``MAX_JSON_DEPTH`` with a 400.

    100,000 nested brackets made Python's decoder raise ``RecursionError`` (a 500).
    """

    def parse(self, stream, media_type=None, parser_context=None):
        too_deep = ParseError(f"JSON parse error - nested deeper than {MAX_JSON_DEPTH} levels.")
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise too_deep from None
        if _depth(data) > MAX_JSON_DEPTH:
            raise too_deep
        return data


class ScopedQuerysetMixin:
    """A viewset's rows narrowed by ``backoffice.scoping.scope_queryset``: lists, filters and
    detail (another warehouse's record is a 404, like one that does not exist).

    Put it first in the bases of every viewset; the scoping check names a
    viewset of a warehouse-bound model that lacks it.
    """

    def get_queryset(self):
        return scope_queryset(self.request.user, super().get_queryset())
