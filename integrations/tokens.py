"""Personal API tokens: create (the secret is returned once), revoke, list."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import Q, QuerySet

from backoffice.errors import BusinessError
from integrations.models import ApiToken

MAX_TOKEN_DAYS = 3650


class TokenError(BusinessError):
    code = "invalid_token_request"


def default_token_days() -> int:
    return int(getattr(settings, "API_TOKEN_DAYS", 90))


def api_token_create(*, user, name: str, expires_days: int | None = None) -> tuple[ApiToken, str]:
    """A new token for ``user``; returns the row and the secret (never stored, shown once)."""
    name = (name or "").strip()
    if not name:
        raise TokenError("A token needs a name (what it is for, e.g. 'web shop').")
    if len(name) > 100:
        raise TokenError("A token name is at most 100 characters.")
    days = default_token_days() if expires_days is None else expires_days
    if not 1 <= days <= MAX_TOKEN_DAYS:
        raise TokenError(f"Expiry must be between 1 and {MAX_TOKEN_DAYS} days.")
    if not user.is_active:
        raise TokenError(f"User {user.get_username()} is inactive.")
    token, secret = ApiToken.objects.create(user=user, expiry=timedelta(days=days), name=name)
    return token, secret


def api_tokens_matching(identifier: str, *, user=None) -> QuerySet[ApiToken]:
    """Tokens whose id (first characters of the token) or name is ``identifier``, optionally of one user."""
    tokens = ApiToken.objects.filter(Q(token_key=identifier) | Q(name=identifier))
    return tokens.filter(user=user) if user is not None else tokens


def api_token_revoke(tokens) -> int:
    """Delete the tokens (they stop working at once); returns how many."""
    count = 0
    for token in list(tokens):
        token.delete()
        count += 1
    return count
