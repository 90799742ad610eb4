"""Browser security headers: Content-Security-Policy (django-csp) and Permissions-Policy.

The policies themselves are settings (``CONTENT_SECURITY_POLICY``, ``PERMISSIONS_POLICY``);
docs/security.md explains every source they allow.
"""

from __future__ import annotations

from csp.constants import SELF
from csp.middleware import CSPMiddleware as BaseCSPMiddleware
from csp.middleware import PolicyParts
from django.conf import settings


class CSPMiddleware(BaseCSPMiddleware):
    """django-csp's middleware, with ``frame-ancestors`` following ``X-Frame-Options``.

    The policy says ``frame-ancestors 'none'``. Unfold opens the "add/change related object"
    and lookup popups of a form in a same-origin iframe and marks exactly those views
    ``X-Frame-Options: SAMEORIGIN`` (``xframe_options_sameorigin``); a CSP-aware browser
    ignores X-Frame-Options, so those responses get ``frame-ancestors 'self'`` to match.
    """

    def get_policy_parts(self, request, response, report_only: bool = False) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        if response.get("X-Frame-Options", "").upper() == "SAMEORIGIN":
            parts.replace = {**(parts.replace or {}), "frame-ancestors": [SELF]}
        return parts


def permissions_policy_header(policy: dict[str, list[str]]) -> str:
    """``{"camera": [], "fullscreen": ["self"]}`` → ``camera=(), fullscreen=(self)``."""
    return ", ".join(f"{feature}=({' '.join(allowed)})" for feature, allowed in policy.items())


class PermissionsPolicyMiddleware:
    """Sends ``Permissions-Policy``: the browser features the back office never uses are switched off."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.header = permissions_policy_header(getattr(settings, "PERMISSIONS_POLICY", {}))

    def __call__(self, request):
        response = self.get_response(request)
        if self.header:
            response.headers.setdefault("Permissions-Policy", self.header)
        return response
