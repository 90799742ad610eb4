"""API token authentication: django-rest-knox's, with ``last_used_at`` kept at most once a minute.

Clients send ``Authorization: Bearer <token>``. Expired tokens are refused
(401) but kept, so the admin still lists them as expired until revoked.
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from knox.auth import TokenAuthentication as KnoxTokenAuthentication
from rest_framework import authentication, exceptions
from rest_framework.throttling import AnonRateThrottle

LAST_USED_EVERY = timedelta(minutes=1)


class AnonymousThrottle(AnonRateThrottle):
    """The ``anon`` rate, counted per address while authenticating (before permissions answer 401)."""

    cache_format = "throttle_anon_auth_%(ident)s"

    def get_cache_key(self, request, view):
        return self.cache_format % {"ident": self.get_ident(request)}


def throttle_anonymous(request) -> None:
    """429 with Retry-After once an address exceeds the anonymous rate (guessing tokens included)."""
    throttle = AnonymousThrottle()
    if not throttle.allow_request(request, None):
        raise exceptions.Throttled(wait=throttle.wait())


class TokenAuthentication(KnoxTokenAuthentication):
    def authenticate(self, request):
        try:
            return self.identify(request)
        except exceptions.AuthenticationFailed:
            throttle_anonymous(request)  # a wrong token counts against the address's anonymous budget
            raise

    def identify(self, request):
        """(user, token) for a valid bearer token, None without one; AuthenticationFailed otherwise. No throttling.

        Remembered on the request for its lifetime: the idempotency middleware identifies the user of a POST
        before DRF authenticates it, and the token is looked up once (never across requests: a revoked token
        stops working at once)."""
        raw = getattr(request, "_request", request)  # DRF's Request wraps Django's HttpRequest
        header = raw.META.get("HTTP_AUTHORIZATION")
        remembered = getattr(raw, "_bearer_identity", None)
        if remembered is not None and remembered[0] == header:
            return remembered[1]
        found = super().authenticate(request)
        raw._bearer_identity = (header, found)
        return found

    def _cleanup_token(self, auth_token) -> bool:
        """Refuse an expired token without deleting it (knox deletes; here the admin revokes)."""
        return auth_token.expiry is not None and auth_token.expiry <= timezone.now()

    def validate_user(self, auth_token):
        user, token = super().validate_user(auth_token)
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at >= LAST_USED_EVERY:
            type(token).objects.filter(pk=token.pk).update(last_used_at=now)
            token.last_used_at = now
        return user, token

    def authenticate_credentials(self, token):
        try:
            return super().authenticate_credentials(token)
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("Invalid token.") from None


class AnonymousThrottleAuthentication(authentication.BaseAuthentication):
    """Last in DEFAULT_AUTHENTICATION_CLASSES: reached only by anonymous requests, which it throttles per address.

    DRF checks permissions before throttles, so without this an anonymous request
    to a protected endpoint would get its 401 without ever being counted.
    """

    def authenticate(self, request):
        throttle_anonymous(request)
        return None


class TokenAuthenticationScheme(OpenApiAuthenticationExtension):
    """OpenAPI: the bearer token of ``docs/api.md``."""

    target_class = "integrations.auth.TokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "A personal API token (docs/api.md)."}
