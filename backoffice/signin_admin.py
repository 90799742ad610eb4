"""Admin pages for sign-in security, in Unfold's look: login audit, lockouts, two-factor devices.

django-axes' own admin is off (``AXES_ENABLE_ADMIN = False``) and django-otp's
device admins are replaced: they would show another user's TOTP key, QR code
and recovery codes. Here an administrator sees who signed in, out and failed
(read-only), unlocks locked sign-ins, and resets a user's two-factor
authentication (the user enrols again); nobody sees a secret.

Visible to superusers and the Admin role only.
"""

from __future__ import annotations

from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.conf import settings
from django.contrib import admin, messages
from django.db import transaction
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from unfold.admin import ModelAdmin
from unfold.decorators import action, display

from backoffice.roles import ADMIN
from backoffice.signin import two_factor_disable

AUDIT_FIELDS = ("username", "ip_address", "attempt_time", "path_info", "user_agent")


def is_administrator(user) -> bool:
    return user.is_active and (user.is_superuser or user.groups.filter(name=ADMIN).exists())


class AdministratorsOnlyMixin:
    """Model permissions, and on top the Admin role or superuser (audit data is not for managers)."""

    def has_module_permission(self, request):
        return is_administrator(request.user) and super().has_module_permission(request)

    def has_view_permission(self, request, obj=None):
        return is_administrator(request.user) and super().has_view_permission(request, obj)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ReadOnlyAuditAdmin(AdministratorsOnlyMixin, ModelAdmin):
    """An audit trail: listed and searched, never edited or deleted from the admin."""

    search_fields = ("username", "ip_address")
    date_hierarchy = "attempt_time"
    list_per_page = 50
    show_full_result_count = False

    def has_delete_permission(self, request, obj=None):
        return False


class SignInLogAdmin(ReadOnlyAuditAdmin):
    """Successful sign-ins, with the time the session logged out."""

    list_display = ("attempt_time", "username", "ip_address", "logout_time", "path_info", "user_agent")
    list_filter = ("attempt_time", "logout_time")
    fields = (*AUDIT_FIELDS, "logout_time")
    readonly_fields = fields


class FailedSignInAdmin(ReadOnlyAuditAdmin):
    """Every failed sign-in (admin form and API), and whether it was refused by a lockout."""

    list_display = ("attempt_time", "username", "ip_address", "locked_out", "path_info", "user_agent")
    list_filter = ("attempt_time", "locked_out")
    fields = (*AUDIT_FIELDS, "locked_out")
    readonly_fields = fields


class LockedOutFilter(admin.SimpleListFilter):
    title = _("locked out")
    parameter_name = "locked_out"

    def lookups(self, request, model_admin):
        return (("yes", _("Yes")), ("no", _("No")))

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(failures_since_start__gte=settings.AXES_FAILURE_LIMIT)
        if self.value() == "no":
            return queryset.filter(failures_since_start__lt=settings.AXES_FAILURE_LIMIT)
        return queryset


class LockedSignInAdmin(AdministratorsOnlyMixin, ModelAdmin):
    """Failed sign-ins counting towards a lockout, per username and address; unlock by deleting them.

    ``manage.py axes_reset`` (or ``axes_reset_username`` / ``axes_reset_ip``) does the same from a shell.
    """

    list_display = ("username", "ip_address", "status", "failures_since_start", "attempt_time", "path_info")
    list_filter = (LockedOutFilter, "attempt_time")
    search_fields = ("username", "ip_address")
    fields = ("username", "ip_address", "failures_since_start", "attempt_time", "path_info", "user_agent")
    readonly_fields = fields
    actions = ["unlock"]

    @display(description=_("status"), label={_("Locked"): "danger", _("Counting"): "warning"})
    def status(self, obj):
        return _("Locked") if obj.failures_since_start >= settings.AXES_FAILURE_LIMIT else _("Counting")

    @action(description=_("Unlock: clear the failed attempts"), permissions=["delete"])
    def unlock(self, request, queryset):
        count = queryset.count()
        queryset.delete()
        self.message_user(
            request,
            ngettext("%(count)d sign-in unlocked.", "%(count)d sign-ins unlocked.", count) % {"count": count},
            messages.SUCCESS,
        )


class TwoFactorDeviceAdmin(AdministratorsOnlyMixin, ModelAdmin):
    """Who has an authenticator app. Deleting one resets the user's two-factor authentication
    (recovery codes go too); a role that requires it makes the user enrol again at the next page."""

    list_display = ("user", "name", "confirmed", "created_at", "last_used_at")
    list_filter = ("confirmed",)
    list_select_related = ("user",)
    search_fields = ("user__username", "user__email")
    fields = ("user", "name", "confirmed", "created_at", "last_used_at")
    readonly_fields = fields

    # Deleting a device is a reset of the user's two-factor authentication: the service removes every
    # authenticator (a pending enrolment too) and the recovery codes.
    def delete_model(self, request, obj):
        two_factor_disable(user=obj.user)

    @transaction.atomic
    def delete_queryset(self, request, queryset):
        for user in {device.user for device in queryset.select_related("user")}:
            two_factor_disable(user=user)


def register(site=None) -> None:
    """Put these admins on the site, replacing django-otp's (which show keys, QR codes and recovery codes)."""
    site = site or admin.site
    for model in (TOTPDevice, StaticDevice):
        if site.is_registered(model):
            site.unregister(model)
    site.register(AccessLog, SignInLogAdmin)
    site.register(AccessFailureLog, FailedSignInAdmin)
    site.register(AccessAttempt, LockedSignInAdmin)
    site.register(TOTPDevice, TwoFactorDeviceAdmin)
