"""Idempotency keys for every POST under /api/v1/ (one middleware, so every viewset has them).

A client sends ``Idempotency-Key: <up to 255 characters>`` with a POST. The key
is claimed for the user (unique ``(user, key)``) in its own committed
transaction *before* the view runs, then the view's response (status, body,
content type, ``Location``/``ETag``) is stored on the claim:

* a repeat with the same key and the same method, path and body gets the
  stored response (header ``Idempotent-Replayed: true``), and the view does not
  run again;
* the same key with a different request → 422 ``idempotency_key_reused``;
* a repeat while the first is still running waits up to
  ``IDEMPOTENCY_WAIT_SECONDS`` (default 10) for it to finish, then gets the
  stored response, or 409 ``idempotency_key_in_progress`` (retry later);
* a 5xx, or a request the API never processed (401, 403, 429), releases the
  claim so the client can retry with the same key. A claim left by a process
  that died is taken over after ``IDEMPOTENCY_STALE_SECONDS`` (default 300).

Keys are kept 24 hours (``idempotency_keys_cleanup``, scheduled hourly).
"""

from __future__ import annotations

import hashlib
import json
import time
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import IntegrityError, transaction
from django.http import HttpResponse, JsonResponse
from django.http.request import RawPostDataException
from django.utils import timezone
from rest_framework import exceptions

from integrations.models import IdempotencyKey

HEADER = "HTTP_IDEMPOTENCY_KEY"
PREFIX = "/api/v1/"
KEEP = timedelta(hours=24)
MAX_KEY_LENGTH = 255
NOT_RECORDED = {401, 403, 429}
REPLAYED_HEADERS = ("Location", "ETag", "Content-Disposition")


def _wait_seconds() -> float:
    return float(getattr(settings, "IDEMPOTENCY_WAIT_SECONDS", 10))


def _stale_after() -> timedelta:
    return timedelta(seconds=float(getattr(settings, "IDEMPOTENCY_STALE_SECONDS", 300)))


def _error(status: int, code: str, detail: str) -> JsonResponse:
    return JsonResponse({"code": code, "detail": detail, "fields": {}}, status=status)


def _api_user(request):
    """The user the API will see: a bearer token's, else the session's; None if anonymous or invalid."""
    from integrations.auth import TokenAuthentication

    try:
        found = TokenAuthentication().identify(request)
    except exceptions.APIException:
        return None
    if found is not None:
        return found[0]
    user = getattr(request, "user", None)
    return user if user is not None and user.is_authenticated else None


def _parsed_form(request) -> bytes:
    """A multipart form whose raw body was consumed while parsing it: its fields and files, as bytes to hash."""
    digest = hashlib.sha256()
    for key, values in sorted(request.POST.lists()):
        digest.update(json.dumps([key, values]).encode())
    for key, files in sorted(request.FILES.lists()):
        for upload in files:
            digest.update(json.dumps([key, upload.name, upload.size]).encode())
            for chunk in upload.chunks():
                digest.update(chunk)
            upload.seek(0)
    return b"form:" + digest.hexdigest().encode()


def request_fingerprint(method: str, path: str, content_type: str, body: bytes) -> str:
    """What makes two requests "the same": method, path, content type and body."""
    return hashlib.sha256(b"\0".join([method.encode(), path.encode(), content_type.encode(), body])).hexdigest()


def idempotency_keys_cleanup(now=None) -> int:
    """Delete keys older than 24 hours; returns how many."""
    cutoff = (now or timezone.now()) - KEEP
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted


class IdempotencyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        key = request.META.get(HEADER)
        if key is None or request.method != "POST" or not request.path.startswith(PREFIX):
            return self.get_response(request)
        key = key.strip()
        if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
            return _error(400, "invalid_idempotency_key", f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters.")
        user = _api_user(request)
        if user is None:
            return self.get_response(request)  # the view answers 401/403
        try:
            body = request.body
        except RequestDataTooBig:
            return self.get_response(request)  # the view answers 413/400, nothing is recorded
        except RawPostDataException:  # a form already parsed (the NUL guard reads form fields): its content
            body = _parsed_form(request)
        fingerprint = request_fingerprint(request.method, request.path, request.content_type, body)
        claim, answer = self._claim(user, key, fingerprint)
        if answer is not None:
            return answer
        try:
            response = self.get_response(request)
        except BaseException:
            IdempotencyKey.objects.filter(pk=claim.pk).delete()
            raise
        self._record(claim, response)
        return response

    def _claim(self, user, key: str, fingerprint: str):
        """(claim, None) when this request runs the view; (None, response) for a repeat."""
        deadline = time.monotonic() + _wait_seconds()
        while True:
            try:
                return self._insert_claim(user, key, fingerprint), None
            except IntegrityError:
                pass
            existing = IdempotencyKey.objects.filter(user=user, key=key).first()
            if existing is None:
                continue  # released meanwhile (the first request failed): claim it again
            if existing.fingerprint != fingerprint:
                return None, _error(
                    422,
                    "idempotency_key_reused",
                    "This Idempotency-Key was already used with a different request; use a new key.",
                )
            if existing.completed_at is not None:
                return None, self._replay(existing)
            if timezone.now() - existing.created_at > _stale_after():
                IdempotencyKey.objects.filter(pk=existing.pk, completed_at__isnull=True).delete()
                continue
            if time.monotonic() >= deadline:
                return None, _error(
                    409,
                    "idempotency_key_in_progress",
                    "A request with this Idempotency-Key is still being processed; retry shortly.",
                )
            time.sleep(0.05)

    @staticmethod
    def _insert_claim(user, key: str, fingerprint: str) -> IdempotencyKey:
        """The claim row, committed at once. Outside a transaction (a request, in autocommit) the INSERT is
        its own transaction and a duplicate key fails it alone, so no BEGIN/COMMIT is sent around it; inside
        one (tests, a caller's atomic block) a savepoint keeps a duplicate from breaking it."""
        if transaction.get_connection().in_atomic_block:
            with transaction.atomic():
                return IdempotencyKey.objects.create(user=user, key=key, fingerprint=fingerprint)
        return IdempotencyKey.objects.create(user=user, key=key, fingerprint=fingerprint)

    @staticmethod
    def _replay(stored: IdempotencyKey) -> HttpResponse:
        response = HttpResponse(bytes(stored.body), status=stored.status_code, content_type=stored.content_type)
        for name, value in (stored.headers or {}).items():
            response[name] = value
        response["Idempotent-Replayed"] = "true"
        return response

    @staticmethod
    def _record(claim: IdempotencyKey, response) -> None:
        if response.status_code >= 500 or response.status_code in NOT_RECORDED or response.streaming:
            IdempotencyKey.objects.filter(pk=claim.pk).delete()
            return
        IdempotencyKey.objects.filter(pk=claim.pk).update(
            completed_at=timezone.now(),
            status_code=response.status_code,
            content_type=response.get("Content-Type", ""),
            headers={name: response[name] for name in REPLAYED_HEADERS if response.has_header(name)},
            body=response.content,
        )
