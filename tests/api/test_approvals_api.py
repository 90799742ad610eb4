"""Credit approval over the API: ``POST sales-orders/{id}/send-for-approval/``, ``approve/`` and ``reject/``
(issue 10 §6 through the issue 9 API), through ``orders.services.approvals`` as the admin's pages are.

Happy paths, every business refusal (its code, nothing changed), who may do what (the admin's permissions:
whoever may confirm sends, ``orders.approve_credit`` approves and rejects), warehouse scoping, ``If-Match``,
``Idempotency-Key``, the webhook and e-mails that follow; ``check_stock`` is clean after every test.
"""

from __future__ import annotations

import io
import json
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.core import mail
from django.core.management import call_command
from django_q.conf import Conf
from rest_framework.test import APIClient

from integrations.models import IdempotencyKey, WebhookDelivery, WebhookSubscription
from inventory.models import Product, StockLevel
from orders import services
from orders.models import SalesOrder, SalesOrderStatus
from tests.api.token_helpers import bearer, make_token
from tests.factories import CustomerFactory, WarehouseFactory

pytestmark = pytest.mark.django_db

ORDERS = "/api/v1/sales-orders/"
NOTE = "Long-standing customer; pays within 30 days."
REASON = "Paid their last 12 invoices on time."


@pytest.fixture(autouse=True)
def stock_checked(db):
    """``check_stock`` after each test: ledger = on hand, allocated = open reservations."""
    yield
    output = io.StringIO()
    try:
        call_command("check_stock", stdout=output, stderr=output)
    except SystemExit:
        pytest.fail(f"check_stock found discrepancies:\n{output.getvalue()}")


@pytest.fixture
def tight(db):
    """A customer with a 20.00 credit limit: 3 × CHAI (54.00 + tax) is over it."""
    return CustomerFactory(code="TIGHT", credit_limit=Decimal("20.00"))


@pytest.fixture
def seller(make_user):
    return make_user("Sales", username="sally")


@pytest.fixture
def boss(make_user):
    return make_user("Manager", username="maggie")


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def url(order_id: int, action: str) -> str:
    return f"{ORDERS}{order_id}/{action}/"


def draft(client, customer="TIGHT", quantity=3) -> dict:
    body = {"customer": customer, "warehouse": "MAIN", "lines": [{"product": "CHAI", "quantity": quantity}]}
    created = client.post(ORDERS, body, format="json")
    assert created.status_code == 201, created.json()
    return created.json()


@pytest.fixture
def over_limit(seller, tight, stocked_product) -> dict:
    """A draft over TIGHT's credit limit, entered by Sales."""
    return draft(api(seller))


@pytest.fixture
def awaiting(seller, over_limit) -> dict:
    """The over-limit draft, sent by Sales for credit approval."""
    sent = api(seller).post(url(over_limit["id"], "send-for-approval"), {"note": NOTE}, format="json")
    assert sent.status_code == 200, sent.json()
    return sent.json()


def allocated() -> int:
    return StockLevel.objects.get(product__sku="CHAI").allocated


def snapshot(order_id: int) -> dict:
    """What a refused request must leave as it was."""
    order = SalesOrder.objects.get(pk=order_id)
    return {
        "status": order.status,
        "updated_at": order.updated_at,
        "credit_override_reason": order.credit_override_reason,
        "approval_requested_at": order.approval_requested_at,
        "approval_decided_at": order.approval_decided_at,
        "approval_rejection_reason": order.approval_rejection_reason,
        "reserved": [line.quantity_reserved for line in order.lines.all()],
        "allocated": allocated(),
    }


def assert_error(response, status_code: int, code: str):
    assert response.status_code == status_code, response.json()
    body = response.json()
    assert body["code"] == code and set(body) >= {"code", "detail", "fields"}
    return body


# Happy paths ---------------------------------------------------------------------------------------


def test_confirm_refuses_then_sales_sends_the_order_for_approval(seller, over_limit):
    client = api(seller)
    refused = client.post(url(over_limit["id"], "confirm"), {}, format="json")
    assert_error(refused, 409, "credit_limit_exceeded")

    sent = client.post(url(over_limit["id"], "send-for-approval"), {"note": f"  {NOTE} "}, format="json")

    assert sent.status_code == 200, sent.json()
    body = sent.json()
    assert body["status"] == SalesOrderStatus.AWAITING_APPROVAL
    assert body["approval_request_note"] == NOTE
    assert body["approval_requested_at"] and body["approval_decided_at"] is None and body["confirmed_at"] is None
    assert [line["quantity_reserved"] for line in body["lines"]] == [0]
    assert sent["ETag"]
    order = SalesOrder.objects.get(pk=over_limit["id"])
    assert order.status == SalesOrderStatus.AWAITING_APPROVAL and order.approval_requested_by == seller
    assert allocated() == 0


def test_the_note_is_optional(seller, over_limit):
    sent = api(seller).post(url(over_limit["id"], "send-for-approval"), format="json")

    assert sent.status_code == 200, sent.json()
    assert sent.json()["status"] == "awaiting_approval" and sent.json()["approval_request_note"] == ""


def test_an_order_awaiting_approval_is_read_only(seller, awaiting):
    client = api(seller)

    edited = client.patch(f"{ORDERS}{awaiting['id']}/", {"customer_reference": "changed"}, format="json")
    confirmed = client.post(url(awaiting["id"], "confirm"), {}, format="json")

    assert_error(edited, 409, "invalid_transition")
    assert_error(confirmed, 409, "invalid_transition")
    assert SalesOrder.objects.get(pk=awaiting["id"]).status == SalesOrderStatus.AWAITING_APPROVAL


def test_a_manager_approves_and_the_order_is_confirmed_with_stock_reserved(boss, awaiting):
    approved = api(boss).post(url(awaiting["id"], "approve"), {"reason": REASON}, format="json")

    assert approved.status_code == 200, approved.json()
    body = approved.json()
    assert body["status"] == SalesOrderStatus.CONFIRMED and body["confirmed_at"]
    assert body["credit_override_reason"] == REASON and body["approval_decided_at"]
    assert body["approval_rejection_reason"] == ""
    assert [(line["quantity_reserved"], line["quantity_backordered"]) for line in body["lines"]] == [(3, 0)]
    assert allocated() == 3
    order = SalesOrder.objects.get(pk=awaiting["id"])
    assert order.approval_decided_by == boss and order.credit_override_by == boss


def test_a_manager_rejects_with_a_reason_and_the_order_is_back_to_draft(seller, boss, awaiting):
    rejected = api(boss).post(url(awaiting["id"], "reject"), {"reason": "Two invoices overdue."}, format="json")

    assert rejected.status_code == 200, rejected.json()
    body = rejected.json()
    assert body["status"] == SalesOrderStatus.DRAFT and body["confirmed_at"] is None
    assert body["approval_rejection_reason"] == "Two invoices overdue." and body["approval_decided_at"]
    assert body["credit_override_reason"] == ""
    assert allocated() == 0
    order = SalesOrder.objects.get(pk=awaiting["id"])
    assert order.approval_decided_by == boss and order.approval_rejection_reason == "Two invoices overdue."
    # Back in Sales' hands: editable, and may be sent again (the old rejection is cleared).
    client = api(seller)
    assert client.patch(f"{ORDERS}{awaiting['id']}/", {"customer_reference": "R2"}, format="json").status_code == 200
    again = client.post(url(awaiting["id"], "send-for-approval"), {}, format="json")
    assert again.status_code == 200 and again.json()["approval_rejection_reason"] == ""


def test_the_managers_and_then_sales_are_emailed(
    monkeypatch, seller, boss, over_limit, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(Conf, "SYNC", True)  # django-q2 runs the queued e-mails here, as the worker would

    with django_capture_on_commit_callbacks(execute=True):
        api(seller).post(url(over_limit["id"], "send-for-approval"), {"note": NOTE}, format="json")
    assert [message.to for message in mail.outbox] == [[boss.email]]
    assert NOTE in mail.outbox[0].body
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        api(boss).post(url(over_limit["id"], "approve"), {"reason": REASON}, format="json")
    assert [message.to for message in mail.outbox] == [[seller.email]]
    assert REASON in mail.outbox[0].body


def test_approving_sends_the_confirmed_webhook_and_the_other_steps_send_none(
    monkeypatch, seller, boss, over_limit, django_capture_on_commit_callbacks
):
    queued = []
    monkeypatch.setattr("integrations.webhooks.queue_delivery", lambda delivery, attempt: queued.append(delivery))
    WebhookSubscription.objects.create(
        name="shop", target_url="https://shop.example/hooks", events=["sales_order.confirmed"], secret="whsec_x"
    )
    order_id = over_limit["id"]

    with django_capture_on_commit_callbacks(execute=True):
        api(seller).post(url(order_id, "send-for-approval"), {}, format="json")
        api(boss).post(url(order_id, "reject"), {"reason": "no"}, format="json")
        api(seller).post(url(order_id, "send-for-approval"), {}, format="json")
    assert not WebhookDelivery.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        assert api(boss).post(url(order_id, "approve"), {"reason": REASON}, format="json").status_code == 200

    delivery = WebhookDelivery.objects.get()
    assert delivery.event == "sales_order.confirmed" and queued == [delivery]
    assert delivery.payload["data"]["order"] == over_limit["number"]


# Business refusals: their code, nothing changed ----------------------------------------------------


def test_sending_an_order_within_the_credit_limit_is_refused(seller, stocked_product):
    CustomerFactory(code="ROOMY", credit_limit=Decimal("10000.00"))
    order = draft(api(seller), customer="ROOMY")
    before = snapshot(order["id"])

    response = api(seller).post(url(order["id"], "send-for-approval"), {}, format="json")

    body = assert_error(response, 400, "validation_failed")
    assert "within its customer's credit limit" in body["detail"]
    assert snapshot(order["id"]) == before


def test_sending_an_order_that_could_not_be_confirmed_is_refused(seller, over_limit):
    Product.objects.filter(sku="CHAI").update(is_active=False)
    before = snapshot(over_limit["id"])

    response = api(seller).post(url(over_limit["id"], "send-for-approval"), {}, format="json")

    body = assert_error(response, 400, "validation_failed")
    assert "inactive products: CHAI" in body["detail"]
    assert snapshot(over_limit["id"]) == before


def test_sending_twice_is_an_invalid_transition(seller, awaiting):
    before = snapshot(awaiting["id"])

    response = api(seller).post(url(awaiting["id"], "send-for-approval"), {}, format="json")

    assert_error(response, 409, "invalid_transition")
    assert snapshot(awaiting["id"]) == before


@pytest.mark.parametrize("action", ["send-for-approval", "approve", "reject"])
def test_a_confirmed_order_cannot_be_sent_approved_or_rejected(admin_user, stocked_product, action):
    CustomerFactory(code="ROOMY", credit_limit=Decimal("10000.00"))
    client = api(admin_user)
    order = draft(client, customer="ROOMY")
    assert client.post(url(order["id"], "confirm"), {}, format="json").status_code == 200
    before = snapshot(order["id"])

    response = client.post(url(order["id"], action), {"reason": REASON}, format="json")

    assert_error(response, 409, "invalid_transition")
    assert snapshot(order["id"]) == before


@pytest.mark.parametrize("action", ["approve", "reject"])
def test_a_draft_not_sent_cannot_be_approved_or_rejected(boss, over_limit, action):
    before = snapshot(over_limit["id"])

    response = api(boss).post(url(over_limit["id"], action), {"reason": REASON}, format="json")

    body = assert_error(response, 409, "invalid_transition")
    assert "not awaiting credit approval" in body["detail"]
    assert snapshot(over_limit["id"]) == before


@pytest.mark.parametrize("action", ["approve", "reject"])
@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "   "}, {"reason": "x" * 2001}, {"reason": None}])
def test_approving_or_rejecting_needs_a_reason(boss, awaiting, action, body):
    before = snapshot(awaiting["id"])

    response = api(boss).post(url(awaiting["id"], action), body, format="json")

    error = assert_error(response, 400, "invalid")
    assert "reason" in error["fields"]
    assert snapshot(awaiting["id"]) == before


def test_a_note_over_2000_characters_is_a_field_error(seller, over_limit):
    before = snapshot(over_limit["id"])

    response = api(seller).post(url(over_limit["id"], "send-for-approval"), {"note": "x" * 2001}, format="json")

    assert "note" in assert_error(response, 400, "invalid")["fields"]
    assert snapshot(over_limit["id"]) == before


def test_approving_an_order_that_can_no_longer_be_confirmed_is_refused(boss, awaiting):
    Product.objects.filter(sku="CHAI").update(is_active=False)
    before = snapshot(awaiting["id"])

    response = api(boss).post(url(awaiting["id"], "approve"), {"reason": REASON}, format="json")

    assert "inactive products: CHAI" in assert_error(response, 400, "validation_failed")["detail"]
    assert snapshot(awaiting["id"]) == before


def test_an_order_cancelled_while_awaiting_approval_cannot_be_decided(seller, boss, awaiting):
    cancelled = api(seller).post(url(awaiting["id"], "cancel"), {"reason": "customer called"}, format="json")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    before = snapshot(awaiting["id"])

    for action in ("approve", "reject"):
        response = api(boss).post(url(awaiting["id"], action), {"reason": REASON}, format="json")
        assert_error(response, 409, "invalid_transition")
    assert snapshot(awaiting["id"]) == before and before["allocated"] == 0


def test_approving_twice_is_an_invalid_transition(boss, awaiting):
    client = api(boss)
    assert client.post(url(awaiting["id"], "approve"), {"reason": REASON}, format="json").status_code == 200
    before = snapshot(awaiting["id"])

    response = client.post(url(awaiting["id"], "approve"), {"reason": REASON}, format="json")
    rejected = client.post(url(awaiting["id"], "reject"), {"reason": "too late"}, format="json")

    assert_error(response, 409, "invalid_transition")
    assert_error(rejected, 409, "invalid_transition")
    assert snapshot(awaiting["id"]) == before and before["allocated"] == 3


# Who may do what (the admin's permissions) ---------------------------------------------------------

SEND_ROLES = [("Admin", True), ("Manager", True), ("Sales", True), ("Purchasing", False), ("Warehouse", False)]
SEND_ROLES += [("Viewer", False), (None, False)]
DECIDE_ROLES = [("Admin", True), ("Manager", True), ("Sales", False), ("Purchasing", False), ("Warehouse", False)]
DECIDE_ROLES += [("Viewer", False), (None, False)]


def staff_of_main(make_user, role):
    user = make_user(role, username=f"{(role or 'norole').lower()}-2")
    WarehouseFactory(code="MAIN").staff.add(user)
    return user


@pytest.mark.parametrize(("role", "allowed"), SEND_ROLES)
def test_who_may_send_for_approval(make_user, over_limit, role, allowed):
    user = staff_of_main(make_user, role)
    before = snapshot(over_limit["id"])

    response = api(user).post(url(over_limit["id"], "send-for-approval"), {"note": NOTE}, format="json")

    if allowed:
        assert response.status_code == 200, response.json()
        assert SalesOrder.objects.get(pk=over_limit["id"]).approval_requested_by == user
    else:
        assert_error(response, 403, "permission_denied")
        assert snapshot(over_limit["id"]) == before


@pytest.mark.parametrize("action", ["approve", "reject"])
@pytest.mark.parametrize(("role", "allowed"), DECIDE_ROLES)
def test_who_may_approve_or_reject(make_user, awaiting, role, allowed, action):
    user = staff_of_main(make_user, role)
    before = snapshot(awaiting["id"])

    response = api(user).post(url(awaiting["id"], action), {"reason": REASON}, format="json")

    if allowed:
        assert response.status_code == 200, response.json()
        assert response.json()["status"] == ("confirmed" if action == "approve" else "draft")
    else:
        assert_error(response, 403, "permission_denied")
        assert snapshot(awaiting["id"]) == before


def test_anonymous_is_401(over_limit):
    response = APIClient().post(url(over_limit["id"], "send-for-approval"), {}, format="json")

    assert_error(response, 401, "not_authenticated")


# Warehouse scoping ---------------------------------------------------------------------------------


def warehouse_staff_who_may_decide(make_user, code: str):
    """A Warehouse-role user (limited to the warehouses they staff) also given the Sales role and the
    approval permission, so that only the scoping stands between them and the order."""
    from django.contrib.auth.models import Group

    user = make_user("Warehouse", username=f"staff-{code.lower()}")
    user.groups.add(Group.objects.get(name="Sales"))
    user.user_permissions.add(Permission.objects.get(content_type__app_label="orders", codename="approve_credit"))
    WarehouseFactory(code=code).staff.add(user)
    return user


@pytest.mark.parametrize("action", ["send-for-approval", "approve", "reject"])
def test_another_warehouses_order_is_a_404(make_user, seller, over_limit, action):
    order_id = over_limit["id"]
    if action != "send-for-approval":
        api(seller).post(url(order_id, "send-for-approval"), {}, format="json")
    before = snapshot(order_id)

    response = api(warehouse_staff_who_may_decide(make_user, "OTHER")).post(
        url(order_id, action), {"reason": REASON}, format="json"
    )

    assert_error(response, 404, "not_found")
    assert snapshot(order_id) == before


@pytest.mark.parametrize("action", ["send-for-approval", "approve", "reject"])
def test_the_same_user_reaches_their_own_warehouses_order(make_user, seller, over_limit, action):
    order_id = over_limit["id"]
    if action != "send-for-approval":
        api(seller).post(url(order_id, "send-for-approval"), {}, format="json")

    response = api(warehouse_staff_who_may_decide(make_user, "MAIN")).post(
        url(order_id, action), {"reason": REASON}, format="json"
    )

    assert response.status_code == 200, response.json()


# ETag / If-Match ----------------------------------------------------------------------------------


@pytest.mark.parametrize("action", ["send-for-approval", "approve", "reject"])
def test_a_stale_if_match_is_a_412_and_a_fresh_one_goes_through(seller, boss, over_limit, action):
    order_id = over_limit["id"]
    client = api(seller)
    stale = client.get(f"{ORDERS}{order_id}/")["ETag"]
    client.patch(f"{ORDERS}{order_id}/", {"customer_reference": "changed"}, format="json")
    if action != "send-for-approval":
        client.post(url(order_id, "send-for-approval"), {}, format="json")
        client = api(boss)
    before = snapshot(order_id)

    refused = client.post(url(order_id, action), {"reason": REASON}, format="json", HTTP_IF_MATCH=stale)
    assert_error(refused, 412, "precondition_failed")
    assert snapshot(order_id) == before

    fresh = client.get(f"{ORDERS}{order_id}/")["ETag"]
    done = client.post(url(order_id, action), {"reason": REASON}, format="json", HTTP_IF_MATCH=fresh)
    assert done.status_code == 200, done.json()
    assert done["ETag"] != fresh


# Idempotency-Key ----------------------------------------------------------------------------------


def post_with_key(client, token, path, body, key):
    return client.post(
        path, json.dumps(body), content_type="application/json", HTTP_IDEMPOTENCY_KEY=key, **bearer(token)
    )


def test_a_repeated_send_with_the_same_key_is_replayed(client, seller, over_limit):
    token = make_token(seller)
    path = url(over_limit["id"], "send-for-approval")

    first = post_with_key(client, token, path, {"note": NOTE}, "send-17")
    second = post_with_key(client, token, path, {"note": NOTE}, "send-17")
    other_body = post_with_key(client, token, path, {"note": "another note"}, "send-17")

    assert first.status_code == second.status_code == 200
    assert second.json() == first.json() and second["Idempotent-Replayed"] == "true"
    assert second["ETag"] == first["ETag"]
    assert_error(other_body, 422, "idempotency_key_reused")
    assert SalesOrder.objects.get(pk=over_limit["id"]).approval_request_note == NOTE
    assert IdempotencyKey.objects.filter(key="send-17").count() == 1


@pytest.mark.parametrize("action", ["approve", "reject"])
def test_a_repeated_decision_with_the_same_key_is_replayed_and_happens_once(client, boss, awaiting, action):
    token = make_token(boss)
    path = url(awaiting["id"], action)

    first = post_with_key(client, token, path, {"reason": REASON}, f"{action}-17")
    after_first = snapshot(awaiting["id"]), SalesOrder.history.filter(id=awaiting["id"]).count()
    second = post_with_key(client, token, path, {"reason": REASON}, f"{action}-17")
    after_second = snapshot(awaiting["id"]), SalesOrder.history.filter(id=awaiting["id"]).count()
    new_key = post_with_key(client, token, path, {"reason": REASON}, f"{action}-17-again")

    assert first.status_code == second.status_code == 200
    assert second.json() == first.json() and second["Idempotent-Replayed"] == "true"
    assert after_second == after_first  # the replay did nothing
    assert_error(new_key, 409, "invalid_transition")  # a new key runs the action again: refused, not repeated
    assert allocated() == (3 if action == "approve" else 0)


def test_the_services_are_the_only_path(monkeypatch, boss, awaiting):
    """The endpoint calls the approvals service (what the admin's page calls) with the user and the reason."""
    calls = []
    real = services.sales_order_approve_credit

    def spy(**kwargs):
        calls.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(services, "sales_order_approve_credit", spy)

    assert api(boss).post(url(awaiting["id"], "approve"), {"reason": REASON}, format="json").status_code == 200
    assert [(call["order"].pk, call["user"], call["reason"]) for call in calls] == [(awaiting["id"], boss, REASON)]


# The documented curl steps (docs/api.md "Credit approval") --------------------------------------------


def test_the_documented_credit_approval_steps(client, make_user, tight, stocked_product):
    tokens = {}
    for role, username in (("Sales", "shopbot"), ("Manager", "manager")):
        make_user(role, username=username)
        out = io.StringIO()
        call_command("api_token", "create", username, "--name", "approval", stdout=out)
        tokens[role] = {"HTTP_AUTHORIZATION": f"Bearer {out.getvalue().strip()}"}

    def post(role, path, body=None, key=None):
        extra = dict(tokens[role], **({"HTTP_IDEMPOTENCY_KEY": key} if key else {}))
        if body is None:  # curl -X POST without -d: no body, no content type
            return client.generic("POST", path, b"", **extra)
        return client.post(path, json.dumps(body), content_type="application/json", **extra)

    body = {"customer": "TIGHT", "warehouse": "MAIN", "lines": [{"product": "CHAI", "quantity": 2}]}
    order = post("Sales", ORDERS, body, key="web-order-1001").json()["id"]

    refused = post("Sales", url(order, "confirm"), key="web-order-1001-confirm")
    assert refused.status_code == 409 and refused.json()["code"] == "credit_limit_exceeded"
    assert set(refused.json()["data"]) >= {"customer", "credit_limit", "open_orders", "order_total", "excess"}

    sent = post("Sales", url(order, "send-for-approval"), {"note": NOTE}, key="web-order-1001-approval")
    assert sent.status_code == 200 and sent.json()["status"] == "awaiting_approval"
    rejected = post("Manager", url(order, "reject"), {"reason": "Two invoices overdue: ask for prepayment."})
    assert rejected.status_code == 200 and rejected.json()["status"] == "draft"
    assert rejected.json()["approval_rejection_reason"] == "Two invoices overdue: ask for prepayment."

    again = post("Sales", url(order, "send-for-approval"))  # without a note, with no body at all
    assert again.status_code == 200 and again.json()["status"] == "awaiting_approval"
    approved = post("Manager", url(order, "approve"), {"reason": REASON})
    assert approved.status_code == 200 and approved.json()["status"] == "confirmed"
    assert approved.json()["credit_override_reason"] == REASON
    shipment = post("Sales", url(order, "ship"), key="web-order-1001-ship")
    assert shipment.status_code == 201 and shipment.json()["lines"][0]["quantity"] == 2
