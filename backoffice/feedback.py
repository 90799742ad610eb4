"""Staff feedback: the form behind the "Send feedback" link, and the service that records it.

Any staff user may send feedback from any admin page; the page it came from
(a same-site path only), the user, the browser and the time are recorded, with
an optional screenshot. Each new item is e-mailed to ``settings.ADMINS`` once
the transaction commits. Admins triage it in the admin (backoffice.feedback_admin).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import mail_admins
from django.db import transaction
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _
from unfold.widgets import UnfoldAdminFileFieldWidget, UnfoldAdminTextareaWidget

from backoffice.models import Feedback
from backoffice.uploads import size_text

MESSAGE_MAX_LENGTH = 5000
PAGE_MAX_LENGTH = 500
USER_AGENT_MAX_LENGTH = 500


@dataclass(frozen=True)
class ImageKind:
    extension: str
    content_type: str


# Recognised by their first bytes, whatever the file is called: a screenshot is served back with
# the type found here (and nosniff), so a renamed HTML or SVG file can never be served as a page.
IMAGE_SIGNATURES: list[tuple[bytes, ImageKind]] = [
    (b"\x89PNG\r\n\x1a\n", ImageKind("png", "image/png")),
    (b"\xff\xd8\xff", ImageKind("jpg", "image/jpeg")),
    (b"GIF87a", ImageKind("gif", "image/gif")),
    (b"GIF89a", ImageKind("gif", "image/gif")),
]
CONTENT_TYPES = {kind.extension: kind.content_type for _, kind in IMAGE_SIGNATURES} | {"webp": "image/webp"}


def screenshot_max_bytes() -> int:
    """FEEDBACK_SCREENSHOT_MAX_BYTES (5 MB), never above the general upload limit IMPORT_MAX_BYTES."""
    own = int(getattr(settings, "FEEDBACK_SCREENSHOT_MAX_BYTES", 5 * 1024 * 1024))
    return min(own, int(getattr(settings, "IMPORT_MAX_BYTES", own)))


def image_kind(head: bytes) -> ImageKind | None:
    """The image type of a file from its first 12 bytes (PNG, JPEG, GIF, WebP), or None."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return ImageKind("webp", "image/webp")
    return next((kind for signature, kind in IMAGE_SIGNATURES if head.startswith(signature)), None)


def screenshot_check(upload) -> ImageKind:
    """Refuse anything but a PNG, JPEG, GIF or WebP image within the size limit."""
    limit = screenshot_max_bytes()
    if upload.size > limit:
        raise ValidationError(
            _("The screenshot is %(size)s; the limit is %(limit)s."),
            params={"size": size_text(upload.size), "limit": size_text(limit)},
            code="too_big",
        )
    upload.seek(0)
    head = upload.read(12)
    upload.seek(0)
    kind = image_kind(head)
    if kind is None:
        raise ValidationError(
            _("The screenshot must be a PNG, JPEG, GIF or WebP image; this file is not one."), code="not_an_image"
        )
    return kind


def safe_page(value: str, request) -> str:
    """``value`` as a path on this site (``/admin/...?q=1``), or "" for anything else (another site, a scheme)."""
    value = (value or "").strip()
    if not value or not url_has_allowed_host_and_scheme(
        value, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return ""
    parts = urlsplit(value)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    if not path.startswith("/") or path.startswith("//") or len(path) > PAGE_MAX_LENGTH:
        return ""
    return path


class FeedbackForm(forms.Form):
    """What the user types; the page, user and browser come from the request."""

    message = forms.CharField(
        label=_("Message"),
        max_length=MESSAGE_MAX_LENGTH,
        widget=UnfoldAdminTextareaWidget(attrs={"rows": 6}),
        help_text=_("What went wrong, what is missing, or what would help. The page you came from is added."),
    )
    screenshot = forms.FileField(
        label=_("Screenshot"),
        required=False,
        widget=UnfoldAdminFileFieldWidget(attrs={"accept": "image/png,image/jpeg,image/gif,image/webp"}),
        help_text=_("Optional: a PNG, JPEG, GIF or WebP image up to %(limit)s.")
        % {"limit": size_text(screenshot_max_bytes())},
    )
    next = forms.CharField(widget=forms.HiddenInput, required=False)

    def clean_screenshot(self):
        upload = self.cleaned_data.get("screenshot")
        if upload:
            screenshot_check(upload)
        return upload


def feedback_submit(*, user, message: str, page: str, user_agent: str, screenshot=None) -> Feedback:
    """Record one piece of feedback; admins are e-mailed after the commit."""
    kind = screenshot_check(screenshot) if screenshot else None
    with transaction.atomic():
        feedback = Feedback(
            user=user, message=message, page=page[:PAGE_MAX_LENGTH], user_agent=user_agent[:USER_AGENT_MAX_LENGTH]
        )
        feedback.full_clean()  # before the screenshot is written: refused input leaves no file behind
        if screenshot:
            # Our own name and extension (from the file's bytes), never the client's file name.
            feedback.screenshot.save(f"screenshot.{kind.extension}", screenshot, save=False)
        feedback.save()
        transaction.on_commit(lambda: feedback_notify_admins(feedback_id=feedback.pk), robust=True)
    return feedback


def feedback_notify_admins(*, feedback_id: int) -> None:
    """One e-mail to settings.ADMINS about a new feedback item (nothing when ADMINS is empty)."""
    feedback = Feedback.objects.select_related("user").get(pk=feedback_id)
    link = reverse("admin:backoffice_feedback_change", args=[feedback.pk])
    lines = [
        f"From: {feedback.user or 'unknown user'}",
        f"Page: {feedback.page or '(not known)'}",
        f"Browser: {feedback.user_agent or '(not known)'}",
        f"Screenshot: {'yes' if feedback.screenshot else 'no'}",
        f"Triage it: {link}",
        "",
        feedback.message,
    ]
    mail_admins(f"Feedback #{feedback.pk} from {feedback.user or 'unknown user'}", "\n".join(lines))
