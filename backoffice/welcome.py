"""The welcome link's pages: choose a password (Django's password-reset confirmation, Unfold-styled), then sign in."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import SetPasswordForm
from django.urls import path, reverse_lazy
from unfold.widgets import UnfoldAdminPasswordWidget


class WelcomeSetPasswordForm(SetPasswordForm):
    """Django's set-password form with Unfold's inputs."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("new_password1", "new_password2"):
            self.fields[name].widget = UnfoldAdminPasswordWidget(attrs={"autocomplete": "new-password"})


class WelcomeSetPasswordView(auth_views.PasswordResetConfirmView):
    """Check the link's token, then let the new colleague choose a password (the link is then used up)."""

    form_class = WelcomeSetPasswordForm
    template_name = "registration/welcome_set_password.html"
    success_url = reverse_lazy("welcome_done")

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), **admin.site.each_context(self.request)}


class WelcomeDoneView(auth_views.PasswordResetCompleteView):
    template_name = "registration/welcome_done.html"

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), **admin.site.each_context(self.request)}


urls = [
    path("<uidb64>/<token>/", WelcomeSetPasswordView.as_view(), name="welcome_set_password"),
    path("done/", WelcomeDoneView.as_view(), name="welcome_done"),
]
