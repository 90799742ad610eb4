"""Sign-in security: lockout after failed passwords, two-factor authentication, login audit, API throttles.

Everything goes through the real admin login form, the two-factor pages and the
API with the test client, as a user (or an attacker) would.
"""

from __future__ import annotations

import base64
import re
import time
from datetime import timedelta
from pathlib import Path

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.conf import settings as django_settings
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.throttling import UserRateThrottle

PASSWORD = "pw-Secret-123"
LOGIN = "/admin/login/"
INDEX = "/admin/"
SETUP = "/admin/two-factor/setup/"
VERIFY = "/admin/two-factor/verify/"
MANAGE = "/admin/two-factor/"
API = "/api/v1/products/"


def sign_in(client, username, password=PASSWORD, **extra):
    return client.post(f"{LOGIN}?next={INDEX}", {"username": username, "password": password, "next": INDEX}, **extra)


def basic(username, password=PASSWORD) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}


def is_signed_in(client) -> bool:
    return client.get(INDEX).status_code == 200


# ---------------------------------------------------------------------------
# Lockout (django-axes)


def fail_times(client, username, times, **extra):
    return [sign_in(client, username, "wrong-password", **extra) for _ in range(times)]


def test_five_wrong_passwords_lock_the_account_at_that_address_with_a_message(client, make_user):
    make_user("Sales")

    responses = fail_times(client, "sales", 5)

    assert [r.status_code for r in responses[:4]] == [200] * 4  # the login form again, with its error
    locked = responses[4]
    assert locked.status_code == 429
    page = locked.content.decode()
    assert "Too many failed sign-in attempts" in page
    assert "locked for 15 minutes" in page
    assert 'id="login-form"' in page  # still Unfold's login page

    # The right password no longer opens it.
    response = sign_in(client, "sales")
    assert response.status_code == 429
    assert not is_signed_in(client)


def test_lockout_is_per_user_and_address(client, make_user):
    make_user("Sales")
    make_user("Manager")
    fail_times(client, "sales", 5)

    assert sign_in(client, "manager").status_code == 302  # another user at the same address
    client.logout()
    assert sign_in(client, "sales", REMOTE_ADDR="203.0.113.9").status_code == 302  # same user, another address
    client.logout()
    assert sign_in(client, "sales").status_code == 429


def test_lockout_ends_after_15_minutes(client, make_user):
    make_user("Sales")
    fail_times(client, "sales", 5)
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))

    assert sign_in(client, "sales").status_code == 302
    assert is_signed_in(client)


def test_four_failures_then_success_resets_the_count(client, make_user):
    make_user("Sales")
    fail_times(client, "sales", 4)
    assert sign_in(client, "sales").status_code == 302
    client.logout()

    fail_times(client, "sales", 4)

    assert sign_in(client, "sales").status_code == 302


def test_an_administrator_unlocks_in_the_admin(client, make_user):
    make_user("Sales")
    fail_times(client, "sales", 5)
    administrator = make_user("Admin", username="chief")
    admin_client = type(client)()
    admin_client.force_login(administrator)

    changelist = admin_client.get(reverse("admin:axes_accessattempt_changelist"))
    assert changelist.status_code == 200
    assert "Locked" in changelist.content.decode()
    response = admin_client.post(
        reverse("admin:axes_accessattempt_changelist"),
        {"action": "unlock", "_selected_action": list(AccessAttempt.objects.values_list("pk", flat=True))},
        follow=True,
    )

    assert "1 sign-in unlocked." in response.content.decode()
    assert sign_in(client, "sales").status_code == 302


def test_axes_reset_command_unlocks(client, make_user):
    make_user("Sales")
    fail_times(client, "sales", 5)

    call_command("axes_reset", verbosity=0)

    assert sign_in(client, "sales").status_code == 302


def test_api_no_longer_accepts_http_basic_so_passwords_cannot_be_guessed_there(client, make_user):
    # HTTP Basic is gone (issue 9 §2): the API takes personal tokens (tests/api/test_tokens.py) or a session.
    make_user("Sales")

    answers = [client.get(API, **basic("sales", "wrong-password")) for _ in range(5)]
    after = client.get(API, **basic("sales"))

    assert [a.status_code for a in answers] == [401] * 5
    assert after.status_code == 401  # the right password does not open the API either
    assert after["WWW-Authenticate"] == "Bearer"
    # The API never checked the passwords, so the admin sign-in is not locked.
    assert sign_in(client, "sales").status_code == 302


def test_api_basic_auth_with_the_right_password_is_refused(client, make_user):
    make_user("Sales")

    assert client.get(API, **basic("sales")).status_code == 401


# ---------------------------------------------------------------------------
# Login audit


def test_sign_ins_sign_outs_and_failures_are_recorded(client, make_user):
    make_user("Sales")

    sign_in(client, "sales", "wrong-password", REMOTE_ADDR="198.51.100.7")
    sign_in(client, "sales", REMOTE_ADDR="198.51.100.7")
    client.post(reverse("admin:logout"), REMOTE_ADDR="198.51.100.7")

    failure = AccessFailureLog.objects.get()
    assert (failure.username, failure.ip_address, failure.locked_out) == ("sales", "198.51.100.7", False)
    entry = AccessLog.objects.get()
    assert (entry.username, entry.ip_address) == ("sales", "198.51.100.7")
    assert entry.attempt_time is not None and entry.logout_time is not None


@pytest.mark.parametrize("model", ["accesslog", "accessfailurelog", "accessattempt", "totpdevice"])
def test_audit_pages_are_for_administrators_only(client, make_user, model):
    app = "otp_totp" if model == "totpdevice" else "axes"
    url = reverse(f"admin:{app}_{model}_changelist")
    for role, expected in [("Admin", 200), (None, 200), ("Manager", 403), ("Viewer", 403)]:
        user = make_user(role, username=f"{role or 'root'}-{model}", superuser=role is None)
        client.force_login(user)
        assert client.get(url).status_code == expected, role


def test_audit_pages_are_read_only(admin_client, make_user):
    make_user("Sales")
    browser = type(admin_client)()
    sign_in(browser, "sales", "wrong-password")
    sign_in(browser, "sales")
    entry, failure = AccessLog.objects.get(username="sales"), AccessFailureLog.objects.get()

    listing = admin_client.get(reverse("admin:axes_accesslog_changelist")).content.decode()
    assert "sales" in listing
    assert admin_client.get(reverse("admin:axes_accesslog_add")).status_code == 403
    assert (
        admin_client.post(reverse("admin:axes_accesslog_delete", args=[entry.pk]), {"post": "yes"}).status_code == 403
    )
    failure_url = reverse("admin:axes_accessfailurelog_change", args=[failure.pk])
    admin_client.post(failure_url, {"username": "someone-else"})
    assert AccessFailureLog.objects.get().username == "sales"


def test_administration_sidebar_lists_the_audit_pages(admin_client):
    page = admin_client.get(INDEX).content.decode()

    for url in ("admin:axes_accesslog_changelist", "admin:axes_accessfailurelog_changelist"):
        assert reverse(url) in page


# ---------------------------------------------------------------------------
# API throttles


def test_api_has_anonymous_and_per_user_throttles():
    rest = django_settings.REST_FRAMEWORK
    assert rest["DEFAULT_THROTTLE_CLASSES"] == [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ]
    assert set(rest["DEFAULT_THROTTLE_RATES"]) == {"anon", "user"}


def test_api_user_over_the_rate_gets_429(client, make_user, monkeypatch):
    from django.core.cache import cache

    monkeypatch.setattr(UserRateThrottle, "rate", "3/minute", raising=False)
    user = make_user("Sales")
    cache.delete(f"throttle_user_{user.pk}")
    client.force_login(user)

    statuses = [client.get(API).status_code for _ in range(4)]

    assert statuses == [200, 200, 200, 429]


# ---------------------------------------------------------------------------
# Two-factor authentication


@pytest.fixture
def otp_required(settings):
    settings.OTP_REQUIRED_ROLES = ["Admin", "Manager"]
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # a wrong code does not hold back the next one (tested separately)
    return settings


def code_for(device: TOTPDevice) -> str:
    """The authenticator app's current code, never one the device has already accepted."""
    device.refresh_from_db()
    now_t = int((time.time() - device.t0) // device.step)
    target = max(now_t, device.last_t + 1)
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, target - now_t):0{device.digits}d}"


def enrol(client, username) -> tuple[TOTPDevice, list[str]]:
    """Open the setup page, confirm with the app's code; returns the device and the recovery codes shown."""
    client.get(SETUP)
    device = TOTPDevice.objects.get(user__username=username, confirmed=False)
    response = client.post(SETUP, {"token": code_for(device), "next": INDEX})
    assert response.status_code == 200
    codes = re.findall(r"<li>([a-z2-7]{8})</li>", response.content.decode())
    return device, codes


@pytest.fixture
def signed_in(client):
    """Through the password step of the login form; returns the client."""

    def do(username):
        response = sign_in(client, username)
        assert response.status_code == 302, "password step failed"
        return client

    return do


def test_required_role_is_forced_to_enrol_before_anything_else(otp_required, make_user, signed_in):
    make_user("Manager")
    client = signed_in("manager")

    for url in (INDEX, reverse("admin:inventory_product_changelist"), MANAGE):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(SETUP), url
    api = client.get(API)
    assert api.status_code == 403
    assert api.json()["code"] == "two_factor_required"

    page = client.get(SETUP).content.decode()
    assert "Your role requires two-factor authentication" in page
    assert "<svg" in page and "<path" in page  # the QR code, inline
    device = TOTPDevice.objects.get(user__username="manager")
    assert base64.b32encode(device.bin_key).decode() in page  # the key, for typing in
    assert "Not now" not in page


def test_setup_page_keeps_the_same_key_across_reloads(otp_required, make_user, signed_in):
    make_user("Manager")
    client = signed_in("manager")

    first, second = client.get(SETUP).content.decode(), client.get(SETUP).content.decode()

    device = TOTPDevice.objects.get(user__username="manager")
    secret = base64.b32encode(device.bin_key).decode()
    assert secret in first and secret in second
    assert re.search(r"<svg.*</svg>", first, re.S)[0] == re.search(r"<svg.*</svg>", second, re.S)[0]


def test_wrong_code_does_not_enable_two_factor(otp_required, make_user, signed_in):
    make_user("Manager")
    client = signed_in("manager")
    client.get(SETUP)

    response = client.post(SETUP, {"token": "000000", "next": INDEX})

    assert "That code is not valid" in response.content.decode()
    assert not TOTPDevice.objects.filter(confirmed=True).exists()
    assert client.get(INDEX)["Location"].startswith(SETUP)


def test_enrolment_with_the_apps_code_turns_it_on_and_shows_recovery_codes_once(otp_required, make_user, signed_in):
    make_user("Manager")
    client = signed_in("manager")

    device, codes = enrol(client, "manager")

    assert len(codes) == 10 and len(set(codes)) == 10
    device.refresh_from_db()
    assert device.confirmed
    assert sorted(StaticToken.objects.filter(device__user=device.user).values_list("token", flat=True)) == sorted(codes)
    assert is_signed_in(client)  # this session is verified
    manage = client.get(MANAGE).content.decode()
    assert "Two-factor authentication is on" in manage
    assert "10 recovery codes left" in manage
    assert not any(code in manage for code in codes)  # shown once, not again


def test_next_sign_in_asks_for_the_code(otp_required, make_user, signed_in, client):
    make_user("Manager")
    device, _codes = enrol(signed_in("manager"), "manager")
    client.logout()

    signed_in("manager")
    response = client.get(INDEX)
    assert response.status_code == 302 and response["Location"].startswith(VERIFY)
    assert client.get(API).status_code == 403
    page = client.get(response["Location"]).content.decode()
    assert "Enter the 6-digit code" in page

    wrong = client.post(VERIFY, {"token": "123456", "next": INDEX})
    assert "That code is not valid" in wrong.content.decode()
    assert not is_signed_in(client)

    right = client.post(VERIFY, {"token": code_for(device), "next": INDEX})
    assert right.status_code == 302 and right["Location"] == INDEX
    assert is_signed_in(client)
    assert client.get(API).status_code == 200


def test_a_used_code_is_not_accepted_again(otp_required, make_user, signed_in, client):
    make_user("Manager")
    device, _codes = enrol(signed_in("manager"), "manager")
    client.logout()
    signed_in("manager")
    code = code_for(device)
    client.post(VERIFY, {"token": code, "next": INDEX})
    client.logout()

    signed_in("manager")
    client.post(VERIFY, {"token": code, "next": INDEX})

    assert not is_signed_in(client)


def test_wrong_codes_slow_down_guessing(settings, make_user, signed_in, client):
    settings.OTP_REQUIRED_ROLES = ["Manager"]
    make_user("Manager")
    device, _codes = enrol(signed_in("manager"), "manager")
    client.logout()
    signed_in("manager")

    client.post(VERIFY, {"token": "000000", "next": INDEX})
    client.post(VERIFY, {"token": code_for(device), "next": INDEX})  # right, but straight after a wrong one

    assert not is_signed_in(client)


def test_a_recovery_code_signs_in_once(otp_required, make_user, signed_in, client):
    make_user("Manager")
    _device, codes = enrol(signed_in("manager"), "manager")
    client.logout()

    signed_in("manager")
    client.post(VERIFY, {"token": codes[0].upper(), "next": INDEX})  # as typed from paper
    assert is_signed_in(client)
    client.logout()

    signed_in("manager")
    client.post(VERIFY, {"token": codes[0], "next": INDEX})
    assert not is_signed_in(client)
    assert StaticToken.objects.count() == 9


def test_password_alone_cannot_enrol_a_new_app_over_an_existing_one(otp_required, make_user, signed_in, client):
    make_user("Manager")
    enrol(signed_in("manager"), "manager")
    client.logout()
    signed_in("manager")

    response = client.get(SETUP, follow=True)

    assert response.redirect_chain[-1][0].startswith(VERIFY)
    assert TOTPDevice.objects.count() == 1
    assert client.post(reverse("two_factor:disable")).status_code == 302
    assert TOTPDevice.objects.filter(confirmed=True).count() == 1  # not turned off without the code


def test_superuser_needs_it_when_admin_is_listed(settings, make_user, signed_in):
    settings.OTP_REQUIRED_ROLES = ["Admin"]
    make_user(superuser=True, username="root")

    assert signed_in("root").get(INDEX)["Location"].startswith(SETUP)


def test_superuser_without_admin_listed_is_not_forced(settings, make_user, signed_in):
    settings.OTP_REQUIRED_ROLES = ["Manager"]
    make_user(superuser=True, username="root")

    assert signed_in("root").get(INDEX).status_code == 200


def test_optional_role_is_not_forced_and_can_enrol_or_skip(otp_required, make_user, signed_in, client):
    make_user("Sales")
    signed_in("sales")
    assert is_signed_in(client)

    manage = client.get(MANAGE).content.decode()
    assert "It is optional for your role" in manage
    setup = client.get(f"{SETUP}?next={INDEX}").content.decode()
    assert "Not now" in setup  # skip
    assert is_signed_in(client)

    enrol(client, "sales")
    client.logout()
    signed_in("sales")
    assert client.get(INDEX)["Location"].startswith(VERIFY)  # once on, it is asked for


def test_user_menu_links_to_the_two_factor_page(admin_client):
    page = admin_client.get(INDEX).content.decode()

    assert f'href="{MANAGE}"' in page
    assert "Two-factor authentication" in page


def test_development_default_requires_nobody(make_user, signed_in):
    """`make run` prints an admin login that works without a phone."""
    make_user(superuser=True, username="root")

    assert django_settings.OTP_REQUIRED_ROLES == []
    assert signed_in("root").get(INDEX).status_code == 200


def test_turning_off_removes_app_and_codes_and_a_required_role_enrols_again(otp_required, make_user, signed_in):
    make_user("Manager")
    client = signed_in("manager")
    enrol(client, "manager")

    response = client.post(reverse("two_factor:disable"))

    assert response["Location"] == SETUP
    assert not TOTPDevice.objects.exists() and not StaticDevice.objects.exists()
    assert client.get(INDEX)["Location"].startswith(SETUP)


def test_new_recovery_codes_replace_the_old_ones(otp_required, make_user, signed_in, client):
    make_user("Manager")
    _device, old_codes = enrol(signed_in("manager"), "manager")

    page = client.post(reverse("two_factor:recovery_codes")).content.decode()
    new_codes = re.findall(r"<li>([a-z2-7]{8})</li>", page)

    assert len(new_codes) == 10
    client.logout()
    signed_in("manager")
    client.post(VERIFY, {"token": old_codes[1], "next": INDEX})
    assert not is_signed_in(client)


def test_basic_auth_is_refused_for_two_factor_accounts(otp_required, make_user, signed_in, client):
    # HTTP Basic is gone for every account (issue 9 §2); two-factor accounts are refused as before.
    make_user("Manager")
    make_user("Sales")
    make_user("Viewer")
    enrol(signed_in("manager"), "manager")
    api_client = type(client)()

    enrolled = api_client.get(API, **basic("manager"))
    assert enrolled.status_code == 401
    signed_in("viewer")
    enrol(client, "viewer")
    assert api_client.get(API, **basic("viewer")).status_code == 401
    assert api_client.get(API, **basic("sales")).status_code == 401


def test_administrator_resets_a_users_two_factor(otp_required, make_user, signed_in, client):
    make_user("Manager")
    device, _codes = enrol(signed_in("manager"), "manager")
    client.logout()
    root = make_user(superuser=True, username="root")
    root_client = type(client)()
    root_client.force_login(root)
    # The superuser (Admin listed) verifies first: enrol on their own device.
    enrol(root_client, "root")

    listing = root_client.get(reverse("admin:otp_totp_totpdevice_changelist")).content.decode()
    assert "manager" in listing
    assert device.key not in listing
    root_client.post(reverse("admin:otp_totp_totpdevice_delete", args=[device.pk]), {"post": "yes"})

    assert not TOTPDevice.objects.filter(user__username="manager").exists()
    assert not StaticDevice.objects.filter(user__username="manager").exists()
    signed_in("manager")
    assert client.get(INDEX)["Location"].startswith(SETUP)


def enrolled_with_a_pending_app(user) -> None:
    """A confirmed authenticator, recovery codes, and a second app being set up (not confirmed yet)."""
    from backoffice.signin import two_factor_recovery_codes_create

    TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=True)
    two_factor_recovery_codes_create(user=user)
    TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)


@pytest.mark.parametrize("how", ["delete page", "delete selected action"])
def test_an_admin_reset_removes_every_two_factor_device_of_the_user(make_user, admin_client, how):
    """After a reset the user sets up a new key: a half-finished enrolment (whose QR code someone
    may have seen) must not come back as the new setup page's key."""
    manager, sales, bystander = make_user("Manager"), make_user("Sales"), make_user("Viewer")
    for user in (manager, sales, bystander):
        enrolled_with_a_pending_app(user)
    confirmed = TOTPDevice.objects.filter(confirmed=True)

    if how == "delete page":
        device = confirmed.get(user=manager)
        admin_client.post(reverse("admin:otp_totp_totpdevice_delete", args=[device.pk]), {"post": "yes"})
        reset = [manager]
    else:
        chosen = [confirmed.get(user=manager).pk, confirmed.get(user=sales).pk]
        admin_client.post(
            reverse("admin:otp_totp_totpdevice_changelist"),
            {"action": "delete_selected", "_selected_action": chosen, "post": "yes"},
        )
        reset = [manager, sales]

    for user in reset:
        assert not TOTPDevice.objects.filter(user=user).exists()
        assert not StaticDevice.objects.filter(user=user).exists()
    assert TOTPDevice.objects.filter(user=bystander).count() == 2
    assert StaticDevice.objects.filter(user=bystander).exists()


def test_library_device_admins_that_show_secrets_are_not_registered():
    from django.contrib import admin

    assert not admin.site.is_registered(StaticDevice)
    assert type(admin.site._registry[TOTPDevice]).__module__ == "backoffice.signin_admin"


def test_next_cannot_send_the_user_to_another_site(otp_required, make_user, signed_in, client):
    make_user("Manager")
    device, _codes = enrol(signed_in("manager"), "manager")
    client.logout()
    signed_in("manager")

    response = client.post(VERIFY, {"token": code_for(device), "next": "https://evil.example.com/"})

    assert response["Location"] == INDEX


SIGNIN_TEMPLATES = Path(django_settings.BASE_DIR) / "templates" / "signin"


@pytest.mark.parametrize("template", sorted(p.name for p in SIGNIN_TEMPLATES.glob("*.html")))
def test_sign_in_templates_have_no_inline_script_or_style(template):
    text = (SIGNIN_TEMPLATES / template).read_text()

    assert "<script" not in text
    assert "style=" not in text and "<style" not in text
