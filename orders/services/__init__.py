"""Every write that matters for customers, sales orders, purchase orders, receipts and shipments.

One module per document: ``customers``, ``sales`` (with backorders), ``purchasing``,
``receiving``, ``shipping``; private helpers shared by them live in ``_common``.
This package re-exports every public name, so callers write ``from orders.services import …``.

Conventions (DESIGN.md section 6): keyword-only typed functions named
``<entity>_<action>``, atomic, ``full_clean()`` before a single save, history
rows naming the user. A refused operation raises a ``BusinessError`` subclass
and writes nothing.

Locking order, held by every function here so that no two transactions wait
on each other in a cycle: document row (sales order / purchase order) →
shipment → customer → stock levels (``inventory.services`` locks those by pk).
Nothing locks a document after a stock level.
"""

from orders.services._common import document_lines_replace
from orders.services.approvals import (
    credit_approvers,
    sales_order_approve_credit,
    sales_order_credit_check,
    sales_order_reject_credit,
    sales_order_request_approval,
)
from orders.services.customers import (
    CHANGE_CREDIT_PERM,
    CHANGE_TAX_ID_PERM,
    CUSTOMER_FIELDS,
    CUSTOMER_PROTECTED_FIELDS,
    NO_CREDIT,
    customer_check_field_rights,
    customer_create,
    customer_new_credit_fields,
    customer_open_order_value,
    customer_update,
)
from orders.services.documents import (
    purchase_order_email_queue,
    sales_order_email_confirmation,
)
from orders.services.purchasing import (
    PURCHASE_ORDER_FIELDS,
    default_unit_cost,
    purchase_order_cancel,
    purchase_order_close,
    purchase_order_create,
    purchase_order_line_add,
    purchase_order_line_remove,
    purchase_order_line_update,
    purchase_order_lines_add,
    purchase_order_recalculate,
    purchase_order_send,
    purchase_order_update,
)
from orders.services.receiving import (
    receipt_create,
)
from orders.services.sales import (
    APPROVE_CREDIT_PERM,
    OVERRIDE_CREDIT_PERM,
    SALES_LINE_AMOUNT_FIELDS,
    SALES_ORDER_FIELDS,
    CreditExposure,
    PreviewLine,
    backorders_reserve,
    credit_exposure,
    may_override_credit,
    sales_order_amounts,
    sales_order_cancel,
    sales_order_confirm,
    sales_order_create,
    sales_order_line_add,
    sales_order_line_remove,
    sales_order_line_update,
    sales_order_lines_add,
    sales_order_mark_delivered,
    sales_order_preview,
    sales_order_recalculate,
    sales_order_update,
    sales_orders_refresh_counters,
)
from orders.services.shipping import (
    shipment_create,
    shipment_deliver,
    shipment_pack,
    shipment_pack_and_ship,
    shipment_return,
    shipment_ship,
)

__all__ = [
    "document_lines_replace",
    "CUSTOMER_FIELDS",
    "CUSTOMER_PROTECTED_FIELDS",
    "CHANGE_CREDIT_PERM",
    "CHANGE_TAX_ID_PERM",
    "customer_check_field_rights",
    "customer_create",
    "customer_new_credit_fields",
    "NO_CREDIT",
    "customer_update",
    "customer_open_order_value",
    "OVERRIDE_CREDIT_PERM",
    "APPROVE_CREDIT_PERM",
    "credit_approvers",
    "sales_order_credit_check",
    "sales_order_request_approval",
    "sales_order_approve_credit",
    "sales_order_reject_credit",
    "SALES_LINE_AMOUNT_FIELDS",
    "SALES_ORDER_FIELDS",
    "CreditExposure",
    "credit_exposure",
    "may_override_credit",
    "sales_order_amounts",
    "sales_order_create",
    "sales_order_update",
    "sales_order_recalculate",
    "sales_order_line_add",
    "sales_order_lines_add",
    "sales_order_line_update",
    "sales_order_line_remove",
    "sales_order_confirm",
    "sales_order_cancel",
    "sales_order_mark_delivered",
    "PreviewLine",
    "sales_order_preview",
    "backorders_reserve",
    "sales_orders_refresh_counters",
    "PURCHASE_ORDER_FIELDS",
    "default_unit_cost",
    "purchase_order_create",
    "purchase_order_update",
    "purchase_order_line_add",
    "purchase_order_line_update",
    "purchase_order_lines_add",
    "purchase_order_line_remove",
    "purchase_order_recalculate",
    "purchase_order_send",
    "purchase_order_email_queue",
    "sales_order_email_confirmation",
    "purchase_order_cancel",
    "purchase_order_close",
    "receipt_create",
    "shipment_create",
    "shipment_pack",
    "shipment_pack_and_ship",
    "shipment_ship",
    "shipment_deliver",
    "shipment_return",
]
