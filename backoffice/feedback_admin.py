"""Admin for staff feedback: the "Send feedback" page (any staff user) and the triage list (Admin role).

The triage list needs the ``backoffice.view_feedback``/``change_feedback``
permissions, which only the Admin role (and superusers) have. Sending needs
nothing but a staff account: the send page is an admin view of this admin.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin
from unfold.decorators import display

from backoffice.admin_tools import is_valid_pk
from backoffice.feedback import CONTENT_TYPES, FeedbackForm, feedback_submit, safe_page
from backoffice.models import Feedback


@admin.register(Feedback)
class FeedbackAdmin(ModelAdmin):
    """Triage: newest first, filter by status, change the status right in the list."""

    list_display = ["__str__", "created_at", "status", "summary", "page_link", "user"]
    list_display_links = ["__str__"]
    list_editable = ["status"]
    list_filter = ["status", "created_at"]
    list_select_related = ["user"]
    search_fields = ["message", "page", "user__username"]
    date_hierarchy = "created_at"
    show_full_result_count = False
    fields = ["status", "message", "page_link", "user", "user_agent", "created_at", "screenshot_preview"]
    readonly_fields = ["message", "page_link", "user", "user_agent", "created_at", "screenshot_preview"]

    @display(description=_("message"))
    def summary(self, obj):
        return Truncator(obj.message).chars(80)

    @display(description=_("page"))
    def page_link(self, obj):
        # Only a path on this site is ever stored (backoffice.feedback.safe_page).
        return format_html('<a href="{}" class="text-primary-600">{}</a>', obj.page, obj.page) if obj.page else "—"

    @display(description=_("screenshot"))
    def screenshot_preview(self, obj):
        if not obj.screenshot:
            return "—"
        url = reverse("admin:backoffice_feedback_screenshot", args=[obj.pk])
        return format_html(
            '<a href="{}" target="_blank" rel="noopener"><img src="{}" alt="{}" class="max-w-2xl rounded-default"></a>',
            url,
            url,
            _("Screenshot"),
        )

    def has_add_permission(self, request):
        return False  # feedback is sent from the "Send feedback" page, never typed in here

    def get_urls(self):
        urls = [
            path("send/", self.admin_site.admin_view(self.send_view), name="backoffice_feedback_send"),
            path(
                "<path:object_id>/screenshot/",
                self.admin_site.admin_view(self.screenshot_view),
                name="backoffice_feedback_screenshot",
            ),
        ]
        return urls + super().get_urls()

    def send_view(self, request):
        """The feedback form: any active staff user (admin_view checks that) may send one."""
        posted = request.method == "POST"
        data, files = (request.POST, request.FILES) if posted else (None, None)
        came_from = request.POST.get("next") if posted else request.GET.get("next") or request.META.get("HTTP_REFERER")
        page = safe_page(came_from or "", request)
        form = FeedbackForm(data, files, initial={"next": page})
        if form.is_valid():
            try:
                feedback_submit(
                    user=request.user,
                    message=form.cleaned_data["message"],
                    page=page,
                    user_agent=request.META.get("HTTP_USER_AGENT", ""),
                    screenshot=form.cleaned_data["screenshot"],
                )
            except ValidationError as error:
                form.add_error(None, error)
            else:
                messages.success(request, _("Thank you: your feedback was sent to the administrators."))
                return HttpResponseRedirect(page or reverse("admin:index"))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Send feedback"),
            "form": form,
            "page": page,
        }
        return TemplateResponse(request, "admin/backoffice/feedback/send.html", context)

    def screenshot_view(self, request, object_id):
        """The screenshot, to those who may view feedback, as the image type found when it was uploaded."""
        if not self.has_view_permission(request) or not is_valid_pk(Feedback, object_id):
            raise Http404
        feedback = get_object_or_404(Feedback, pk=object_id)
        extension = feedback.screenshot.name.rsplit(".", 1)[-1] if feedback.screenshot else ""
        if extension not in CONTENT_TYPES or not feedback.screenshot.storage.exists(feedback.screenshot.name):
            raise Http404
        response = FileResponse(feedback.screenshot.open("rb"), content_type=CONTENT_TYPES[extension])
        response["Content-Disposition"] = "inline"
        response["X-Content-Type-Options"] = "nosniff"
        return response
