"""Journeys: a manager sets up two-factor authentication with the QR code, signs in with a code;
a locked-out user sees why. In Chromium with the Content-Security-Policy on (the ``page`` fixture
fails on any violation)."""

from __future__ import annotations

import re
import time

import pytest
from django.contrib.auth.models import Group
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect

from tests.e2e.conftest import PASSWORD


def app_code(device: TOTPDevice) -> str:
    """What the authenticator app shows now (never a code the device already accepted)."""
    device.refresh_from_db()
    now_t = int((time.time() - device.t0) // device.step)
    target = max(now_t, device.last_t + 1)
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, target - now_t):06d}"


@pytest.fixture
def manager(superuser, django_user_model, settings):
    settings.OTP_REQUIRED_ROLES = ["Manager"]
    user = django_user_model.objects.create_user("manager", "manager@example.com", PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name="Manager"))
    return user


def log_in(page, username: str, password: str = PASSWORD) -> None:
    page.goto("/admin/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


def test_manager_enrols_with_the_qr_code_then_signs_in_with_a_code(page, manager, screenshot):
    log_in(page, "manager")

    expect(page).to_have_url(re.compile(r"/admin/two-factor/setup/"))
    expect(page.locator("body")).to_contain_text("Your role requires two-factor authentication")
    expect(page.locator("#two-factor-qr svg")).to_be_visible()
    screenshot("setup")
    device = TOTPDevice.objects.get(user=manager)
    page.fill("input[name=token]", app_code(device))
    page.click("#two-factor-setup-form button[type=submit]")

    expect(page.locator("#recovery-codes li")).to_have_count(10)
    screenshot("recovery-codes")
    page.click("text=I have saved them")
    expect(page.locator("body")).to_contain_text("Dashboard")

    page.context.clear_cookies()  # a new browser session
    log_in(page, "manager")
    expect(page).to_have_url(re.compile(r"/admin/two-factor/verify/"))
    page.fill("input[name=token]", app_code(device))
    page.click("#two-factor-verify-form button[type=submit]")
    expect(page).to_have_url(re.compile(r"/admin/$"))
    screenshot("dashboard-after-code")

    page.goto("/admin/two-factor/")  # user menu → Two-factor authentication
    expect(page.locator("body")).to_contain_text("Two-factor authentication is on")
    expect(page.locator("body")).to_contain_text("10 recovery codes left")
    screenshot("settings")


def test_five_wrong_passwords_show_the_lockout_on_the_login_page(page, superuser, screenshot):
    for _ in range(5):
        log_in(page, superuser.username, "wrong-password")

    expect(page.locator("#lockout-message")).to_contain_text("locked for 15 minutes")
    log_in(page, superuser.username)
    expect(page.locator("#lockout-message")).to_be_visible()
    screenshot("locked-out")
