"""An ``Idempotency-Key`` on a multipart form POST (found by the schema fuzzing once the header was documented):
the NUL guard parses the form before the idempotency middleware, so the key is matched on the parsed fields and
files — a repeat is replayed, a different form is a 422, never a 500."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from orders.models import Carrier
from tests.api.token_helpers import bearer, make_token

pytestmark = pytest.mark.django_db


def test_a_repeated_form_post_is_replayed_and_a_different_one_refused(client, admin_user):
    auth = {**bearer(make_token(admin_user)), "HTTP_IDEMPOTENCY_KEY": "form-1"}
    form = {"name": "Speedy Express", "phone": "555", "attachment": SimpleUploadedFile("a.txt", b"hello")}

    first = client.post("/api/v1/carriers/", form, **auth)
    form["attachment"] = SimpleUploadedFile("a.txt", b"hello")
    again = client.post("/api/v1/carriers/", form, **auth)
    other = client.post("/api/v1/carriers/", {"name": "Other", "phone": "555"}, **auth)

    assert first.status_code == 201, first.content
    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"
    assert Carrier.objects.count() == 1
