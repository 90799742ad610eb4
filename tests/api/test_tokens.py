"""Personal API tokens (issue 9 §2): django-rest-knox tokens stored as a hash, shown once, expiring,
revocable in the admin and with ``manage.py api_token``; HTTP Basic is gone."""

from __future__ import annotations

import base64
import io
import re
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from integrations.models import ApiToken
from tests.api.token_helpers import bearer, make_token

API = "/api/v1/products/"
TOKENS = "/admin/integrations/apitoken/"


def run_command(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("api_token", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_command_prints_the_token_once_on_its_own_line_and_it_opens_the_api(client, make_user):
    user = make_user("Sales")

    out, err = run_command("create", "sales", "--name", "web shop")

    lines = out.splitlines()
    assert len(lines) == 1
    token = lines[0]
    assert token.startswith("bo_") and len(token) > 40
    assert token not in err  # the explanation goes to stderr, the token only to stdout
    stored = ApiToken.objects.get(user=user)
    assert stored.name == "web shop"
    assert token not in {stored.digest, stored.token_key}  # only knox's hash is kept
    assert stored.token_key == token[:15]
    assert client.get(API, **bearer(token)).status_code == 200


def test_default_expiry_is_api_token_days_and_can_be_chosen(make_user, settings):
    make_user("Sales")
    settings.API_TOKEN_DAYS = 90

    run_command("create", "sales", "--name", "default")
    run_command("create", "sales", "--name", "short", "--expires-days", "7")

    default = ApiToken.objects.get(name="default")
    short = ApiToken.objects.get(name="short")
    assert abs((default.expiry - timezone.now()) - timedelta(days=90)) < timedelta(minutes=1)
    assert abs((short.expiry - timezone.now()) - timedelta(days=7)) < timedelta(minutes=1)


@pytest.mark.parametrize(
    "args, message",
    [
        (["create", "nobody"], "No user named"),
        (["create", "sales", "--expires-days", "0"], "between 1 and"),
        (["create", "sales", "--name", " "], "needs a name"),
        (["revoke", "no-such-token"], "No token"),
    ],
)
def test_command_refuses_bad_input_and_writes_nothing(make_user, args, message):
    make_user("Sales")

    with pytest.raises(CommandError, match=message):
        run_command(*args)

    assert not ApiToken.objects.exists()


def test_revoke_by_name_or_id_stops_the_token_at_once(client, make_user):
    make_user("Sales")
    first = run_command("create", "sales", "--name", "shop")[0].strip()
    second = run_command("create", "sales", "--name", "carrier")[0].strip()
    assert client.get(API, **bearer(first)).status_code == 200

    assert run_command("revoke", "shop")[0].strip() == "1 token(s) revoked."
    assert run_command("revoke", second[:15])[0].strip() == "1 token(s) revoked."

    assert client.get(API, **bearer(first)).status_code == 401
    assert client.get(API, **bearer(second)).status_code == 401


def test_list_shows_ids_and_names_never_the_token(make_user):
    make_user("Sales")
    token = run_command("create", "sales", "--name", "shop")[0].strip()

    out, _ = run_command("list")

    assert token[:15] in out and "shop" in out and "sales" in out and "never" in out
    assert token not in out


def test_expired_token_is_refused_with_401(client, make_user):
    user = make_user("Sales")
    token = make_token(user)
    ApiToken.objects.filter(user=user).update(expiry=timezone.now() - timedelta(seconds=1))

    response = client.get(API, **bearer(token))

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"


def test_wrong_or_garbled_tokens_are_401_never_500(client, make_user):
    token = make_token(make_user("Sales"))
    for header in [f"Bearer {token}x", "Bearer ", "Bearer bo_\u00e9\u00e9\u00e9", f"Bearer {token} extra", "Bearer zz"]:
        assert client.get(API, HTTP_AUTHORIZATION=header).status_code == 401, header


def test_anonymous_request_is_401(client, db):
    assert client.get(API).status_code == 401


def test_last_used_is_recorded_at_most_once_a_minute(client, make_user):
    user = make_user("Sales")
    token = make_token(user)
    stored = ApiToken.objects.get(user=user)
    assert stored.last_used_at is None

    client.get(API, **bearer(token))
    first = ApiToken.objects.get(pk=stored.pk).last_used_at
    client.get(API, **bearer(token))
    second = ApiToken.objects.get(pk=stored.pk).last_used_at
    ApiToken.objects.filter(pk=stored.pk).update(last_used_at=timezone.now() - timedelta(minutes=2))
    client.get(API, **bearer(token))
    third = ApiToken.objects.get(pk=stored.pk).last_used_at

    assert first is not None and second == first  # the second request within the minute wrote nothing
    assert third > first


def test_http_basic_is_no_longer_accepted(client, make_user):
    make_user("Sales")
    basic = "Basic " + base64.b64encode(b"sales:pw-Secret-123").decode()

    response = client.get(API, HTTP_AUTHORIZATION=basic)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"


def test_a_user_creates_a_token_in_the_admin_sees_it_once_and_it_works(client, make_user):
    user = make_user("Sales")
    client.force_login(user)

    page = client.post(f"{TOKENS}add/", {"name": "my script", "expires_days": "30"})

    assert page.status_code == 200
    token = re.search(r'id="secret-value"[^>]*>(bo_[0-9a-f]+)<', page.content.decode()).group(1)
    stored = ApiToken.objects.get()
    assert stored.user == user and stored.name == "my script"
    assert abs((stored.expiry - timezone.now()) - timedelta(days=30)) < timedelta(minutes=1)
    listing = client.get(TOKENS).content.decode()
    assert "my script" in listing and token not in listing
    assert token not in client.get(f"{TOKENS}{stored.pk}/change/").content.decode()
    assert type(client)().get(API, **bearer(token)).status_code == 200


def test_staff_see_and_revoke_only_their_own_tokens_admins_everyones(client, make_user):
    sales = make_user("Sales")
    other = make_user("Warehouse")
    make_token(sales, "sales token")
    theirs = make_token(other, "warehouse token")
    client.force_login(sales)

    listing = client.get(TOKENS).content.decode()
    assert "sales token" in listing and "warehouse token" not in listing
    foreign = ApiToken.objects.get(name="warehouse token")
    client.post(TOKENS, {"action": "revoke", "_selected_action": [foreign.pk]})
    assert ApiToken.objects.filter(pk=foreign.pk).exists()
    assert "user" not in client.get(f"{TOKENS}add/").context["adminform"].form.fields

    admin = make_user(superuser=True, username="root")
    client.force_login(admin)
    assert "warehouse token" in client.get(TOKENS).content.decode()
    client.post(TOKENS, {"action": "revoke", "_selected_action": [foreign.pk], "post": "yes"})
    assert not ApiToken.objects.filter(pk=foreign.pk).exists()
    assert client.get(API, **bearer(theirs)).status_code == 401


def test_an_admin_creates_a_token_for_another_user(client, make_user):
    sales = make_user("Sales")
    client.force_login(make_user(superuser=True, username="root"))

    page = client.post(f"{TOKENS}add/", {"user": sales.pk, "name": "for sales", "expires_days": "90"})

    token = re.search(r'id="secret-value"[^>]*>(bo_[0-9a-f]+)<', page.content.decode()).group(1)
    assert ApiToken.objects.get().user == sales
    assert reverse("admin:integrations_apitoken_changelist") == TOKENS
    assert type(client)().get(API, **bearer(token)).status_code == 200
