"""Credit approval: Sales sends an over-limit draft to the Managers, who approve it (confirmed) or reject it.

draft ──request──▶ awaiting approval ──approve (reason)──▶ confirmed (stock reserved, ``sales_order_confirm``)
                                     └─reject (reason)───▶ draft (Sales told why)

Every step is recorded on the order (who, when, why) and so in its history. The Managers (every active user
with ``APPROVE_CREDIT_PERM`` and an e-mail address) get an e-mail when an order is sent; the Sales user who sent
it gets one when it is approved or rejected. E-mails leave after the commit (``send_email_later``).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from backoffice.errors import InvalidTransition, PermissionRefused, ValidationFailed
from backoffice.events import business_event
from backoffice.history import save_with_user
from backoffice.mail import send_email_later
from orders.models import SalesOrder, SalesOrderStatus
from orders.services._common import _locked, _user_or_none
from orders.services.sales import (
    APPROVE_CREDIT_PERM,
    CreditExposure,
    _confirmation_problems,
    _order_lines,
    _price_lines,
    confirm_locked,
    credit_exposure,
)

REASON_MAX = 2000


def _reason(text: str, what: str) -> str:
    text = (text or "").strip()
    if not text:
        raise ValidationFailed(f"{what} is required.")
    if len(text) > REASON_MAX:
        raise ValidationFailed(f"{what} is too long (at most {REASON_MAX} characters).")
    return text


def _require_approver(user) -> None:
    if user is None or not user.has_perm(APPROVE_CREDIT_PERM):
        raise PermissionRefused("Only a Manager may approve or reject an order awaiting credit approval.")


def order_url(order: SalesOrder) -> str:
    return f"{settings.SITE_URL}{reverse('admin:orders_salesorder_change', args=[order.pk])}"


def credit_approvers():
    """Active users who may approve credit and have an e-mail address (Managers, Admins, superusers)."""
    app_label, codename = APPROVE_CREDIT_PERM.split(".")
    permission = Permission.objects.filter(content_type__app_label=app_label, codename=codename)
    return (
        get_user_model()
        .objects.filter(is_active=True)
        .filter(Q(is_superuser=True) | Q(groups__permissions__in=permission) | Q(user_permissions__in=permission))
        .exclude(email="")
        .distinct()
        .order_by("pk")
    )


def _mail(template: str, subject: str, to: list[str], **context) -> None:
    if to:
        send_email_later(subject, to, render_to_string(f"orders/email/{template}.txt", context))


@transaction.atomic
def sales_order_request_approval(*, order: SalesOrder, user, note: str = "") -> tuple[SalesOrder, CreditExposure]:
    """Send a draft that is over its customer's credit limit to the Managers for approval.

    Refused when the order could be confirmed as it is (within the limit, or no limit) or has problems that
    would stop its confirmation anyway (no lines, inactive products...). The order is then read-only until a
    Manager decides. Returns the order and the credit figures the Managers are told.
    """
    order = _locked(SalesOrder, order.pk, "customer", "warehouse")
    if order.status != SalesOrderStatus.DRAFT:
        raise InvalidTransition(
            f"{order.number} is {order.get_status_display().lower()}; only a draft can be sent for approval."
        )
    lines = _order_lines(order)
    problems = _confirmation_problems(order, lines)
    if problems:
        raise ValidationFailed(f"{order.number} cannot be confirmed: {'; '.join(problems)}.", problems=problems)
    _price_lines(order, lines)
    check = credit_exposure(customer=order.customer, amount=order.total, exclude_order_id=order.pk)
    if check is None or not check.over:
        raise ValidationFailed(f"{order.number} is within its customer's credit limit: confirm it directly.")
    order.status = SalesOrderStatus.AWAITING_APPROVAL
    order.approval_requested_by = _user_or_none(user)
    order.approval_requested_at = timezone.now()
    order.approval_request_note = (note or "").strip()[:REASON_MAX]
    order.approval_rejection_reason = ""
    order.approval_decided_by = None
    order.approval_decided_at = None
    save_with_user(order, user)
    approvers = [u.email for u in credit_approvers()]
    _mail(
        "credit_approval_requested",
        f"Credit approval needed: {order.number} for {order.customer.name}",
        approvers,
        order=order,
        check=check,
        requested_by=user,
        url=order_url(order),
    )
    business_event(
        "sales_order.approval_requested",
        order=order.number,
        order_id=order.pk,
        customer_id=order.customer_id,
        excess=str(check.excess),
        approvers=len(approvers),
        by_user_id=getattr(user, "pk", None),
    )
    return order, check


def _requester_address(order: SalesOrder) -> list[str]:
    requester = order.approval_requested_by or order.created_by
    return [requester.email] if requester is not None and requester.email else []


@transaction.atomic
def sales_order_approve_credit(*, order: SalesOrder, user, reason: str) -> SalesOrder:
    """A Manager approves an order awaiting credit approval, with a reason: it is confirmed (stock reserved).

    The reason and the Manager are recorded as the order's credit override; Sales is told by e-mail.
    """
    _require_approver(user)
    reason = _reason(reason, "A reason for the approval")
    order = _locked(SalesOrder, order.pk, "customer", "warehouse", "approval_requested_by", "created_by")
    order.approval_decided_by = _user_or_none(user)
    order.approval_decided_at = timezone.now()
    order = confirm_locked(
        order, user=user, credit_override_reason=reason, from_status=SalesOrderStatus.AWAITING_APPROVAL
    )
    if not order.credit_override_reason:
        # Within the limit by now (other orders shipped or were cancelled): the approval is still recorded.
        order.credit_override_reason = reason
        order.credit_override_by = _user_or_none(user)
        save_with_user(order, user, update_fields=["credit_override_reason", "credit_override_by", "updated_at"])
    _announce_decision(order, user, reason, approved=True)
    return order


@transaction.atomic
def sales_order_reject_credit(*, order: SalesOrder, user, reason: str) -> SalesOrder:
    """A Manager rejects an order awaiting credit approval, with a reason: it goes back to draft, Sales is told."""
    _require_approver(user)
    reason = _reason(reason, "A reason for the rejection")
    order = _locked(SalesOrder, order.pk, "customer", "approval_requested_by", "created_by")
    if order.status != SalesOrderStatus.AWAITING_APPROVAL:
        raise InvalidTransition(
            f"{order.number} is {order.get_status_display().lower()}, not awaiting credit approval."
        )
    order.status = SalesOrderStatus.DRAFT
    order.approval_rejection_reason = reason
    order.approval_decided_by = _user_or_none(user)
    order.approval_decided_at = timezone.now()
    save_with_user(
        order,
        user,
        update_fields=[
            "status",
            "approval_rejection_reason",
            "approval_decided_by",
            "approval_decided_at",
            "updated_at",
        ],
    )
    _announce_decision(order, user, reason, approved=False)
    return order


def _announce_decision(order: SalesOrder, user, reason: str, *, approved: bool) -> None:
    """Tell the Sales user who asked (e-mail) and the log (business event) how a Manager decided."""
    subject = (
        f"Credit approved: {order.number} is confirmed"
        if approved
        else f"Credit rejected: {order.number} is back to draft"
    )
    _mail(
        "credit_approval_decided",
        subject,
        _requester_address(order),
        order=order,
        approved=approved,
        reason=reason,
        decided_by=user,
        url=order_url(order),
    )
    business_event(
        "sales_order.credit_approved" if approved else "sales_order.credit_rejected",
        order=order.number,
        order_id=order.pk,
        by_user_id=getattr(user, "pk", None),
    )


def sales_order_credit_check(*, order: SalesOrder) -> CreditExposure | None:
    """The credit figures of a draft as they stand (a read: no lock), for the Confirm page to ask at once for
    what it will need (a Manager's reason, or Sales' request for approval). ``None``: the customer has no limit.
    The services check again, under lock, when the step is taken."""
    from orders.services.customers import customer_open_order_value

    customer = order.customer
    if customer.credit_limit is None:
        return None
    return CreditExposure(
        customer=customer,
        credit_limit=customer.credit_limit,
        open_value=customer_open_order_value(customer=customer, exclude_order_id=order.pk),
        amount=order.total,
    )
