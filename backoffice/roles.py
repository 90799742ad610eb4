"""Roles of DESIGN.md section 1 as Django groups with model permissions.

``manage.py setup_roles`` creates or refreshes the groups; it is idempotent
and is run by ``make run`` and the Procfile's release step. Apps add their
models here as they grow.
"""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission
from django.db import transaction

ADMIN, MANAGER, SALES, PURCHASING, WAREHOUSE, VIEWER = (
    "Admin",
    "Manager",
    "Sales",
    "Purchasing",
    "Warehouse",
    "Viewer",
)

VIEW = ("view",)
EDIT = ("view", "add", "change")
FULL = ("view", "add", "change", "delete")

# role -> {"app.model": actions}; "*" lists the models every role may view.
BUSINESS_MODELS = [
    "inventory.category",
    "inventory.product",
    "inventory.warehouse",
    "inventory.supplier",
    "inventory.supplierproduct",
    "inventory.stocklevel",
    "inventory.stockmovement",
    "inventory.stockadjustment",
    "inventory.stockadjustmentline",
    "inventory.stocktransfer",
    "inventory.stocktransferline",
]

ORDER_MODELS = [
    "orders.customer",
    "orders.carrier",
    "orders.salesorder",
    "orders.salesorderline",
    "orders.purchaseorder",
    "orders.purchaseorderline",
    "orders.receipt",
    "orders.receiptline",
    "orders.shipment",
    "orders.shipmentline",
]
SALES_MODELS = ["orders.customer", "orders.carrier", "orders.salesorder", "orders.salesorderline"]
PURCHASE_MODELS = ["orders.purchaseorder", "orders.purchaseorderline", "orders.receipt", "orders.receiptline"]

ROLE_PERMISSIONS: dict[str, dict[str, tuple[str, ...]]] = {
    MANAGER: {
        "inventory.category": FULL,
        "inventory.product": FULL,
        "inventory.warehouse": FULL,
        "inventory.supplier": FULL,
        "inventory.supplierproduct": FULL,
        "inventory.stocklevel": EDIT,
        "inventory.stockmovement": VIEW,
        "inventory.stockadjustment": EDIT,
        "inventory.stockadjustmentline": FULL,
        "inventory.stocktransfer": EDIT,
        "inventory.stocktransferline": FULL,
        **{model: FULL for model in ORDER_MODELS},
        "reports.scheduledreport": FULL,
        "reports.reportrun": VIEW,
    },
    SALES: {
        # "Sales may not: stock adjustments" (DESIGN.md section 1), as it may not purchase orders: not shown.
        **{model: VIEW for model in BUSINESS_MODELS if not model.startswith("inventory.stockadjustment")},
        "orders.customer": EDIT,
        "orders.carrier": VIEW,
        "orders.salesorder": EDIT,
        "orders.salesorderline": FULL,
        "orders.shipment": EDIT,
        "orders.shipmentline": FULL,
    },
    PURCHASING: {
        **{model: VIEW for model in BUSINESS_MODELS},
        "inventory.supplier": FULL,
        "inventory.supplierproduct": FULL,
        "inventory.stocklevel": ("view", "change"),
        "orders.purchaseorder": EDIT,
        "orders.purchaseorderline": FULL,
        "orders.receipt": EDIT,
        "orders.receiptline": FULL,
    },
    WAREHOUSE: {
        **{model: VIEW for model in BUSINESS_MODELS},
        "inventory.stockadjustment": EDIT,
        "inventory.stockadjustmentline": FULL,
        "inventory.stocktransfer": EDIT,
        "inventory.stocktransferline": FULL,
        **{model: VIEW for model in [*SALES_MODELS, *PURCHASE_MODELS, "orders.shipment"]},
        "orders.receipt": EDIT,
        "orders.receiptline": FULL,
        "orders.shipment": EDIT,
        "orders.shipmentline": FULL,
    },
    VIEWER: {
        model: VIEW for model in [*BUSINESS_MODELS, *ORDER_MODELS, "reports.scheduledreport", "reports.reportrun"]
    },
}

# Extra (non-model) permissions per role: "app.codename".
REPORTS = "reports.run_report"  # open, run and export reports (reports/registry.py); Admin has every permission
ROLE_EXTRA_PERMISSIONS: dict[str, tuple[str, ...]] = {
    MANAGER: (
        "inventory.apply_stockadjustment",
        "inventory.apply_stocktransfer",
        "orders.confirm_salesorder",
        "orders.override_credit_salesorder",
        "orders.approve_credit",
        # Field-level rights (docs/security.md "Credit limit and tax exemption", "Encryption at rest").
        "orders.change_customer_credit",
        "orders.change_customer_tax_id",
        "inventory.change_supplier_bank_account",
        "orders.send_purchaseorder",
        "orders.receive_purchaseorder",
        "orders.ship_shipment",
        REPORTS,
        # Every user's imports and big exports (backoffice/job_admin.py); other roles see their own.
        "backoffice.view_all_importjob",
        "backoffice.view_all_exportjob",
    ),
    SALES: ("orders.confirm_salesorder", "orders.ship_shipment", REPORTS),
    PURCHASING: ("orders.send_purchaseorder", "orders.receive_purchaseorder", REPORTS),
    WAREHOUSE: (
        "inventory.apply_stockadjustment",
        "inventory.apply_stocktransfer",
        "orders.receive_purchaseorder",
        "orders.ship_shipment",
        REPORTS,
    ),
    # Viewer: "run and download reports" (DESIGN.md section 1); each report also needs the view rights of its data.
    VIEWER: (REPORTS,),
}


def _permission(app_label: str, codename: str) -> Permission:
    return Permission.objects.get(content_type__app_label=app_label, codename=codename)


@transaction.atomic
def roles_setup() -> dict[str, int]:
    """Create or refresh every role group; returns permission counts by role."""
    counts = {}
    all_permissions = Permission.objects.all()
    admin_group, _ = Group.objects.get_or_create(name=ADMIN)
    admin_group.permissions.set(all_permissions)
    counts[ADMIN] = all_permissions.count()
    for role, models in ROLE_PERMISSIONS.items():
        permissions = []
        for label, actions in models.items():
            app_label, model = label.split(".")
            permissions += [_permission(app_label, f"{action}_{model}") for action in actions]
        for extra in ROLE_EXTRA_PERMISSIONS.get(role, ()):
            app_label, codename = extra.split(".")
            permissions.append(_permission(app_label, codename))
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.set(permissions)
        counts[role] = len(permissions)
    return counts
