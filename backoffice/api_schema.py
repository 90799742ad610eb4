"""OpenAPI helpers: the error body and the error responses each endpoint documents (drf-spectacular)."""

from __future__ import annotations

from types import SimpleNamespace

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers


class ErrorSerializer(serializers.Serializer):
    """The one error shape of ``/api/v1/``."""

    code = serializers.CharField(help_text="Machine-readable: invalid, not_found, insufficient_stock, ...")
    detail = serializers.CharField(help_text="A sentence for people.")
    fields = serializers.DictField(help_text="Per-field messages (validation errors); empty otherwise.")
    data = serializers.DictField(required=False, help_text="Business errors: e.g. the shortfalls.")


_EXAMPLES = {
    400: ("invalid", "Invalid input: quantity: Ensure this value is greater than or equal to 1.", {"quantity": ["…"]}),
    401: ("not_authenticated", "Authentication credentials were not provided.", {}),
    403: ("permission_denied", "You do not have permission to perform this action.", {}),
    404: ("not_found", "No SalesOrder matches the given query.", {}),
    409: ("invalid_transition", "SO-000123 is shipped; only a draft can be confirmed.", {}),
    412: ("precondition_failed", "The document changed since you read it (If-Match does not match its ETag).", {}),
    413: ("payload_too_large", "The request body is larger than 2621440 bytes.", {}),
    415: ("unsupported_media_type", 'Unsupported media type "text/plain" in request.', {}),
}

_DESCRIPTIONS = {
    400: "Invalid input (fields name each problem) or a refused business rule (validation_failed).",
    401: "Not authenticated.",
    403: "Not permitted (role permission or field rights).",
    404: "Not found, or in a warehouse you do not see.",
    409: "Business conflict: insufficient_stock (with shortfalls), invalid_transition, credit_limit_exceeded, "
    "protected.",
    412: "If-Match does not match the current ETag.",
    413: "Body too large.",
    415: "Unsupported content type.",
}


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    return {
        code: OpenApiResponse(
            ErrorSerializer,
            description=_DESCRIPTIONS[code],
            examples=[
                OpenApiExample(
                    f"{code} {_EXAMPLES[code][0]}",
                    value={"code": _EXAMPLES[code][0], "detail": _EXAMPLES[code][1], "fields": _EXAMPLES[code][2]},
                    response_only=True,
                    status_codes=[str(code)],
                )
            ],
        )
        for code in codes
    }


ERRORS = SimpleNamespace(
    read=error_responses(401, 403, 404),
    write=error_responses(400, 401, 403, 404, 409, 413, 415),
)


def crud_schema(singular: str, plural: str, serializer) -> dict:
    """Summaries and error responses of a catalogue viewset's standard actions."""
    return {
        "list": extend_schema(summary=f"List {plural}", responses={200: serializer, **error_responses(400, 401, 403)}),
        "retrieve": extend_schema(summary=f"Read a {singular}", responses={200: serializer, **ERRORS.read}),
        "create": extend_schema(summary=f"Create a {singular}", responses={201: serializer, **ERRORS.write}),
        "update": extend_schema(summary=f"Replace a {singular}", responses={200: serializer, **ERRORS.write}),
        "partial_update": extend_schema(summary=f"Change a {singular}", responses={200: serializer, **ERRORS.write}),
        "destroy": extend_schema(
            summary=f"Delete or deactivate a {singular}",
            description="204 when the record was unreferenced and deleted; 200 with code 'deactivated' when stock "
            "or documents still refer to it (it is set inactive instead; never a hard delete of a referenced row).",
            responses={
                204: None,
                200: OpenApiResponse(description="Deactivated"),
                **error_responses(401, 403, 404, 409),
            },
        ),
    }
