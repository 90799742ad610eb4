"""Helpers for API tests that authenticate with a personal API token (API-B)."""

from __future__ import annotations


def make_token(user, name: str = "test", days: int | None = None) -> str:
    from integrations.tokens import api_token_create

    _, secret = api_token_create(user=user, name=name, expires_days=days)
    return secret


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}
