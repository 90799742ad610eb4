"""Requests refused before any view sees them.

``RejectNulBytesMiddleware``: a NUL character (``\\x00``) in the path, a query or form parameter,
a cookie or a header is never legitimate here, and PostgreSQL cannot store or even compare it
(psycopg raises ``ValueError``: a 500 from any search box, filter or login form). One check, a 400.
"""

from __future__ import annotations

from django.http import HttpResponseBadRequest, JsonResponse

NUL = "\x00"
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
REFUSED = "Bad request: NUL characters are not allowed in addresses, parameters, cookies or headers."


def _has_nul(querydict) -> bool:
    return any(NUL in key or any(NUL in value for value in values) for key, values in querydict.lists())


def request_has_nul(request) -> bool:
    if NUL in request.path_info:
        return True
    if _has_nul(request.GET):
        return True
    if request.method == "POST" and request.content_type in FORM_TYPES and _has_nul(request.POST):
        return True
    if any(NUL in key or NUL in value for key, value in request.COOKIES.items()):
        return True
    return any(NUL in str(value) for key, value in request.META.items() if key.startswith("HTTP_"))


class RejectNulBytesMiddleware:
    """400 for any request carrying a NUL character (see the module docstring)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request_has_nul(request):
            if request.path_info.startswith("/api/"):  # the API's one error shape (docs/api.md "Errors")
                return JsonResponse({"code": "parse_error", "detail": REFUSED, "fields": {}}, status=400)
            return HttpResponseBadRequest(REFUSED, content_type="text/plain; charset=utf-8")
        return self.get_response(request)
