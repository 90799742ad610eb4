"""Admin of scheduled reports (with Send now / Resend and the next send time) and of their runs (read-only).

The run's file is downloaded through ``ReportRunAdmin.download_view`` — it
checks the permissions, it is never a public media URL: the user needs
``view_reportrun``, must be allowed to run the report, and — since the file
holds the report as the schedule's owner sees it — must be its owner or see
every warehouse.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin
from unfold.admin import ModelAdmin
from unfold.decorators import action, display
from unfold.enums import ActionVariant
from unfold.widgets import UnfoldAdminSelectWidget, UnfoldAdminTextareaWidget

from backoffice.admin_tools import SafeHistoryAdminMixin, change_url, confirm_dialog, status_badge, workflow_redirect
from backoffice.scoping import user_warehouse_ids
from reports.models import Frequency, ReportRun, RunStatus, ScheduledReport
from reports.registry import ReportError, ReportParamError, UnknownReport, get_report, reports_for
from reports.scheduling import next_due, period_for, site_zone
from reports.sends import invalid_recipients, scheduled_report_send_now, validate_schedule_params

WEEKDAYS = [(0, _("Monday")), (1, _("Tuesday")), (2, _("Wednesday")), (3, _("Thursday"))]
WEEKDAYS += [(4, _("Friday")), (5, _("Saturday")), (6, _("Sunday"))]
RUN_COLORS = {"pending": "info", "sent": "success", "failed": "danger", "skipped": "warning"}


class ScheduledReportForm(forms.ModelForm):
    """Report as a choice of the reports the user may run; params checked by the report's own filterset."""

    report = forms.ChoiceField(label=_("Report"), widget=UnfoldAdminSelectWidget)
    weekday = forms.TypedChoiceField(
        label=_("Weekday"),
        choices=[("", "—"), *WEEKDAYS],
        coerce=int,
        empty_value=None,
        widget=UnfoldAdminSelectWidget,
        required=False,
        help_text=_("Weekly schedules: the day it is sent."),
    )
    params = forms.JSONField(
        label=_("Parameters"),
        required=False,
        initial=dict,
        widget=UnfoldAdminTextareaWidget(attrs={"rows": 3}),
        help_text=_(
            'The report\'s filters as JSON, e.g. {"date_range": "last_week", "warehouse": "MAIN"}. '
            "Without date_range a run covers the period before the send day (yesterday, the previous 7 days "
            "or the previous month)."
        ),
    )

    class Meta:
        model = ScheduledReport
        fields = [
            "name",
            "report",
            "params",
            "format",
            "frequency",
            "weekday",
            "day_of_month",
            "send_time",
            "recipients",
            "roles",
            "only_if_rows",
            "is_active",
        ]

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["report"].choices = [("", "—")] + [(r.name, f"{r.title} ({r.name})") for r in reports_for(user)]
        if "params" in self.fields and self.instance.pk and self.instance.params is not None:
            self.initial["params"] = self.instance.params

    def clean_recipients(self):
        text = self.cleaned_data.get("recipients", "")
        bad = invalid_recipients(text)
        if bad:
            raise forms.ValidationError(
                _("Not e-mail addresses: %(bad)s. Separate addresses with commas or new lines.")
                % {"bad": ", ".join(bad)}
            )
        return text

    def clean_params(self):
        params = self.cleaned_data.get("params")
        if params in (None, ""):
            return {}
        if not isinstance(params, dict):
            raise forms.ValidationError(_('Parameters must be a JSON object, e.g. {"date_range": "last_week"}.'))
        return params

    def clean(self):
        data = super().clean()
        frequency = data.get("frequency")
        if frequency == Frequency.WEEKLY and data.get("weekday") is None:
            self.add_error("weekday", _("A weekly schedule needs the weekday it is sent on."))
        if frequency == Frequency.MONTHLY and not data.get("day_of_month"):
            self.add_error("day_of_month", _("A monthly schedule needs the day of the month (1–28)."))
        if frequency != Frequency.WEEKLY:
            data["weekday"] = None
        if frequency != Frequency.MONTHLY:
            data["day_of_month"] = None
        if not data.get("recipients", "").strip() and not data.get("roles"):
            self.add_error("recipients", _("Add at least one address or a role to send the report to."))
        report, params = data.get("report"), data.get("params")
        if report and isinstance(params, dict) and "params" not in self.errors:
            try:
                validate_schedule_params(report, params, user=self.user)
            except UnknownReport as error:
                self.add_error("report", str(error))
            except ReportParamError as error:
                self.add_error(
                    "params",
                    [f"{key}: {' '.join(str(m) for m in messages_)}" for key, messages_ in error.errors.items()],
                )
            except ReportError as error:
                self.add_error("report", str(error))
        return data


@admin.register(ScheduledReport)
class ScheduledReportAdmin(SafeHistoryAdminMixin, SimpleHistoryAdmin, ModelAdmin):
    """Scheduled reports: what is sent, when, to whom; Send now sends the current period at once."""

    form = ScheduledReportForm
    list_display = ["name", "report", "frequency_text", "format", "is_active", "next_send", "last_run"]
    list_filter = ["is_active", "frequency", "format"]
    search_fields = ["name", "report", "recipients"]
    filter_horizontal = ["roles"]
    readonly_fields = ["next_send_preview", "owner", "recent_runs"]
    actions_detail = ["send_now", "resend"]
    fieldsets = [
        (None, {"fields": ["name", "report", "params", "format", "is_active"]}),
        (_("When"), {"fields": ["frequency", "weekday", "day_of_month", "send_time", "next_send_preview"]}),
        (_("To whom"), {"fields": ["recipients", "roles", "only_if_rows", "owner"]}),
        (_("Runs"), {"fields": ["recent_runs"]}),
    ]

    def get_form(self, request, obj=None, change=False, **kwargs):
        form_class = super().get_form(request, obj, change=change, **kwargs)

        class FormWithUser(form_class):
            def __init__(self, *args, **inner):
                super().__init__(*args, user=request.user, **inner)

        return FormWithUser

    def save_model(self, request, obj, form, change):
        if not change:
            obj.owner = request.user
        super().save_model(request, obj, form, change)

    # -- columns
    @display(description=_("frequency"))
    def frequency_text(self, obj):
        return describe_frequency(obj)

    @display(description=_("next send"))
    def next_send(self, obj):
        moment = next_due(obj, timezone.now()) if obj.is_active else None
        return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M") if moment else "—"

    @display(description=_("last run"))
    def last_run(self, obj):
        run = obj.runs.order_by("-created_at").first()
        if run is None:
            return "—"
        return format_html('<a href="{}">{} · {}</a>', change_url(run), run.period_start, run.get_status_display())

    @display(description=_("next send"))
    def next_send_preview(self, obj):
        if obj is None or obj.pk is None:
            return _("Shown once saved.")
        if not obj.is_active:
            return _("Not sent: the schedule is inactive.")
        moment = next_due(obj, timezone.now())
        if moment is None:
            return "—"
        local = timezone.localtime(moment)
        first, last = period_for(obj.frequency, obj.params, moment.astimezone(site_zone()).date())
        covers = first.isoformat() if first == last else f"{first.isoformat()} – {last.isoformat()}"
        return _("%(when)s (%(zone)s), covering %(period)s") % {
            "when": local.strftime("%a %Y-%m-%d %H:%M"),
            "zone": local.tzname(),
            "period": covers,
        }

    @display(description=_("recent runs"))
    def recent_runs(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        runs = list(obj.runs.order_by("-period_start")[:5])
        if not runs:
            return _("None yet.")
        return format_html(
            "<br>".join(["{}"] * len(runs)),
            *[
                format_html('<a href="{}">{} – {}: {}</a>', change_url(r), r.period_start, r.period_end, r.status)
                for r in runs
            ],
        )

    # -- Send now / Resend
    def has_send_permission(self, request, object_id=None):
        return request.user.has_perm("reports.change_scheduledreport")

    def has_resend_permission(self, request, object_id=None):
        if not self.has_send_permission(request):
            return False
        if object_id is None:
            return True
        schedule = (
            object_id if isinstance(object_id, ScheduledReport) else self.get_object(request, unquote(str(object_id)))
        )
        if schedule is None:
            return False
        first, _last = period_for(schedule.frequency, schedule.params, timezone.localdate())
        return schedule.runs.filter(period_start=first).exclude(status=RunStatus.PENDING).exists()

    def _send(self, request, object_id, *, resend: bool):
        schedule = self.get_object(request, unquote(object_id))
        if schedule is None:
            raise Http404
        outcome = scheduled_report_send_now(schedule=schedule, resend=resend)
        level = {
            RunStatus.SENT: messages.SUCCESS,
            RunStatus.SKIPPED: messages.WARNING,
            "already": messages.WARNING,
            "busy": messages.WARNING,
        }.get(outcome.status, messages.ERROR)
        self.message_user(request, outcome.message[:1].upper() + outcome.message[1:], level)
        return workflow_redirect(request, change_url(schedule))

    @action(
        description=_("Send now"),
        icon="send",
        variant=ActionVariant.PRIMARY,
        permissions=["send"],
        url_path="send-now",
        dialog=confirm_dialog(
            _("Send this report now?"),
            _("Sends the period a send today would cover to every recipient, once; a period already sent says so."),
            _("Send now"),
        ),
    )
    def send_now(self, request, form, object_id):
        return self._send(request, object_id, resend=False)

    @action(
        description=_("Resend"),
        icon="forward_to_inbox",
        permissions=["resend"],
        url_path="resend",
        dialog=confirm_dialog(
            _("Send this period again?"),
            _("The current period was sent already; everyone gets it again (the same run, counted as a resend)."),
            _("Resend"),
        ),
    )
    def resend(self, request, form, object_id):
        return self._send(request, object_id, resend=True)


def describe_frequency(schedule: ScheduledReport) -> str:
    at = schedule.send_time.strftime("%H:%M") if schedule.send_time else ""
    if schedule.frequency == Frequency.WEEKLY and schedule.weekday is not None:
        return f"{dict(WEEKDAYS)[schedule.weekday]}s at {at}"
    if schedule.frequency == Frequency.MONTHLY and schedule.day_of_month:
        return f"Monthly on day {schedule.day_of_month} at {at}"
    return f"Daily at {at}"


def may_download(user, run: ReportRun) -> bool:
    """The run's file shows the report as the owner sees it: the owner, or someone seeing every warehouse."""
    if not (user.is_active and user.has_perm("reports.view_reportrun")):
        return False
    schedule = run.scheduled_report
    try:
        report_class = get_report(schedule.report)
    except UnknownReport:
        return False
    if not report_class.allowed(user):
        return False
    return user.pk == schedule.owner_id or user_warehouse_ids(user) is None


@admin.register(ReportRun)
class ReportRunAdmin(ModelAdmin):
    """Each send of a scheduled report: period, status, recipients, errors, attempts and the file (read-only)."""

    list_display = ["scheduled_report", "period", "status_label", "row_count", "attempts", "sent_at", "download"]
    list_filter = ["status", "scheduled_report"]
    list_select_related = ["scheduled_report"]
    search_fields = ["scheduled_report__name", "recipients", "error"]
    date_hierarchy = "period_start"
    status_label = status_badge(colors=RUN_COLORS)
    fields = [
        "scheduled_report",
        "period_start",
        "period_end",
        "status_label",
        "row_count",
        "recipients",
        "skipped",
        "error",
        "attempts",
        "resends",
        "next_attempt_at",
        "created_at",
        "sent_at",
        "download",
    ]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @display(description=_("period"), ordering="period_start")
    def period(self, obj):
        if obj.period_start == obj.period_end:
            return obj.period_start.isoformat()
        return f"{obj.period_start.isoformat()} – {obj.period_end.isoformat()}"

    @display(description=_("file"))
    def download(self, obj):
        if not obj.file:
            return "—"
        url = reverse("admin:reports_reportrun_download", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, obj.file.name.rsplit("/", 1)[-1])

    def get_urls(self):
        return [
            path(
                "<path:object_id>/download/",
                self.admin_site.admin_view(self.download_view),
                name="reports_reportrun_download",
            ),
            *super().get_urls(),
        ]

    def download_view(self, request, object_id):
        run = self.get_object(request, unquote(object_id))
        if run is None or not run.file:
            raise Http404("No such file.")
        if not may_download(request.user, run):
            raise PermissionDenied
        try:
            handle = run.file.open("rb")
        except FileNotFoundError:
            raise Http404("The file is gone.") from None
        return FileResponse(handle, as_attachment=True, filename=run.file.name.rsplit("/", 1)[-1])
