"""Users (Unfold): one page to add or change a colleague — name, e-mail, role, warehouses, can log in.

Adding a user sets no password: the welcome e-mail carries a link to choose one (``backoffice.onboarding``).
The writes go through ``user_onboard`` / ``user_set_access``; only Admins manage users (backoffice/roles.py).
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import UsernameField
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin
from unfold.decorators import action, display
from unfold.forms import AdminPasswordChangeForm, UserChangeForm
from unfold.widgets import (
    UnfoldAdminCheckboxSelectMultipleWidget,
    UnfoldAdminEmailInputWidget,
    UnfoldAdminRadioSelectWidget,
    UnfoldAdminTextInputWidget,
    UnfoldBooleanSwitchWidget,
)

from backoffice.errors import BusinessError
from backoffice.onboarding import ROLE_HELP, ROLES, send_welcome_email, user_onboard, user_role, user_set_access
from inventory.models import Warehouse

User = get_user_model()


def _role_field():
    return forms.ChoiceField(
        label=_("Role"),
        required=False,
        choices=[("", _("No role (cannot work yet)"))] + [(role, f"{role} — {ROLE_HELP[role]}") for role in ROLES],
        widget=UnfoldAdminRadioSelectWidget,
        help_text=_("What this person does; the role decides what they see and may change."),
    )


def _warehouses_field():
    return forms.ModelMultipleChoiceField(
        label=_("Warehouses"),
        queryset=Warehouse.objects.filter(is_active=True).order_by("code"),
        required=False,
        widget=UnfoldAdminCheckboxSelectMultipleWidget,
        help_text=_("Where a Warehouse user works (they see only these). Other roles see every warehouse."),
    )


class UserOnboardingForm(forms.ModelForm):
    """Add a colleague: no password here — the welcome e-mail lets them choose one."""

    role = _role_field()
    warehouses = _warehouses_field()
    is_staff = forms.BooleanField(
        label=_("Can log in"),
        required=False,
        initial=True,
        widget=UnfoldBooleanSwitchWidget,
        help_text=_("On for anyone given a role."),
    )

    class Meta:
        model = User
        fields = ["username", "first_name", "last_name", "email"]
        field_classes = {"username": UsernameField}
        widgets = {
            "username": UnfoldAdminTextInputWidget,
            "first_name": UnfoldAdminTextInputWidget,
            "last_name": UnfoldAdminTextInputWidget,
            "email": UnfoldAdminEmailInputWidget,
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["email"].required = True
        self.fields["email"].help_text = _("The welcome e-mail with the set-password link goes here.")

    def clean_username(self):
        username = self.cleaned_data["username"].strip()
        if User.objects.filter(username__iexact=username).exists():
            raise forms.ValidationError(_("This username is taken."))
        return username

    def clean(self):
        data = super().clean()
        if data.get("role") == "Warehouse" and not data.get("warehouses"):
            self.add_error("warehouses", _("A Warehouse user needs at least one warehouse."))
        return data


class UserAccessForm(UserChangeForm):
    """Change a colleague: details, role, warehouses, can log in / active."""

    role = _role_field()
    warehouses = _warehouses_field()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["role"].initial = user_role(self.instance)
            self.fields["warehouses"].initial = list(self.instance.warehouses.values_list("pk", flat=True))
        if "is_staff" in self.fields:
            self.fields["is_staff"].label = _("Can log in")

    def clean(self):
        data = super().clean()
        if data.get("role") == "Warehouse" and not data.get("warehouses"):
            self.add_error("warehouses", _("A Warehouse user needs at least one warehouse."))
        return data


class BackofficeUserAdmin(DjangoUserAdmin, ModelAdmin):
    """Colleagues: one Unfold page with name, e-mail, role, warehouses; new users get a welcome e-mail."""

    add_form = UserOnboardingForm
    form = UserAccessForm
    change_password_form = AdminPasswordChangeForm
    add_fieldsets = (
        (None, {"fields": ("username", "first_name", "last_name", "email")}),
        (_("Access"), {"fields": ("role", "warehouses", "is_staff")}),
    )
    fieldsets = (
        (None, {"fields": ("username", "first_name", "last_name", "email", "password")}),
        (_("Access"), {"fields": ("role", "warehouses", "is_staff", "is_active", "is_superuser")}),
        (_("Record"), {"fields": ("last_login", "date_joined"), "classes": ["collapse"]}),
    )
    readonly_fields = ("last_login", "date_joined")
    list_display = ("username", "full_name", "email", "roles", "is_staff", "is_active", "last_login")
    list_filter = ("is_staff", "is_active", "groups")
    filter_horizontal = ()
    actions = ["send_welcome_selected"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("groups")

    @display(description=_("name"))
    def full_name(self, obj):
        return obj.get_full_name() or "—"

    @display(description=_("role"))
    def roles(self, obj):
        return ", ".join(sorted(group.name for group in obj.groups.all())) or "—"

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            super().save_model(request, obj, form, change)
            return
        created = user_onboard(
            username=data["username"],
            email=data["email"],
            first_name=data.get("first_name", ""),
            last_name=data.get("last_name", ""),
            role=data.get("role", ""),
            warehouses=data.get("warehouses") or [],
            is_staff=data.get("is_staff"),
            by=request.user,
        )
        obj.pk = created.pk
        obj._state.adding = False
        obj._state.db = created._state.db
        messages.success(
            request,
            _("A welcome e-mail with a link to choose a password goes to %(email)s.") % {"email": created.email},
        )

    def save_related(self, request, form, formsets, change):
        if change:
            super().save_related(request, form, formsets, change)
            data = form.cleaned_data
            user_set_access(
                user=form.instance,
                role=data.get("role", ""),
                warehouses=data.get("warehouses") or [],
                is_staff=data.get("is_staff"),
                by=request.user,
            )

    def save_form(self, request, form, change):
        if change:
            return super().save_form(request, form, change)
        return form.save(commit=False)

    @action(description=_("Send the welcome e-mail again"), permissions=["change"])
    def send_welcome_selected(self, request, queryset):
        sent = []
        for user in queryset:
            try:
                send_welcome_email(user, invited_by=request.user)
            except BusinessError as error:
                self.message_user(request, error.message, messages.ERROR)
            else:
                sent.append(user.username)
        if sent:
            self.message_user(request, _("Welcome e-mail queued for %(users)s.") % {"users": ", ".join(sent)})


def register(site=None) -> None:
    """Replace Django's user admin with this one."""
    site = site or admin.site
    if site.is_registered(User):
        site.unregister(User)
    site.register(User, BackofficeUserAdmin)
