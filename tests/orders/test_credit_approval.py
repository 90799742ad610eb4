"""Credit approval (issue 10 §6): Sales sends an over-limit order to the Managers, who approve or reject it.

Services (orders/services/approvals.py), the e-mails they send after commit, the admin flow (Confirm page,
Approve / Reject pages, the filtered list), the role permission and the start page figure.
"""

from __future__ import annotations

import html
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.core import mail
from django.urls import reverse
from django_q.conf import Conf

from backoffice.errors import CreditLimitExceeded, InvalidTransition, PermissionRefused, ValidationFailed
from backoffice.start_pages import start_page
from inventory.models import StockLevel
from orders import services
from orders.models import SalesOrder, SalesOrderStatus
from tests.factories import CustomerFactory, ProductFactory

pytestmark = pytest.mark.usefixtures("stock_checked")


@pytest.fixture(autouse=True)
def dollars(settings):
    """Amounts are shown as the page shows money (backoffice.money), in a fixed currency here."""
    settings.CURRENCY = "USD"


@pytest.fixture(autouse=True)
def sync_tasks(monkeypatch):
    """django-q2 runs queued e-mails in the test process (as the worker would)."""
    monkeypatch.setattr(Conf, "SYNC", True)


@pytest.fixture
def seller(make_user):
    return make_user("Sales", username="sally")


@pytest.fixture
def boss(make_user):
    return make_user("Manager", username="maggie")


@pytest.fixture
def over_limit(warehouse, stock, seller):
    """A draft of 5 × 30.00 (150.00, no tax) for a customer with a 100.00 limit; 10 on hand."""
    customer = CustomerFactory(code="TIGHT", name="Tight GmbH", credit_limit=Decimal("100.00"))
    product = stock(ProductFactory(sku="TEA", name="Tea", sale_price=Decimal("30.00"), tax_rate=Decimal("0")), 10)
    order = services.sales_order_create(customer=customer, warehouse=warehouse, user=seller)
    services.sales_order_line_add(order=order, product=product, quantity=5, user=seller)
    order.refresh_from_db()
    return order


def text(response) -> str:
    return " ".join(html.unescape(response.content.decode()).split())


def url(name, *args) -> str:
    return reverse(f"admin:orders_{name}", args=args)


def allocated(order) -> int:
    line = order.lines.get()
    return StockLevel.objects.get(product=line.product, warehouse=order.warehouse).allocated


def send_for_approval(order, seller, capture, note="Long-standing customer"):
    with capture(execute=True):
        services.sales_order_request_approval(order=order, user=seller, note=note)
    order.refresh_from_db()
    return order


# Roles --------------------------------------------------------------------------------------------


def test_only_managers_and_admins_may_approve_credit(roles):
    holders = set(Group.objects.filter(permissions__codename="approve_credit").values_list("name", flat=True))
    assert holders == {"Admin", "Manager"}


# Services -----------------------------------------------------------------------------------------


def test_sales_sends_an_over_limit_order_and_every_manager_gets_an_email(
    over_limit, seller, boss, make_user, django_capture_on_commit_callbacks
):
    make_user("Manager", username="mike")
    make_user("Sales", username="other-seller")
    send_for_approval(over_limit, seller, django_capture_on_commit_callbacks)

    assert over_limit.status == SalesOrderStatus.AWAITING_APPROVAL
    assert over_limit.approval_requested_by == seller
    assert over_limit.approval_request_note == "Long-standing customer"
    assert allocated(over_limit) == 0  # nothing reserved until a Manager approves
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert sorted(message.to) == ["maggie@example.com", "mike@example.com"]
    assert over_limit.number in message.subject and "Tight GmbH" in message.subject
    assert "Over by:       USD 50.00" in message.body
    assert "Credit limit:  USD 100.00" in message.body and "Order total:   USD 150.00" in message.body
    assert "Long-standing customer" in message.body
    assert reverse("admin:orders_salesorder_change", args=[over_limit.pk]) in message.body


def test_an_order_within_its_limit_is_not_sent_for_approval(over_limit, seller):
    over_limit.customer.credit_limit = Decimal("1000.00")
    over_limit.customer.save()
    with pytest.raises(ValidationFailed, match="within its customer's credit limit"):
        services.sales_order_request_approval(order=over_limit, user=seller)
    over_limit.refresh_from_db()
    assert over_limit.status == SalesOrderStatus.DRAFT


def test_an_order_awaiting_approval_is_locked_for_sales(over_limit, seller, django_capture_on_commit_callbacks):
    send_for_approval(over_limit, seller, django_capture_on_commit_callbacks)
    with pytest.raises(InvalidTransition):
        services.sales_order_confirm(order=over_limit, user=seller)
    with pytest.raises(InvalidTransition):
        services.sales_order_line_update(line=over_limit.lines.get(), quantity=1, user=seller)
    with pytest.raises(InvalidTransition):
        services.sales_order_request_approval(order=over_limit, user=seller)


def test_manager_approves_with_a_reason_the_order_is_confirmed_and_sales_is_told(
    over_limit, seller, boss, django_capture_on_commit_callbacks
):
    send_for_approval(over_limit, seller, django_capture_on_commit_callbacks)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.sales_order_approve_credit(order=over_limit, user=boss, reason="Paid the last invoice today")
    over_limit.refresh_from_db()
    assert over_limit.status == SalesOrderStatus.CONFIRMED
    assert allocated(over_limit) == 5
    assert (over_limit.credit_override_reason, over_limit.credit_override_by) == ("Paid the last invoice today", boss)
    assert over_limit.approval_decided_by == boss
    statuses = list(over_limit.history.order_by("history_id").values_list("status", "history_user__username"))
    assert ("awaiting_approval", "sally") in statuses and statuses[-1] == ("confirmed", "maggie")
    assert [m.to for m in mail.outbox] == [["sally@example.com"]]
    assert "approved by maggie" in mail.outbox[0].body and "Paid the last invoice today" in mail.outbox[0].body


def test_manager_rejects_with_a_reason_back_to_draft_and_sales_is_told(
    over_limit, seller, boss, django_capture_on_commit_callbacks
):
    send_for_approval(over_limit, seller, django_capture_on_commit_callbacks)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.sales_order_reject_credit(order=over_limit, user=boss, reason="Two invoices overdue")
    over_limit.refresh_from_db()
    assert over_limit.status == SalesOrderStatus.DRAFT
    assert over_limit.approval_rejection_reason == "Two invoices overdue"
    assert allocated(over_limit) == 0
    assert "rejected by maggie" in mail.outbox[0].body and mail.outbox[0].to == ["sally@example.com"]
    # Back in Sales' hands: the draft can be changed again and sent again.
    services.sales_order_line_update(line=over_limit.lines.get(), quantity=4, user=seller)
    with pytest.raises(CreditLimitExceeded):
        services.sales_order_confirm(order=over_limit, user=seller)


def test_approval_needs_the_permission_and_a_reason(over_limit, seller, boss, django_capture_on_commit_callbacks):
    send_for_approval(over_limit, seller, django_capture_on_commit_callbacks)
    with pytest.raises(PermissionRefused):
        services.sales_order_approve_credit(order=over_limit, user=seller, reason="I say so")
    with pytest.raises(PermissionRefused):
        services.sales_order_reject_credit(order=over_limit, user=seller, reason="I say so")
    with pytest.raises(ValidationFailed, match="reason"):
        services.sales_order_approve_credit(order=over_limit, user=boss, reason="   ")
    over_limit.refresh_from_db()
    assert over_limit.status == SalesOrderStatus.AWAITING_APPROVAL


def test_approving_a_draft_is_refused(over_limit, boss):
    with pytest.raises(InvalidTransition, match="not awaiting credit approval"):
        services.sales_order_approve_credit(order=over_limit, user=boss, reason="ok")


def test_awaiting_orders_count_on_the_start_pages_not_as_sales(
    over_limit, seller, boss, django_capture_on_commit_callbacks
):
    send_for_approval(over_limit, seller, django_capture_on_commit_callbacks)
    manager_page = start_page(boss)
    management = {f.label: f for s in manager_page["sections"] if s.key == "management" for f in s.figures}
    assert management["Over credit limit"].value == 1
    assert management["Over credit limit"].url.endswith("?credit=awaiting")
    assert management["Sales this month"].value == 0
    sales = {f.label: f for s in start_page(seller)["sections"] for f in s.figures}
    assert sales["Awaiting credit approval"].value == 1
    assert sales["Drafts"].value == 0


# Admin --------------------------------------------------------------------------------------------


def test_sales_confirm_page_offers_send_for_approval_at_once(
    client, over_limit, seller, boss, django_capture_on_commit_callbacks
):
    client.force_login(seller)
    page = text(client.get(url("salesorder_confirm", over_limit.pk)))
    assert "over the credit limit of USD 100.00 by USD 50.00" in page
    assert "Send it to a Manager for credit approval" in page
    assert 'name="approval_request_note"' in page and "Send for approval" in page
    assert 'name="credit_override_reason"' not in page

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url("salesorder_confirm", over_limit.pk), {"approval_request_note": "Pays in advance"}, follow=True
        )
    assert "was sent to the Managers for credit approval" in text(response)
    over_limit.refresh_from_db()
    assert over_limit.status == SalesOrderStatus.AWAITING_APPROVAL
    assert mail.outbox[0].to == ["maggie@example.com"]
    # The order page shows the request; Sales has no Approve button.
    page = text(client.get(url("salesorder_change", over_limit.pk)))
    assert "Awaiting approval" in page and "Asked by sally" in page
    assert url("salesorder_approve_credit", over_limit.pk) not in page
    assert client.get(url("salesorder_approve_credit", over_limit.pk)).status_code == 403
    assert client.post(url("salesorder_reject_credit", over_limit.pk), {"reason": "x"}).status_code == 403


def test_manager_confirm_page_shows_the_reason_box_on_the_first_attempt(client, over_limit, boss):
    client.force_login(boss)
    page = text(client.get(url("salesorder_confirm", over_limit.pk)))
    assert "over the credit limit of USD 100.00 by USD 50.00" in page
    assert 'name="credit_override_reason"' in page and "Override and confirm" in page


def test_manager_finds_the_order_in_the_list_and_approves_it(
    client, over_limit, seller, boss, django_capture_on_commit_callbacks
):
    send_for_approval(over_limit, seller, django_capture_on_commit_callbacks)
    other = CustomerFactory(code="OTHER")
    services.sales_order_create(customer=other, warehouse=over_limit.warehouse, user=seller)
    client.force_login(boss)
    listing = client.get(url("salesorder_changelist") + "?credit=awaiting")
    assert [o.pk for o in listing.context["cl"].result_list] == [over_limit.pk]

    page = text(client.get(url("salesorder_change", over_limit.pk)))
    assert url("salesorder_approve_credit", over_limit.pk) in page
    assert url("salesorder_confirm", over_limit.pk) not in page
    form = text(client.get(url("salesorder_approve_credit", over_limit.pk)))
    assert "Long-standing customer" in form and 'name="reason"' in form

    refused = client.post(url("salesorder_approve_credit", over_limit.pk), {"reason": ""})
    assert refused.status_code == 200 and "This field is required" in text(refused)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url("salesorder_approve_credit", over_limit.pk), {"reason": "Bank guarantee received"}, follow=True
        )
    assert "confirmed: 5 reserved" in text(response)
    over_limit.refresh_from_db()
    assert over_limit.status == SalesOrderStatus.CONFIRMED
    assert over_limit.credit_override_reason == "Bank guarantee received"
    assert "approved by maggie: Bank guarantee received" in text(response)
    assert mail.outbox[0].to == ["sally@example.com"]


def test_manager_rejects_from_the_admin(client, over_limit, seller, boss, django_capture_on_commit_callbacks):
    send_for_approval(over_limit, seller, django_capture_on_commit_callbacks)
    client.force_login(boss)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url("salesorder_reject_credit", over_limit.pk), {"reason": "Ask for a prepayment"}, follow=True
        )
    assert "sent back to draft" in text(response)
    assert "rejected by maggie: Ask for a prepayment" in text(response)
    assert SalesOrder.objects.get(pk=over_limit.pk).status == SalesOrderStatus.DRAFT
