"""OpenAPI of ``/api/v1/`` (drf-spectacular): the error body, the error responses and headers every operation
documents (``ApiAutoSchema``, one place instead of a list per view) and the examples of the serializers
(``examples``)."""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_serializer,
)
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
    422: (
        "idempotency_key_reused",
        "This Idempotency-Key was already used with a different request; use a new key.",
        {},
    ),
    429: ("throttled", "Request was throttled. Expected available in 12 seconds.", {}),
}

_DESCRIPTIONS = {
    400: "Invalid input (fields name each problem) or a refused business rule (validation_failed).",
    401: "Not authenticated.",
    403: "Not permitted (role permission or field rights).",
    404: "Not found, or in a warehouse you do not see.",
    409: "Business conflict: insufficient_stock (with shortfalls), invalid_transition, credit_limit_exceeded, "
    "protected; or idempotency_key_in_progress (the first request with this Idempotency-Key is still running).",
    412: "If-Match does not match the current ETag.",
    413: "Body too large.",
    415: "Unsupported content type.",
    422: "idempotency_key_reused: the Idempotency-Key was used with a different request.",
    429: "Throttled: wait the seconds of the Retry-After header.",
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


IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description="1 to 255 printable characters (a UUID, your order reference). A repeat with the same key and "
    "the same request gets the first response (header Idempotent-Replayed: true) and does nothing more; the same "
    "key with another request is a 422. Kept 24 hours.",
    examples=[OpenApiExample("A UUID", value="5b0f6c3e-8d1a-4f7e-9a51-2f0c3d7b9e10")],
)
IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description="The ETag of the document as you read it: a stale one is a 412 and nothing is written.",
    examples=[OpenApiExample("An ETag", value='W/"17-1767225600000000"')],
)


class ApiAutoSchema(AutoSchema):
    """drf-spectacular's schema plus, on every ``/api/v1/`` operation, the errors it can answer (the one error
    shape), ``Idempotency-Key`` on every POST and ``If-Match`` wherever an ETag is checked."""

    def _checks_if_match(self) -> bool:
        from backoffice.api_base import ETagMixin

        return isinstance(self.view, ETagMixin) and "{" in self.path and self.method in ("POST", "PUT", "PATCH")

    def error_codes(self) -> set[int]:
        codes = {401, 403, 429}
        if "{" in self.path:
            codes.add(404)
        if self.method in ("POST", "PUT", "PATCH"):
            codes |= {400, 409, 413, 415}
        if self.method == "POST":
            codes.add(422)
        if self.method == "DELETE":
            codes.add(409)
        if self.method == "GET" and self._is_list_view():
            codes.add(400)  # a filter value that does not parse
        if self._checks_if_match():
            codes.add(412)
        return codes

    def get_override_parameters(self):
        parameters = list(super().get_override_parameters())
        if self.method == "POST":
            parameters.append(IDEMPOTENCY_KEY)
        if self._checks_if_match():
            parameters.append(IF_MATCH)
        return parameters

    def _get_response_bodies(self, direction="response"):
        bodies = super()._get_response_bodies(direction)
        for code, response in error_responses(*sorted(self.error_codes())).items():
            bodies.setdefault(str(code), self._get_response_for_code(response, str(code), direction=direction))
        return bodies


def examples(serializer_class, *, request: dict | None = None, response: dict | None = None):
    """Attach a request and/or a response example to a serializer: every operation reading or answering it
    shows them (lists wrap the response example in a page)."""
    found = []
    if request is not None:
        found.append(OpenApiExample(f"{serializer_class.__name__} request", value=request, request_only=True))
    if response is not None:
        found.append(OpenApiExample(f"{serializer_class.__name__} response", value=response, response_only=True))
    return extend_schema_serializer(examples=found)(serializer_class)


def crud_schema(singular: str, plural: str, serializer) -> dict:
    """Summaries of a catalogue viewset's standard actions (the error responses are ``ApiAutoSchema``'s)."""
    return {
        "list": extend_schema(summary=f"List {plural}", responses={200: serializer}),
        "retrieve": extend_schema(summary=f"Read a {singular}", responses={200: serializer}),
        "create": extend_schema(summary=f"Create a {singular}", responses={201: serializer}),
        "update": extend_schema(summary=f"Replace a {singular}", responses={200: serializer}),
        "partial_update": extend_schema(summary=f"Change a {singular}", responses={200: serializer}),
        "destroy": extend_schema(
            summary=f"Delete or deactivate a {singular}",
            description="204 when the record was unreferenced and deleted; 200 with code 'deactivated' when stock "
            "or documents still refer to it (it is set inactive instead; never a hard delete of a referenced row).",
            responses={204: None, 200: DEACTIVATED},
        ),
    }


class DeactivatedSerializer(serializers.Serializer):
    """``DELETE`` of a record still referenced: it was set inactive instead."""

    code = serializers.CharField()
    detail = serializers.CharField()
    id = serializers.IntegerField()
    is_active = serializers.BooleanField()
    used_by = serializers.ListField(child=serializers.CharField())


DEACTIVATED = OpenApiResponse(
    DeactivatedSerializer,
    description="Deactivated instead of deleted",
    examples=[
        OpenApiExample(
            "Deactivated",
            value={
                "code": "deactivated",
                "detail": "CHAI — Chai is still used by stock movement: it was deactivated instead of deleted.",
                "id": 12,
                "is_active": False,
                "used_by": ["stock movement"],
            },
            response_only=True,
            status_codes=["200"],
        )
    ],
)
