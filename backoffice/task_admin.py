"""Unfold admins for django-q2, replacing the ones django-q2 registers.

* Scheduled tasks: the function (and result hook) is chosen from the
  application's registered tasks (``backoffice.task_registry``); arguments must
  be Python literals. Free text such as ``os.system`` is refused for everyone.
* Successful and failed tasks: read-only (no "resubmit", which would re-run
  whatever function a row names).
* The raw broker queue (``OrmQ``, signed pickled payloads): superusers only.

Imported by ``BackofficeConfig.ready()``, after admin autodiscovery has
registered django-q2's own admins, so the unregistering below always finds them.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.template.defaultfilters import truncatechars
from django.utils.translation import gettext_lazy as _
from django_q.conf import croniter
from django_q.models import Failure, OrmQ, Schedule, Success
from unfold.admin import ModelAdmin
from unfold.decorators import display
from unfold.widgets import UnfoldAdminSelectWidget

from backoffice.task_registry import parse_schedule_args, parse_schedule_kwargs, task_choices

# Cron expressions need croniter (not installed): without it the cron field and type are left out.
SCHEDULE_FIELDS = ["name", "func", "hook", "args", "kwargs", "schedule_type", "minutes"]
SCHEDULE_FIELDS += ["cron"] if croniter else []
SCHEDULE_FIELDS += ["repeats", "next_run"]


class ScheduleForm(forms.ModelForm):
    """A schedule of one of the application's tasks, with literal arguments."""

    func = forms.ChoiceField(label=_("Task"), widget=UnfoldAdminSelectWidget)
    hook = forms.ChoiceField(
        label=_("Result hook"),
        required=False,
        widget=UnfoldAdminSelectWidget,
        help_text=_("Optional: a registered task called with the finished task."),
    )

    class Meta:
        model = Schedule
        fields = SCHEDULE_FIELDS

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        choices = task_choices()
        self.fields["func"].choices = [("", "---------"), *choices]
        self.fields["hook"].choices = [("", "---------"), *choices]
        if not croniter:
            self.fields["schedule_type"].choices = [
                choice for choice in self.fields["schedule_type"].choices if choice[0] != Schedule.CRON
            ]

    def clean_hook(self):
        return self.cleaned_data.get("hook") or None

    def clean_args(self):
        value = self.cleaned_data.get("args")
        parse_schedule_args(value)
        return value or None

    def clean_kwargs(self):
        value = self.cleaned_data.get("kwargs")
        parse_schedule_kwargs(value)
        return value or None


class ScheduleAdmin(ModelAdmin):
    """Scheduled tasks: what runs when; only registered task functions can be chosen."""

    form = ScheduleForm
    fields = SCHEDULE_FIELDS
    list_display = ("name", "func", "schedule_type", "repeats", "next_run", "last_result")
    list_filter = ("schedule_type",)
    search_fields = ("name", "func")
    list_display_links = ("name",)

    @display(description=_("Last run"), label={True: "success", False: "danger"})
    def last_result(self, obj):
        return obj.success()


class _ReadOnlyTaskAdmin(ModelAdmin):
    """A task result: looked at, maybe deleted, never edited or re-run."""

    list_display = ("name", "func", "group", "started", "stopped", "short_result")
    list_filter = ("group",)
    search_fields = ("name", "func", "group")
    date_hierarchy = "started"
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @display(description=_("Result"))
    def short_result(self, obj):
        return truncatechars(str(obj.result), 100)


class SuccessAdmin(_ReadOnlyTaskAdmin):
    """Tasks that finished without error."""


class FailureAdmin(_ReadOnlyTaskAdmin):
    """Tasks that raised: the result holds the error and traceback."""


class QueueAdmin(ModelAdmin):
    """Tasks waiting in the database broker (signed payloads): superusers only."""

    list_display = ("id", "key", "name", "func", "lock")
    fields = ("key", "name", "func", "lock", "task_id")
    readonly_fields = fields

    def _superuser(self, request) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_module_permission(self, request):
        return self._superuser(request)

    def has_view_permission(self, request, obj=None):
        return self._superuser(request)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return self._superuser(request)


def register() -> None:
    """Swap django-q2's admins for these (idempotent)."""
    pairs = [(Schedule, ScheduleAdmin), (Success, SuccessAdmin), (Failure, FailureAdmin)]
    if admin.site.is_registered(OrmQ):
        pairs.append((OrmQ, QueueAdmin))
    for model, model_admin in pairs:
        if admin.site.is_registered(model):
            if isinstance(admin.site.get_model_admin(model), model_admin):
                continue
            admin.site.unregister(model)
        admin.site.register(model, model_admin)
