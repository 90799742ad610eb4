"""API plumbing shared by every app: the root router and the error handler."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from backoffice.errors import BusinessError


def exception_handler(exc, context):
    """Business errors become 400/409 JSON with a machine-readable ``code``."""
    if isinstance(exc, BusinessError):
        return Response(exc.as_dict(), status=exc.http_status)
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        return Response({"code": "invalid", "detail": detail}, status=status.HTTP_400_BAD_REQUEST)
    return drf_exception_handler(exc, context)
