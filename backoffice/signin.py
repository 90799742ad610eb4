"""Sign-in policy: lockout (django-axes), two-factor authentication (django-otp), API authentication.

* ``client_ip`` is the address lockouts and the login audit record (the socket
  address, or X-Forwarded-For behind ``TRUSTED_PROXY_COUNT`` proxies);
* ``lockout_response`` is what a locked-out sign-in gets: the Unfold login page
  with the reason (admin), or 429 JSON (API);
* ``two_factor_step`` says what a signed-in session still owes: nothing, the
  token of an enrolled device, or an enrolment because the user's role needs it;
* ``TwoFactorRequiredMiddleware`` holds every page back until that is done;
* the API takes no passwords: personal API tokens (``integrations.auth``) or
  a signed-in session; HTTP Basic is gone (issue 9).
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import admin
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django_otp import login as otp_login
from django_otp import match_token
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from backoffice.roles import ADMIN

API_PREFIX = "/api/"

# ---------------------------------------------------------------------------
# Lockout


def client_ip(request: HttpRequest) -> str | None:
    """The client's address: the socket's, or the one the last trusted proxy saw."""
    remote = request.META.get("REMOTE_ADDR")
    proxies = settings.TRUSTED_PROXY_COUNT
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    if proxies <= 0 or not forwarded:
        return remote
    candidate = forwarded[-min(proxies, len(forwarded))]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote


def lockout_message() -> str:
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    return ngettext(
        "Too many failed sign-in attempts for this account from your address. Sign-in is locked for "
        "%(minutes)d minute: try again later, or ask an administrator to unlock it.",
        "Too many failed sign-in attempts for this account from your address. Sign-in is locked for "
        "%(minutes)d minutes: try again later, or ask an administrator to unlock it.",
        minutes,
    ) % {"minutes": minutes}


def lockout_response(request: HttpRequest, original_response=None, credentials=None) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: the login page with the reason, or JSON for the API; status 429."""
    if request.path.startswith(API_PREFIX):
        return JsonResponse({"code": "locked_out", "detail": lockout_message()}, status=429)
    site = admin.site
    context = {
        **site.each_context(request),
        "title": _("Log in"),
        "app_path": request.get_full_path(),
        "form": site.login_form(request, initial={"username": (credentials or {}).get("username", "")}),
        "lockout_message": lockout_message(),
    }
    return TemplateResponse(request, "signin/locked_out.html", context, status=429).render()


# ---------------------------------------------------------------------------
# Two-factor authentication


VERIFY, ENROL = "verify", "enrol"


def two_factor_required(user) -> bool:
    """Whether the user's role makes two-factor authentication compulsory (setting OTP_REQUIRED_ROLES)."""
    roles = settings.OTP_REQUIRED_ROLES
    if not roles or not user.is_authenticated:
        return False
    if user.is_superuser and ADMIN in roles:
        return True
    return user.groups.filter(name__in=roles).exists()


def two_factor_enrolled(user) -> bool:
    """A confirmed authenticator app (recovery codes come with it and go with it)."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


SESSION_ENROLLED = "two_factor_enrolled"


def remember_enrolment(sender=None, request=None, user=None, **kwargs) -> None:
    """At sign-in (user_logged_in) and after enrolling or turning off: note in the session whether 2FA is on.

    So pages cost no query for it; an app added from another browser applies from the next sign-in,
    an app removed by an administrator is noticed at the token step.
    """
    if request is not None and hasattr(request, "session"):
        request.session[SESSION_ENROLLED] = two_factor_enrolled(user or request.user)


def two_factor_step(request: HttpRequest, *, live: bool = False) -> str | None:
    """What this session still owes: VERIFY (a token), ENROL (set up an app) or None.

    ``live`` re-reads the devices instead of trusting what the session noted at sign-in.
    """
    user = request.user
    if not user.is_authenticated or user.is_verified():
        return None
    if live or SESSION_ENROLLED not in request.session:
        remember_enrolment(request=request, user=user)
    if request.session[SESSION_ENROLLED]:
        return VERIFY
    if two_factor_required(user):
        return ENROL
    return None


def _exempt_paths() -> tuple[str, ...]:
    return (
        reverse("two_factor:verify"),
        reverse("two_factor:setup"),
        reverse("admin:logout"),
        reverse("admin:login"),
        reverse("healthz"),
        reverse("readyz"),
        settings.STATIC_URL if settings.STATIC_URL.startswith("/") else f"/{settings.STATIC_URL}",
    )


def step_url(step: str, next_url: str) -> str:
    name = "two_factor:verify" if step == VERIFY else "two_factor:setup"
    return f"{reverse(name)}?{urlencode({'next': next_url})}"


class TwoFactorRequiredMiddleware:
    """Nothing but the token/enrolment pages until a session has done its two-factor step.

    Pages redirect there; the API answers 403 with ``code: two_factor_required``.
    Goes after django-otp's OTPMiddleware.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated and not request.path.startswith(_exempt_paths()):
            step = two_factor_step(request)
            if step is not None:
                return self.refuse(request, step)
        return self.get_response(request)

    def refuse(self, request: HttpRequest, step: str) -> HttpResponse:
        if request.path.startswith(API_PREFIX):
            detail = (
                _("Enter your two-factor code in the admin first, then use this session.")
                if step == VERIFY
                else _("Your role requires two-factor authentication: set it up in the admin first.")
            )
            return JsonResponse({"code": "two_factor_required", "detail": detail}, status=403)
        next_url = request.get_full_path() if request.method == "GET" else reverse("admin:index")
        return HttpResponseRedirect(step_url(step, next_url))


# Enrolment and recovery codes (services: the views only call these)

AUTHENTICATOR_NAME = "Authenticator app"
RECOVERY_CODES_NAME = "Recovery codes"


def two_factor_enrolment_device(*, user) -> TOTPDevice:
    """The unconfirmed authenticator being set up (the same one across reloads, so the QR code stays)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=AUTHENTICATOR_NAME, confirmed=False)
    return device


def normalise_token(token: str) -> str:
    return "".join(token.split()).replace("-", "").lower()


@transaction.atomic
def two_factor_enrol_confirm(*, device: TOTPDevice, token: str) -> list[str] | None:
    """Confirm the device with a code from the app; returns the new recovery codes, None if the code is wrong."""
    if not device.verify_token(normalise_token(token)):
        return None
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    TOTPDevice.objects.filter(user=device.user).exclude(pk=device.pk).delete()
    return two_factor_recovery_codes_create(user=device.user)


@transaction.atomic
def two_factor_recovery_codes_create(*, user) -> list[str]:
    """A fresh set of single-use recovery codes; the previous set stops working."""
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=RECOVERY_CODES_NAME, confirmed=True)
    codes = [StaticToken.random_token() for _ in range(settings.OTP_RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=code) for code in codes])
    return codes


def two_factor_recovery_codes_left(*, user) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


@transaction.atomic
def two_factor_disable(*, user) -> None:
    """Remove the authenticator and the recovery codes (the user may enrol again)."""
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()


def two_factor_verify(*, request: HttpRequest, token: str):
    """Check a code from the app or a recovery code; mark the session verified. Returns the device or None."""
    device = match_token(request.user, normalise_token(token))
    if device is not None:
        otp_login(request, device)
    return device
