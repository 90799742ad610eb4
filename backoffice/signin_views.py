"""Two-factor authentication pages: the token step, enrolment (QR code + recovery codes), and the settings page.

Mounted at ``/admin/two-factor/`` (namespace ``two_factor``). The rules live in
``backoffice.signin``; these views only call it.
"""

from __future__ import annotations

import base64

import qrcode
import qrcode.image.svg
from django import forms
from django.contrib import admin, messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST
from unfold.widgets import UnfoldAdminTextInputWidget

from backoffice import signin


class TokenForm(forms.Form):
    token = forms.CharField(
        label=gettext_lazy("Code"),
        max_length=32,
        widget=UnfoldAdminTextInputWidget(attrs={"autocomplete": "one-time-code", "autofocus": "", "size": 12}),
    )


def _next_url(request: HttpRequest) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return reverse("admin:index")


def _render(request: HttpRequest, template: str, context: dict, status: int = 200) -> TemplateResponse:
    return TemplateResponse(
        request,
        template,
        {**admin.site.each_context(request), "next": _next_url(request), **context},
        status=status,
    )


def qr_code_svg(data: str) -> str:
    """The QR code as inline SVG markup (no image request, nothing for CSP to allow)."""
    image = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, box_size=10, border=2)
    return image.to_string(encoding="unicode")


@never_cache
@login_required
def verify(request: HttpRequest) -> HttpResponse:
    """After the password: a code from the authenticator app, or a recovery code."""
    step = signin.two_factor_step(request, live=True)
    if step != signin.VERIFY:
        return HttpResponseRedirect(signin.step_url(step, _next_url(request)) if step else _next_url(request))
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if signin.two_factor_verify(request=request, token=form.cleaned_data["token"]):
            return HttpResponseRedirect(_next_url(request))
        form.add_error(
            "token",
            _("That code is not valid. Enter the current code from your authenticator app or an unused recovery code."),
        )
    return _render(request, "signin/two_factor_verify.html", {"title": _("Two-factor authentication"), "form": form})


@never_cache
@login_required
def setup(request: HttpRequest) -> HttpResponse:
    """Enrolment: scan the QR code, confirm with a code, note the recovery codes (shown once)."""
    if signin.two_factor_enrolled(request.user):
        # Already protected: a new app is added from the settings page, after the token step.
        return HttpResponseRedirect(reverse("two_factor:manage"))
    device = signin.two_factor_enrolment_device(user=request.user)
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        codes = signin.two_factor_enrol_confirm(device=device, token=form.cleaned_data["token"])
        if codes is not None:
            signin.otp_login(request, device)
            signin.remember_enrolment(request=request)
            return _render(
                request, "signin/two_factor_recovery_codes.html", {"title": _("Recovery codes"), "codes": codes}
            )
        form.add_error("token", _("That code is not valid. Check the time on your phone and enter the current code."))
    context = {
        "title": _("Set up two-factor authentication"),
        "form": form,
        "qr_code": mark_safe(qr_code_svg(device.config_url)),  # markup generated here from our own data
        "secret": base64.b32encode(device.bin_key).decode(),
        "required": signin.two_factor_required(request.user),
    }
    return _render(request, "signin/two_factor_setup.html", context)


@never_cache
@login_required
def manage(request: HttpRequest) -> HttpResponse:
    """Settings page (user menu): status, new recovery codes, turn off."""
    user = request.user
    context = {
        "title": _("Two-factor authentication"),
        "enrolled": signin.two_factor_enrolled(user),
        "required": signin.two_factor_required(user),
        "codes_left": signin.two_factor_recovery_codes_left(user=user),
    }
    return _render(request, "signin/two_factor_manage.html", context)


@never_cache
@login_required
@require_POST
def recovery_codes(request: HttpRequest) -> HttpResponse:
    if not signin.two_factor_enrolled(request.user):
        return HttpResponseRedirect(reverse("two_factor:manage"))
    codes = signin.two_factor_recovery_codes_create(user=request.user)
    return _render(
        request,
        "signin/two_factor_recovery_codes.html",
        {"title": _("Recovery codes"), "codes": codes, "next": reverse("two_factor:manage")},
    )


@never_cache
@login_required
@require_POST
def disable(request: HttpRequest) -> HttpResponse:
    signin.two_factor_disable(user=request.user)
    signin.remember_enrolment(request=request)
    if signin.two_factor_required(request.user):
        messages.warning(request, _("Two-factor authentication is off. Your role requires it: set it up again."))
        return HttpResponseRedirect(reverse("two_factor:setup"))
    messages.success(request, _("Two-factor authentication is off."))
    return HttpResponseRedirect(reverse("two_factor:manage"))


urlpatterns = [
    path("verify/", verify, name="verify"),
    path("setup/", setup, name="setup"),
    path("", manage, name="manage"),
    path("recovery-codes/", recovery_codes, name="recovery_codes"),
    path("disable/", disable, name="disable"),
]
urls = (urlpatterns, "two_factor")
