"""Admin of API tokens (shown once at creation) and webhooks (subscriptions, deliveries, Redeliver)."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin, TabularInline
from unfold.decorators import display

from backoffice.errors import BusinessError
from integrations import tokens, webhooks
from integrations.models import (
    WEBHOOK_EVENTS,
    ApiToken,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
)

try:  # knox registers its own (swapped-out) token model; ours replaces it
    from knox.models import AuthToken as KnoxAuthToken

    admin.site.unregister(KnoxAuthToken)
except (ImportError, admin.sites.NotRegistered):
    pass


def _shown_once(request, admin_obj, *, heading: str, secret: str, usage: str = ""):
    context = {
        **admin_obj.admin_site.each_context(request),
        "opts": admin_obj.model._meta,
        "title": heading,
        "heading": heading,
        "secret": secret,
        "usage": usage,
        "back_url": reverse(f"admin:{admin_obj.model._meta.app_label}_{admin_obj.model._meta.model_name}_changelist"),
    }
    return TemplateResponse(request, "admin/integrations/secret_shown_once.html", context)


def _manages_all_tokens(user) -> bool:
    return user.is_superuser or user.has_perm("integrations.change_apitoken")


class ApiTokenCreateForm(forms.ModelForm):
    expires_days = forms.IntegerField(
        label=_("Expires in (days)"), min_value=1, max_value=tokens.MAX_TOKEN_DAYS, initial=tokens.default_token_days
    )

    class Meta:
        model = ApiToken
        fields = ["user", "name"]

    def __init__(self, *args, request=None, **kwargs):
        super().__init__(*args, **kwargs)
        if request is not None and not _manages_all_tokens(request.user):
            del self.fields["user"]  # a person creates tokens for themself only
        elif "user" in self.fields:
            self.fields["user"].queryset = get_user_model().objects.filter(is_active=True)


@admin.register(ApiToken)
class ApiTokenAdmin(ModelAdmin):
    """Any staff user manages their own tokens; a superuser (or change permission) everyone's."""

    list_display = ["name", "token_key", "user", "created", "expiry", "last_used_at", "state"]
    search_fields = ["name", "token_key", "user__username"]
    list_filter = ["created", "expiry"]
    readonly_fields = ["name", "token_key", "user", "created", "expiry", "last_used_at"]
    actions = ["revoke"]

    @display(description=_("State"), label={"active": "success", "expired": "danger"})
    def state(self, obj):
        return "expired" if obj.is_expired else "active"

    def get_queryset(self, request):
        queryset = super().get_queryset(request).select_related("user")
        return queryset if _manages_all_tokens(request.user) else queryset.filter(user=request.user)

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_staff

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request) and (
            obj is None or _manages_all_tokens(request.user) or obj.user_id == request.user.pk
        )

    def has_add_permission(self, request):
        return self.has_module_permission(request)

    def has_change_permission(self, request, obj=None):
        return False  # a token is never edited: revoke it and create another

    def has_delete_permission(self, request, obj=None):
        return self.has_view_permission(request, obj)

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            form = ApiTokenCreateForm

            class RequestForm(form):
                def __init__(self, *args, **inner):
                    super().__init__(*args, request=request, **inner)

            kwargs["form"] = RequestForm
            kwargs["fields"] = None
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["user", "name", "expires_days"] if _manages_all_tokens(request.user) else ["name", "expires_days"]
        return self.readonly_fields

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else []

    def add_view(self, request, form_url="", extra_context=None):
        if request.method == "POST":
            form_class = self.get_form(request)
            form = form_class(request.POST)
            if form.is_valid():
                owner = form.cleaned_data.get("user") or request.user
                try:
                    token, secret = tokens.api_token_create(
                        user=owner, name=form.cleaned_data["name"], expires_days=form.cleaned_data["expires_days"]
                    )
                except BusinessError as error:
                    self.message_user(request, str(error), messages.ERROR)
                else:
                    self.log_addition(request, token, [{"added": {}}])
                    return _shown_once(
                        request,
                        self,
                        heading=_("API token “%(name)s” for %(user)s") % {"name": token.name, "user": owner},
                        secret=secret,
                        usage=_("Send it as: Authorization: Bearer <token>"),
                    )
        return super().add_view(request, form_url, extra_context)

    @admin.action(description=_("Revoke selected tokens"))
    def revoke(self, request, queryset):
        count = tokens.api_token_revoke(queryset)
        self.message_user(request, _("%(count)d token(s) revoked.") % {"count": count}, messages.SUCCESS)


class SubscriptionForm(forms.ModelForm):
    target_url = forms.URLField(max_length=500, assume_scheme="https")
    events = forms.MultipleChoiceField(choices=WEBHOOK_EVENTS, widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = WebhookSubscription
        fields = ["name", "target_url", "events", "is_active"]

    def clean_target_url(self):
        url = self.cleaned_data["target_url"]
        webhooks.validate_target_url(url)
        return url


class AttemptInline(TabularInline):
    model = WebhookAttempt
    extra = 0
    can_delete = False
    fields = ["number", "at", "status_code", "duration_ms", "error"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(ModelAdmin):
    form = SubscriptionForm
    list_display = ["name", "target_url", "event_list", "is_active", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["name", "target_url"]
    actions = ["rotate_secret"]

    @display(description=_("Events"))
    def event_list(self, obj):
        return ", ".join(obj.events or [])

    def save_model(self, request, obj, form, change):
        if not change:
            obj.secret = webhooks.generate_secret()
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    def response_add(self, request, obj, post_url_continue=None):
        return _shown_once(
            request,
            self,
            heading=_("Signing secret of webhook “%(name)s”") % {"name": obj.name},
            secret=obj.secret,
            usage=_("Verify X-Backoffice-Signature with it (docs/api.md, Webhooks)."),
        )

    @admin.action(description=_("Rotate the signing secret (shown once)"), permissions=["change"])
    def rotate_secret(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, _("Select exactly one subscription."), messages.WARNING)
            return None
        subscription = queryset.get()
        subscription.secret = webhooks.generate_secret()
        subscription.save(update_fields=["secret"])
        return _shown_once(
            request,
            self,
            heading=_("New signing secret of webhook “%(name)s”") % {"name": subscription.name},
            secret=subscription.secret,
        )


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ModelAdmin):
    list_display = ["event", "subscription", "status", "attempts", "created_at", "delivered_at", "next_attempt_at"]
    list_filter = ["status", "event", "subscription"]
    search_fields = ["event_id"]
    readonly_fields = [
        "subscription",
        "event",
        "event_id",
        "payload",
        "status",
        "attempts",
        "created_at",
        "delivered_at",
        "next_attempt_at",
    ]
    inlines = [AttemptInline]
    actions = ["redeliver"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_redeliver_permission(self, request, obj=None):
        return request.user.has_perm("integrations.change_webhooksubscription")

    @admin.action(description=_("Redeliver"), permissions=["redeliver"])
    def redeliver(self, request, queryset):
        count = webhooks.redeliver(queryset.select_related("subscription"))
        self.message_user(request, _("%(count)d delivery(ies) queued again.") % {"count": count}, messages.SUCCESS)
