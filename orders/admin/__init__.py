"""Admin for orders: customers, carriers, sales and purchase orders, receipts, shipments.

The admin is a thin caller of ``orders.services``: every workflow step (confirm,
ship, receive...) is a button on the change page that opens a small
intermediate page and, on POST, calls the service (``backoffice.workflow``). A
``BusinessError`` becomes an error message, never a 500. Documents are read-only
once they leave draft.

One module per document: ``customers`` (customers, carriers), ``sales``, ``purchasing``
(purchase orders, receipts), ``shipping``; ``documents`` holds the shared bases.
Importing this package registers every admin.
"""

from orders.admin.customers import (
    CarrierAdmin,
    CustomerAdmin,
)
from orders.admin.documents import (
    PURCHASE_ORDER_COLORS,
    SALES_ORDER_COLORS,
    SHIPMENT_COLORS,
    SPREADSHEET_FORMATS,
    ActiveProductLineForm,
    CancelForm,
    DocumentAdmin,
    DraftLinesInline,
    LineQuantitiesForm,
    ProductLinesInline,
    copy_saved_state,
    link_to,
    status_label,
)
from orders.admin.purchasing import (
    CloseForm,
    PurchaseOrderAdmin,
    PurchaseOrderChoiceForm,
    PurchaseOrderLineForm,
    PurchaseOrderLineInline,
    ReceiptAdmin,
    ReceiptLineInline,
    ReceiptOfOrderInline,
    ReceiveForm,
    po_summary,
)
from orders.admin.sales import (
    BackorderedFilter,
    CarrierChoiceForm,
    CreditOverrideForm,
    SalesOrderAdmin,
    SalesOrderLineForm,
    SalesOrderLineInline,
    ShipmentOfOrderInline,
    confirm_message,
    order_summary,
    stock_available,
)
from orders.admin.shipping import (
    SalesOrderChoiceForm,
    ShipForm,
    ShipmentAdmin,
    ShipmentLineInline,
    shipment_summary,
    tracking_link,
)

__all__ = [
    "SPREADSHEET_FORMATS",
    "SALES_ORDER_COLORS",
    "PURCHASE_ORDER_COLORS",
    "SHIPMENT_COLORS",
    "status_label",
    "link_to",
    "DocumentAdmin",
    "LineQuantitiesForm",
    "ActiveProductLineForm",
    "DraftLinesInline",
    "ProductLinesInline",
    "copy_saved_state",
    "CancelForm",
    "CustomerAdmin",
    "CarrierAdmin",
    "SalesOrderLineForm",
    "SalesOrderLineInline",
    "ShipmentOfOrderInline",
    "BackorderedFilter",
    "CreditOverrideForm",
    "CarrierChoiceForm",
    "SalesOrderAdmin",
    "stock_available",
    "order_summary",
    "confirm_message",
    "PurchaseOrderLineForm",
    "PurchaseOrderLineInline",
    "ReceiptOfOrderInline",
    "ReceiveForm",
    "CloseForm",
    "PurchaseOrderAdmin",
    "po_summary",
    "ReceiptLineInline",
    "PurchaseOrderChoiceForm",
    "ReceiptAdmin",
    "tracking_link",
    "ShipForm",
    "ShipmentLineInline",
    "SalesOrderChoiceForm",
    "ShipmentAdmin",
    "shipment_summary",
]
