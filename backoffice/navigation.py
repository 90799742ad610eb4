"""The Unfold sidebar: Inventory / Sales / Purchasing / Reports / Administration.

Items are shown only to users who may view the model behind them; apps add
their entries here as they are built.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.urls import reverse, reverse_lazy
from django.utils.translation import gettext_lazy as _


def _can_view(perm: str):
    return lambda request: request.user.has_perm(perm)


def _item(title, icon, app, model):
    return {
        "title": title,
        "icon": icon,
        "link": reverse_lazy(f"admin:{app}_{model}_changelist"),
        "permission": _can_view(f"{app}.view_{model}"),
    }


def _item_if_registered(title, icon, app, model):
    """An item for a model whose admin may not be registered yet (apps are built in parallel)."""
    from django.apps import apps
    from django.contrib import admin

    return _item(title, icon, app, model) if admin.site.is_registered(apps.get_model(app, model)) else None


def _job_item(title, icon, model):
    """Imports / Exports: every staff user sees their own jobs there (Admins and Managers everyone's)."""
    return {
        "title": title,
        "icon": icon,
        "link": reverse_lazy(f"admin:backoffice_{model}_changelist"),
        "permission": lambda request: request.user.is_active and request.user.is_staff,
    }


def _feedback_item(request):
    """ "Send feedback", on every admin page: the link carries the page it was clicked on."""
    send_url = reverse("admin:backoffice_feedback_send")
    page = request.get_full_path()
    link = send_url if page.startswith(send_url) else f"{send_url}?{urlencode({'next': page})}"
    return {"title": _("Send feedback"), "icon": "rate_review", "link": link}


def _report_items(request) -> list[dict]:
    """ "All reports" and one entry per report the user may run (``reports.registry``)."""
    from reports.registry import RUN_PERMISSION, reports_for

    if not request.user.has_perm(RUN_PERMISSION):
        return []
    list_url = reverse("reports:list")
    # "active" only on the list itself: every report page's address starts with the list's.
    items = [
        {
            "title": _("All reports"),
            "icon": "analytics",
            "link": list_url,
            "active": lambda request: request.path == list_url,
        }
    ]
    for report in reports_for(request.user):
        link = reverse("reports:detail", args=[report.name])
        items.append({"title": report.title, "icon": "table_chart", "link": link})
    return items


def sidebar_navigation(request):
    groups = [
        {
            "title": _("Overview"),
            "items": [
                {"title": _("Dashboard"), "icon": "dashboard", "link": reverse_lazy("admin:index")},
                _feedback_item(request),
            ],
        },
        {
            "title": _("Inventory"),
            "collapsible": True,
            "items": [
                _item(_("Products"), "inventory_2", "inventory", "product"),
                _item(_("Categories"), "category", "inventory", "category"),
                _item(_("Stock levels"), "stacks", "inventory", "stocklevel"),
                _item(_("Stock ledger"), "receipt_long", "inventory", "stockmovement"),
                _item(_("Adjustments"), "rule", "inventory", "stockadjustment"),
                _item(_("Transfers"), "swap_horiz", "inventory", "stocktransfer"),
                _item(_("Warehouses"), "warehouse", "inventory", "warehouse"),
            ],
        },
        {
            "title": _("Sales"),
            "collapsible": True,
            "items": [
                _item_if_registered(_("Sales orders"), "shopping_cart", "orders", "salesorder"),
                _item_if_registered(_("Customers"), "groups", "orders", "customer"),
                _item_if_registered(_("Shipments"), "local_shipping", "orders", "shipment"),
                _item_if_registered(_("Carriers"), "airport_shuttle", "orders", "carrier"),
            ],
        },
        {
            "title": _("Purchasing"),
            "collapsible": True,
            "items": [
                _item_if_registered(_("Purchase orders"), "shopping_bag", "orders", "purchaseorder"),
                _item_if_registered(_("Receipts"), "inventory", "orders", "receipt"),
                _item(_("Suppliers"), "factory", "inventory", "supplier"),
                _item(_("Supplier products"), "sell", "inventory", "supplierproduct"),
            ],
        },
        {
            "title": _("Reports"),
            "collapsible": True,
            "items": [
                *_report_items(request),
                _item_if_registered(_("Scheduled reports"), "schedule_send", "reports", "scheduledreport"),
                _item_if_registered(_("Report runs"), "outgoing_mail", "reports", "reportrun"),
            ],
        },
        {
            "title": _("Administration"),
            "collapsible": True,
            "items": [
                _item(_("Users"), "person", "auth", "user"),
                _item(_("Roles"), "group", "auth", "group"),
                _item(_("Scheduled tasks"), "schedule", "django_q", "schedule"),
                _item(_("Failed tasks"), "error", "django_q", "failure"),
                _item(_("Sign-in log"), "login", "axes", "accesslog"),
                _item(_("Failed sign-ins"), "gpp_bad", "axes", "accessfailurelog"),
                _item(_("Locked sign-ins"), "lock_person", "axes", "accessattempt"),
                _item(_("Two-factor devices"), "phonelink_lock", "otp_totp", "totpdevice"),
                _item(_("Feedback"), "feedback", "backoffice", "feedback"),
                _job_item(_("Imports"), "upload_file", "importjob"),
                _job_item(_("Exports"), "download", "exportjob"),
                _item(_("Webhooks"), "webhook", "integrations", "webhooksubscription"),
                _item(_("Webhook deliveries"), "send", "integrations", "webhookdelivery"),
            ],
        },
    ]
    for group in groups:
        group["items"] = [item for item in group["items"] if item is not None]
    return [group for group in groups if group["items"]]


def account_navigation(request):
    """The user menu (top right): password and two-factor authentication."""
    return [
        {"title": _("Change password"), "link": reverse_lazy("admin:password_change")},
        {"title": _("Two-factor authentication"), "link": reverse_lazy("two_factor:manage")},
        {"title": _("API tokens"), "link": reverse_lazy("admin:integrations_apitoken_changelist")},
    ]


def admin_stylesheet(request) -> str:
    """UNFOLD["STYLES"]: the project's additions to Unfold's styles (hashed name in production)."""
    from django.templatetags.static import static

    return static("backoffice/css/backoffice.css")


def admin_script(request) -> str:
    """UNFOLD["SCRIPTS"]: labels the cells of document lines for phone width (static file, CSP-safe)."""
    from django.templatetags.static import static

    return static("backoffice/phone_labels.js")
