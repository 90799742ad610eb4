"""API plumbing shared by every app: the error handler, the JSON parser, pagination and the base viewsets.

Every error of ``/api/v1/`` has one JSON shape (docs/api.md "Errors")::

    {"code": "machine_readable", "detail": "A sentence for people.", "fields": {"field": ["message"]}}

Business errors keep their extra ``data`` (the shortfalls of ``insufficient_stock``...).
"""

from __future__ import annotations

import re

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation, TooManyFieldsSent
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.db.models import ProtectedError, RestrictedError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, parsers, status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from backoffice.errors import BusinessError
from backoffice.limits import MAX_JSON_DEPTH
from backoffice.scoping import scope_queryset

# Errors -------------------------------------------------------------------------------------------


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


class PreconditionFailed(APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = "The document changed since you read it (If-Match does not match its ETag): read it again."
    default_code = "precondition_failed"


def error_body(code: str, detail: str, fields: dict | None = None, **extra) -> dict:
    return {"code": code, "detail": detail, "fields": fields or {}, **extra}


def _flatten(detail) -> str:
    if isinstance(detail, dict):
        return "; ".join(f"{key}: {_flatten(value)}" for key, value in detail.items())
    if isinstance(detail, list):
        return " ".join(_flatten(item) for item in detail)
    return str(detail)


def _protected(exc) -> Response:
    holders = exc.protected_objects if isinstance(exc, ProtectedError) else exc.restricted_objects
    kinds = sorted({str(obj._meta.verbose_name) for obj in holders})
    body = error_body(
        "protected", f"This record is still used by {', '.join(kinds)} and cannot be deleted.", data={"used_by": kinds}
    )
    return Response(body, status=status.HTTP_409_CONFLICT)


def exception_handler(exc, context):
    """Every error as ``{"code", "detail", "fields"}``; business errors as 400/403/409 with their code.

    Deleting a record that others still point to is a 409 ``protected`` naming what holds it
    (the catalogue endpoints deactivate such records instead: ``DeactivateOnDeleteMixin``).
    """
    if isinstance(exc, BusinessError):
        data = dict(exc.data)
        fields = data.get("fields") if isinstance(data.get("fields"), dict) else {}
        return Response(error_body(exc.code, exc.message, fields, data=data), status=exc.http_status)
    if isinstance(exc, DjangoValidationError):
        fields = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        return Response(error_body("invalid", _flatten(fields), fields), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, ProtectedError | RestrictedError):
        return _protected(exc)
    if isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    elif isinstance(exc, TooManyFieldsSent | SuspiciousOperation):
        exc = ParseError("The request could not be read.")
    elif isinstance(exc, IntegrityError):
        return Response(
            error_body("conflict", "The change conflicts with existing data (a duplicate or a reference)."),
            status=status.HTTP_409_CONFLICT,
        )
    elif isinstance(exc, OverflowError | ArithmeticError):
        exc = exceptions.ValidationError({"non_field_errors": ["A number is out of range."]})
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail
        fields = detail if isinstance(detail, dict) else {"non_field_errors": detail}
        response.data = error_body("invalid", "Invalid input: " + _flatten(fields), fields)
    else:
        if isinstance(exc, Http404 | DjangoPermissionDenied):
            code = "not_found" if isinstance(exc, Http404) else "permission_denied"
        elif isinstance(exc, APIException):
            codes = exc.get_codes()
            code = codes if isinstance(codes, str) else exc.default_code
        else:
            code = "error"
        detail = response.data.get("detail", "") if isinstance(response.data, dict) else response.data
        response.data = error_body(str(code), _flatten(detail))
    return response


def json_error_view(status_code: int, code: str, detail: str):
    def view(request, *args, **kwargs):
        return JsonResponse(error_body(code, detail), status=status_code)

    return view


api_not_found = json_error_view(404, "not_found", "No API endpoint at this address (see /api/schema/).")


# Parsing ------------------------------------------------------------------------------------------


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


_UNSTORABLE_TEXT = re.compile("[\x00\ud800-\udfff]")


def _has_unstorable_text(data) -> bool:
    """A NUL character or a lone surrogate in any key or string: no database text column (PostgreSQL)
    or UTF-8 encoder takes them, so they are refused at the door rather than failing at the write."""
    stack = [data]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            if _UNSTORABLE_TEXT.search(value):
                return True
        elif isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return False


def _check_size(parser_context) -> None:
    request = (parser_context or {}).get("request")
    meta = getattr(request, "META", {}) if request is not None else {}
    try:
        length = int(meta.get("CONTENT_LENGTH") or 0)
    except (TypeError, ValueError):
        length = 0
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if limit is not None and length > limit:
        raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")


class JSONParser(parsers.JSONParser):
    """DRF's parser, refusing bodies nested deeper than ``MAX_JSON_DEPTH`` with a 400 and bodies
    larger than ``DATA_UPLOAD_MAX_MEMORY_SIZE`` with a 413 (DRF reads the stream itself, bypassing
    Django's own limit).

    100,000 nested brackets made Python's decoder raise ``RecursionError`` (a 500).
    """

    def parse(self, stream, media_type=None, parser_context=None):
        _check_size(parser_context)
        too_deep = ParseError(f"JSON parse error - nested deeper than {MAX_JSON_DEPTH} levels.")
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise too_deep from None
        except ValueError as error:  # huge integers (Python's int digit limit) and similar
            raise ParseError(f"JSON parse error - {error}") from None
        if _depth(data) > MAX_JSON_DEPTH:
            raise too_deep
        if _has_unstorable_text(data):
            raise ParseError("JSON parse error - text may not contain NUL characters or unpaired surrogates.")
        return data


class ScopedQuerysetMixin:
    """A viewset's rows narrowed by ``backoffice.scoping.scope_queryset``: lists, filters and
    detail (another warehouse's record is a 404, like one that does not exist).

    Put it first in the bases of every viewset; the scoping check names a
    viewset of a warehouse-bound model that lacks it.
    """

    def get_queryset(self):
        return scope_queryset(self.request.user, super().get_queryset())
