"""Customer services: create, update, open order value."""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction
from django.db.models import Sum

from backoffice.errors import ValidationFailed
from backoffice.field_rights import check_field_rights, may
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
    "tax_id",
    "is_active",
}

# Fields only some roles may change (docs/security.md "Credit limit and tax exemption"): Manager and Admin have
# these permissions (backoffice/roles.py). Sales may still create customers: these fields then keep their defaults
# (not tax-exempt, no VAT number) and the credit limit is 0, no credit, until a Manager sets one.
CHANGE_CREDIT_PERM = "orders.change_customer_credit"
CHANGE_TAX_ID_PERM = "orders.change_customer_tax_id"
CUSTOMER_PROTECTED_FIELDS = {
    "credit_limit": CHANGE_CREDIT_PERM,
    "tax_exempt": CHANGE_CREDIT_PERM,
    "tax_id": CHANGE_TAX_ID_PERM,
}


def customer_check_field_rights(*, user, customer: Customer | None, fields: dict) -> None:
    """Refuse (``FieldChangeRefused``) a change of credit limit, tax exemption or VAT number the user may not make.

    ``customer`` is the saved record (``None`` for a new one: then the fields may only keep their defaults).
    The admin and the customer import both rely on this rule; ``user=None`` is the system (demo data, commands).
    """
    check_field_rights(user, model=Customer, current=customer, values=fields, rules=CUSTOMER_PROTECTED_FIELDS)


NO_CREDIT = Decimal("0.00")


def customer_new_credit_fields(*, user, fields: dict) -> dict:
    """``fields`` for a new customer, with the credit limit a user without ``CHANGE_CREDIT_PERM`` gets: 0.

    ``credit_limit=None`` means unlimited credit, so a customer created by Sales (limit left empty, or 0) has no
    credit until a Manager sets a limit: its orders need a Manager's credit override to be confirmed. Managers and
    Admins (and the system, ``user=None``) choose freely. Any other limit is left in ``fields``, for
    ``customer_check_field_rights`` to refuse. The admin, ``customer_create`` and both customer imports use it.
    """
    if may(user, CHANGE_CREDIT_PERM):
        return fields
    requested = fields.get("credit_limit")
    if requested in (None, "") or requested == 0:
        return {**fields, "credit_limit": NO_CREDIT}
    return fields


def customer_check_new_field_rights(*, user, fields: dict) -> dict:
    """``customer_check_field_rights`` for a new customer; returns the fields with ``customer_new_credit_fields``."""
    values = customer_new_credit_fields(user=user, fields=fields)
    customer_check_field_rights(
        user=user, customer=None, fields={k: v for k, v in values.items() if v is not NO_CREDIT}
    )
    return values


def _normalise_customer(customer: Customer) -> None:
    customer.code = (customer.code or "").strip().upper()
    customer.name = (customer.name or "").strip()
    customer.tax_id = "".join(str(customer.tax_id or "").split()).upper() or None
    if customer.credit_limit is not None and customer.credit_limit < 0:
        raise ValidationFailed("A credit limit cannot be negative (leave it empty for no limit).")


@transaction.atomic
def customer_create(*, user, **fields) -> Customer:
    """A new customer; the code is stored upper-case and must be unique.

    Credit limit, tax exemption and VAT number other than their defaults need ``CUSTOMER_PROTECTED_FIELDS``' rights;
    without the credit right the credit limit is 0 (``customer_new_credit_fields``).
    """
    fields = customer_check_new_field_rights(user=user, fields=fields)
    customer = Customer()
    _set_fields(customer, fields, CUSTOMER_FIELDS)
    _normalise_customer(customer)
    _clean(customer)
    save_with_user(customer, user)
    return customer


@transaction.atomic
def customer_update(*, customer: Customer, user, **fields) -> Customer:
    """Change a customer's details. Orders already confirmed keep their prices and tax.

    Changing credit limit, tax exemption or VAT number needs ``CUSTOMER_PROTECTED_FIELDS``' rights
    (``FieldChangeRefused`` otherwise, nothing written); passing their current values is not a change.
    """
    customer = _locked(Customer, customer.pk)
    customer_check_field_rights(user=user, customer=customer, fields=fields)
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
