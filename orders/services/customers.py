"""Customer services: create, update, open order value."""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction
from django.db.models import Sum

from backoffice.errors import ValidationFailed
from backoffice.history import save_with_user
from orders.models import (
    Customer,
    SalesOrder,
    SalesOrderStatus,
)
from orders.services._common import (
    ZERO,
    _clean,
    _locked,
    _set_fields,
)

# Customers --------------------------------------------------------------------------------------

CUSTOMER_FIELDS = {
    "code",
    "name",
    "contact_name",
    "email",
    "phone",
    "billing_address",
    "shipping_address",
    "country",
    "credit_limit",
    "tax_exempt",
    "is_active",
}


def _normalise_customer(customer: Customer) -> None:
    customer.code = (customer.code or "").strip().upper()
    customer.name = (customer.name or "").strip()
    if customer.credit_limit is not None and customer.credit_limit < 0:
        raise ValidationFailed("A credit limit cannot be negative (leave it empty for no limit).")


@transaction.atomic
def customer_create(*, user, **fields) -> Customer:
    """A new customer; the code is stored upper-case and must be unique."""
    customer = Customer()
    _set_fields(customer, fields, CUSTOMER_FIELDS)
    _normalise_customer(customer)
    _clean(customer)
    save_with_user(customer, user)
    return customer


@transaction.atomic
def customer_update(*, customer: Customer, user, **fields) -> Customer:
    """Change a customer's details. Orders already confirmed keep their prices and tax."""
    customer = _locked(Customer, customer.pk)
    _set_fields(customer, fields, CUSTOMER_FIELDS)
    _normalise_customer(customer)
    _clean(customer)
    save_with_user(customer, user)
    return customer


def customer_open_order_value(*, customer: Customer, exclude_order_id: int | None = None) -> Decimal:
    """Total value of the customer's confirmed and partially shipped orders."""
    queryset = SalesOrder.objects.filter(customer=customer, status__in=SalesOrderStatus.OPEN)
    if exclude_order_id is not None:
        queryset = queryset.exclude(pk=exclude_order_id)
    return queryset.aggregate(total=Sum("total"))["total"] or ZERO
