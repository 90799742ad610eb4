"""The permission matrix: every admin page, workflow action and API endpoint, for every role.

The expectations are ONE hand-written table, ``RULES``, written from DESIGN.md
section 1 ("Who uses it") and issue 8, not from ``backoffice/roles.py``: the
test compares what each role *should* get with what the running site answers.
The cells are generated from ``admin.site._registry`` and the API router, so
a model, action, custom admin URL or endpoint added later without a rule here
fails with a message saying which rule to add.

Notation of a role's entry: ``"<letters>: <actions>"``.

* letters: ``v`` list, change page (read), history and version pages; ``a`` add
  page; ``c`` change (POST); ``d`` delete page; ``e`` export; ``i`` import
  (upload page, order import, templates). The API uses the same letters:
  ``v`` list/retrieve, ``a`` create, ``c`` update, ``d`` delete.
* actions: the admin's workflow buttons (``actions_detail``), bulk actions of
  the list (``bulk:<name>``) and other custom URLs of the admin, by name.

A role missing from a model's row gets nothing. ``NoRole`` is a staff user
without a role group; ``Anonymous`` is never in a row (every admin URL sends it
to the login page, every API call is refused).

Answers compared: allowed pages 200 (a change POST 302 and the change saved);
refused 403 with nothing changed; a row the user may not see at all (warehouse
scoping, or a warehouse-bound model without the view right) answers exactly as
a row that does not exist (history and version pages: 404), with nothing
changed. A workflow step that is allowed opens its page (200); a refused one
is 403 on GET and POST and changes nothing. A bulk action that is allowed is
offered in the list; a refused one is not offered and its POST changes nothing.

Where DESIGN.md section 1 is silent (deleting master data or documents, which
other roles read, who cancels), the row says so in a comment; changing such a
cell is a decision to make with the project owner, not a test to "fix".

The data (roles, users, one object per model in warehouse MAIN and one of each
warehouse-bound model in OTHER) is built once for the module inside a
transaction that is rolled back at the end; each test runs in a savepoint.
"""

from __future__ import annotations

import datetime
import html.parser
from decimal import Decimal
from functools import cache
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.contrib import admin
from django.contrib.admin.sites import AdminSite
from django.contrib.auth.models import Group
from django.db import transaction
from django.test import Client, RequestFactory, override_settings
from django.urls import NoReverseMatch, reverse

from backoffice.roles import ADMIN, MANAGER, PURCHASING, SALES, VIEWER, WAREHOUSE
from backoffice.scoping import is_scoped_model

# Every test is a database test (pytest-django creates the test database only for those), run in a
# savepoint inside the module's transaction (``world``).
pytestmark = pytest.mark.django_db

NO_ROLE, ANONYMOUS = "NoRole", "Anonymous"
ROLES = (ADMIN, MANAGER, SALES, PURCHASING, WAREHOUSE, VIEWER, NO_ROLE, ANONYMOUS)

# ---------------------------------------------------------------------------------------------------
# THE TABLE (DESIGN.md section 1 + issue 8)
#
# Admin: everything, users, roles, schedules — but nobody edits the stock ledger or an audit trail,
#   and only superusers see the raw task queue (issue 8 §1.1).
# Manager: approves/cancels orders, adjusts stock, all reports; may not manage users (nor roles,
#   schedules, the login audit or feedback triage, which DESIGN gives to Admin).
# Sales: customers, sales orders, shipments for its orders; may not purchase orders, stock adjustments.
# Purchasing: suppliers, purchase orders, reorder suggestions; may not sales orders.
# Warehouse: receive goods, pick/pack/ship, counts and transfers, only in its warehouses;
#   may not prices, customers' credit.
# Viewer: reads everything it is shown, downloads (exports); changes nothing.

#: letters of a reader of business data: list/view/history + export
READ = "ve"

SO_ACTIONS = "confirm cancel create_shipment mark_delivered bulk:confirm_selected bulk:cancel_selected"
PO_ACTIONS = "send receive close_short cancel bulk:send_selected bulk:cancel_selected"
SHIP_ACTIONS = "pack ship deliver return_shipment print_packing_slip packing_slip"
# Issue 10 §3: whoever reads a document downloads its PDF; e-mailing the confirmation is Sales' (confirm right).
SO_PDF, PO_PDF, SHIP_PDFS = "confirmation_pdf", "purchase_order_pdf", "packing_slip_pdf delivery_note_pdf"
SO_ACTIONS += f" email_confirmation {SO_PDF}"
PO_ACTIONS += f" {PO_PDF}"
SHIP_ACTIONS += f" {SHIP_PDFS}"
STOCK_DOC_ACTIONS = "apply_document cancel_document bulk:apply_selected"
# Issue 10 §6: counts are reviewed before applying (apply right); a count's sheet prints for whoever reads it
# (the list's "Count sheet" of any warehouse one sees is a list page: URL_KINDS).
COUNT_ACTIONS = f"{STOCK_DOC_ACTIONS} review_count"
COUNT_SHEETS = "print_count_sheet"
# Issue 10 §6: Managers approve or reject orders Sales sent for credit approval (Sales sends them from Confirm).
CREDIT_APPROVAL = "approve_credit reject_credit"
# Issue 10 §2: whoever enters sales orders gets their live totals; shipments pack & ship in one step and in bulk.
SO_ACTIONS += " live_totals"
SHIP_ACTIONS += " pack_and_ship bulk:pack_selected bulk:ship_selected bulk:deliver_selected"

RULES: dict[str, dict[str, str]] = {
    # Users and roles: Admin only ("Manager: may not manage users").
    # Issue 10 §6: new users get a welcome e-mail with a set-password link; Admins may send it again.
    "auth.user": {
        "actions": "password_change bulk:send_welcome_selected",
        ADMIN: "vacd: password_change bulk:send_welcome_selected",
    },
    "auth.group": {ADMIN: "vacd"},
    # Login audit (issue 8 §2): "visible to admins", never edited; unlocking = clearing the attempts.
    "axes.accesslog": {ADMIN: "v"},
    "axes.accessfailurelog": {ADMIN: "v"},
    "axes.accessattempt": {"actions": "bulk:unlock", ADMIN: "vd: bulk:unlock"},
    # Two-factor devices: administrators see who enrolled and reset (delete) a device; no secret shown.
    "otp_totp.totpdevice": {ADMIN: "vd"},
    # Staff feedback (issue 8 §3): every staff user sends; admins triage (status) and may delete.
    "backoffice.feedback": {
        "actions": "send screenshot",
        **{role: ": send" for role in (MANAGER, SALES, PURCHASING, WAREHOUSE, VIEWER, NO_ROLE)},
        ADMIN: "vcd: send screenshot",
    },
    # Imports and big exports (issue 7): every staff user lists their own; Admins and Managers see everyone's;
    # read-only. The matrix's rows belong to the Sales user: to the other roles they answer as missing rows.
    "backoffice.importjob": {
        "actions": "status bad_rows",
        **{role: "v: status bad_rows" for role in (ADMIN, MANAGER, SALES)},
    },
    "backoffice.exportjob": {
        "actions": "status download",
        **{role: "v: status download" for role in (ADMIN, MANAGER, SALES)},
    },
    # Scheduled tasks: Admin ("schedules"); task results read-only; the raw queue superusers only.
    "django_q.schedule": {ADMIN: "vacd"},
    "django_q.success": {ADMIN: "vd"},
    "django_q.failure": {ADMIN: "vd"},
    "django_q.ormq": {},
    # Catalogue. DESIGN silent on who edits products/categories/warehouses: Manager (and Admin).
    # Warehouse "may not prices": read only. Every role works with products: all read them.
    "inventory.category": {
        ADMIN: "vacdei",
        MANAGER: "vacdei",
        SALES: READ,
        PURCHASING: READ,
        WAREHOUSE: READ,
        VIEWER: READ,
    },
    "inventory.product": {
        ADMIN: "vacdei",
        MANAGER: "vacdei",
        SALES: READ,
        PURCHASING: READ,
        WAREHOUSE: READ,
        VIEWER: READ,
    },
    "inventory.warehouse": {
        ADMIN: "vacdei",
        MANAGER: "vacdei",
        SALES: READ,
        PURCHASING: READ,
        WAREHOUSE: READ,
        VIEWER: READ,
    },
    # Purchasing: suppliers and their price lists ("import a supplier's price list from Excel").
    "inventory.supplier": {
        ADMIN: "vacdei",
        MANAGER: "vacdei",
        PURCHASING: "vacdei",
        SALES: READ,
        WAREHOUSE: READ,
        VIEWER: READ,
    },
    "inventory.supplierproduct": {
        ADMIN: "vacdei",
        MANAGER: "vacdei",
        PURCHASING: "vacdei",
        SALES: READ,
        WAREHOUSE: READ,
        VIEWER: READ,
    },
    # Stock levels: on hand never edited by hand, never deleted; Purchasing edits the reorder settings
    # ("reorder suggestions"); an import creates levels, so it needs the add right (Manager, Admin).
    # Whoever reads stock levels gets the stock figures order entry shows next to lines (issue 10 §2).
    "inventory.stocklevel": {
        "actions": "figures",
        ADMIN: "vacei: figures",
        MANAGER: "vacei: figures",
        PURCHASING: "vce: figures",
        SALES: f"{READ}: figures",
        WAREHOUSE: f"{READ}: figures",
        VIEWER: f"{READ}: figures",
    },
    # The ledger: "never edited, never deleted" — read (and exported) by everyone, Admin included.
    "inventory.stockmovement": {role: READ for role in (ADMIN, MANAGER, SALES, PURCHASING, WAREHOUSE, VIEWER)},
    # Counts: Manager "adjusts stock", Warehouse "counts"; Sales "may not stock adjustments" (not even
    # read them, as it may not see purchase orders). Deleting a draft: Admin only (DESIGN silent).
    "inventory.stockadjustment": {
        "actions": f"{COUNT_ACTIONS} {COUNT_SHEETS}",
        ADMIN: f"vacd: {COUNT_ACTIONS} {COUNT_SHEETS}",
        MANAGER: f"vac: {COUNT_ACTIONS} {COUNT_SHEETS}",
        WAREHOUSE: f"vac: {COUNT_ACTIONS} {COUNT_SHEETS}",
        PURCHASING: f"v: {COUNT_SHEETS}",
        VIEWER: f"v: {COUNT_SHEETS}",
    },
    # Transfers: Warehouse "transfers", Manager; the others read.
    "inventory.stocktransfer": {
        "actions": STOCK_DOC_ACTIONS,
        ADMIN: f"vacd: {STOCK_DOC_ACTIONS}",
        MANAGER: f"vac: {STOCK_DOC_ACTIONS}",
        WAREHOUSE: f"vac: {STOCK_DOC_ACTIONS}",
        SALES: "v",
        PURCHASING: "v",
        VIEWER: "v",
    },
    # Customers: Sales; Warehouse reads them to ship (credit is field-level, tests/orders); Purchasing
    # "may not sales orders" and has no need of customers. Deleting customers: Manager/Admin (silent).
    "orders.customer": {
        ADMIN: "vacdei",
        MANAGER: "vacdei",
        SALES: "vacei",
        WAREHOUSE: READ,
        VIEWER: READ,
    },
    # Carriers: set up by Manager/Admin (silent); read by those who ship.
    "orders.carrier": {ADMIN: "vacd", MANAGER: "vacd", SALES: "v", WAREHOUSE: "v", VIEWER: "v"},
    # Sales orders: Sales takes and confirms them (journey "take an order by phone and confirm it"),
    # Manager approves/cancels; Warehouse picks (creates the shipment) and records delivery.
    # Deleting a draft: Manager/Admin (silent). Purchasing: nothing.
    "orders.salesorder": {
        "actions": f"{SO_ACTIONS} {CREDIT_APPROVAL}",
        ADMIN: f"vacdei: {SO_ACTIONS} {CREDIT_APPROVAL}",
        MANAGER: f"vacdei: {SO_ACTIONS} {CREDIT_APPROVAL}",
        SALES: f"vacei: {SO_ACTIONS}",
        WAREHOUSE: f"{READ}: create_shipment mark_delivered {SO_PDF}",
        VIEWER: f"{READ}: {SO_PDF}",
    },
    # Purchase orders: Purchasing (send, close short, cancel), Warehouse receives goods. Sales: nothing.
    "orders.purchaseorder": {
        "actions": PO_ACTIONS,
        ADMIN: f"vacdei: {PO_ACTIONS}",
        MANAGER: f"vacdei: {PO_ACTIONS}",
        PURCHASING: f"vacei: {PO_ACTIONS}",
        WAREHOUSE: f"{READ}: receive {PO_PDF}",
        VIEWER: f"{READ}: {PO_PDF}",
    },
    # Receipts: recorded by receiving (add = "choose the PO" page), never edited or deleted.
    "orders.receipt": {ADMIN: "va", MANAGER: "va", PURCHASING: "va", WAREHOUSE: "va", VIEWER: "v"},
    # Shipments: Sales ("shipments for its orders") and Warehouse (pick/pack/ship); everyone who reads
    # them prints the packing slip. Deleting a pending shipment: Manager/Admin (silent).
    "orders.shipment": {
        "actions": SHIP_ACTIONS,
        ADMIN: f"vacd: {SHIP_ACTIONS}",
        MANAGER: f"vacd: {SHIP_ACTIONS}",
        SALES: f"vac: {SHIP_ACTIONS}",
        WAREHOUSE: f"vac: {SHIP_ACTIONS}",
        VIEWER: f"v: print_packing_slip packing_slip {SHIP_PDFS}",
    },
    # Scheduled reports: Manager ("all reports") and Admin set them up and send them. Viewer "reads everything
    # it is shown" but "may not change anything": Send now / Resend write a run and e-mail it, so not the Viewer's.
    # The other roles receive report e-mails as recipients; DESIGN gives them no schedules.
    "reports.scheduledreport": {
        "actions": "send_now resend",
        ADMIN: "vacd: send_now resend",
        MANAGER: "vacd: send_now resend",
        VIEWER: "v",
    },
    # Runs: written by the sends only, never edited or deleted; whoever reads them downloads the stored file
    # ("Viewer: ... run and download reports"; the file is the owner's view: owner or sees every warehouse).
    "reports.reportrun": {"actions": "download", **{role: "v: download" for role in (ADMIN, MANAGER, VIEWER)}},
    # Personal API tokens (issue 9 §2): every staff user creates and revokes their own (a token carries only its
    # user's rights); Admins see and revoke everyone's. Never edited. The matrix's token belongs to the Sales user.
    "integrations.apitoken": {
        "actions": "bulk:revoke",
        **{role: "a: bulk:revoke" for role in (MANAGER, PURCHASING, WAREHOUSE, VIEWER, NO_ROLE)},
        ADMIN: "vad: bulk:revoke",
        SALES: "vad: bulk:revoke",
    },
    # Webhooks (issue 9 §4): integration set-up is the Admin's ("everything"); deliveries are a read-only log.
    "integrations.webhooksubscription": {"actions": "bulk:rotate_secret", ADMIN: "vacd: bulk:rotate_secret"},
    "integrations.webhookdelivery": {"actions": "bulk:redeliver", ADMIN: "vd: bulk:redeliver"},
}

#: API endpoints: prefix -> (model rule, operations the endpoint offers). An operation the endpoint
#: does not offer is refused for everyone (403 or 405).
API_RULES: dict[str, tuple[str, str]] = {
    "categories": ("inventory.category", "list retrieve create update delete"),
    "products": ("inventory.product", "list retrieve create update delete"),
    "warehouses": ("inventory.warehouse", "list retrieve create update delete"),
    "suppliers": ("inventory.supplier", "list retrieve create update delete"),
    # "only reorder settings may be changed here"
    "stock-levels": ("inventory.stocklevel", "list retrieve update"),
    # the ledger, read-only
    "stock-movements": ("inventory.stockmovement", "list retrieve"),
    # issue 9: the rest of the catalogue and the documents (workflow actions: tests/api/)
    "supplier-products": ("inventory.supplierproduct", "list retrieve create update delete"),
    "stock-transfers": ("inventory.stocktransfer", "list retrieve create"),
    "customers": ("orders.customer", "list retrieve create update delete"),
    "carriers": ("orders.carrier", "list retrieve create update delete"),
    "sales-orders": ("orders.salesorder", "list retrieve create update"),
    "purchase-orders": ("orders.purchaseorder", "list retrieve create update"),
    "receipts": ("orders.receipt", "list retrieve"),
    "shipments": ("orders.shipment", "list retrieve"),
}

# ---------------------------------------------------------------------------------------------------
# How the table is read

LETTERS = set("vacdei")
KIND_LETTER = {
    "list": "v",
    "view": "v",
    "history": "v",
    "version": "v",
    "add": "a",
    "change": "c",
    "delete": "d",
    "export": "e",
    "import": "i",
}
#: custom admin URL name suffix -> cell kind (import-export's and simple-history's own URLs)
URL_KINDS = {
    "simple_history": "version",
    "export": "export",
    "import": "import",
    "import_orders": "import",
    "count_sheet": "list",
    "import_template_csv": "import",
    "import_template_xlsx": "import",
    "process_import": "import",
    "import_status": "import",
}
API_LETTER = {"list": "v", "retrieve": "v", "create": "a", "update": "c", "delete": "d"}
#: models whose rows belong to a user (backoffice/job_admin.py): every staff user lists their own rows; a row
#: the role may not see answers, on every page and action, exactly as a row that does not exist
OWN_ROW_MODELS = {"backoffice.importjob", "backoffice.exportjob", "integrations.apitoken"}


def rule_for(label: str, role: str) -> tuple[set[str], set[str]]:
    """(letters, actions) granted to ``role`` on model ``label``."""
    spec = RULES[label].get(role, "")
    letters, _, actions = spec.partition(":")
    letters = letters.strip()
    assert set(letters) <= LETTERS, f"RULES[{label!r}][{role!r}]: unknown letters in {spec!r}"
    return set(letters), set(actions.split())


def missing_rule(label: str) -> str:
    return (
        f"{label} is registered in the admin but has no row in RULES of {__name__}: add one, written from "
        "DESIGN.md section 1 (who may list, view, add, change, delete, export, import, run each action)."
    )


def _admin_models():
    return sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label_lower)


def _custom_urls(model, model_admin) -> dict[str, str]:
    """URL name suffix -> URL pattern of every URL the admin adds to Django's own."""
    base = {p.name for p in admin.ModelAdmin(model, AdminSite()).get_urls()}
    prefix = f"{model._meta.app_label}_{model._meta.model_name}_"
    return {
        p.name.removeprefix(prefix): str(p.pattern)
        for p in model_admin.get_urls()
        if p.name and p.name not in base and p.name.startswith(prefix)
    }


def _bulk_actions(model_admin) -> set[str]:
    names = set()
    for item in model_admin.actions or ():
        names.add(item if isinstance(item, str) else item.__name__)
    return {f"bulk:{name}" for name in names if name != "delete_selected"}


def exposed_actions(model, model_admin) -> set[str]:
    """Workflow buttons, bulk actions and custom URLs that are not import/export/version pages."""
    custom = {name for name in _custom_urls(model, model_admin) if name not in URL_KINDS}
    return custom | _bulk_actions(model_admin)


def admin_kinds(model, model_admin) -> list[str]:
    kinds = ["list", "view", "history", "add", "change", "delete"]
    kinds += sorted({URL_KINDS[name] for name in _custom_urls(model, model_admin) if name in URL_KINDS})
    import_urls = sorted(n for n in _custom_urls(model, model_admin) if URL_KINDS.get(n) == "import")
    kinds = [k for k in kinds if k != "import"] + [f"import:{name}" for name in import_urls]
    return kinds + [f"action:{name}" for name in sorted(exposed_actions(model, model_admin))]


def _admin_cells():
    for model, model_admin in _admin_models():
        label = model._meta.label_lower
        for kind in admin_kinds(model, model_admin):
            for role in ROLES:
                yield pytest.param(label, kind, role, id=f"{label}-{kind}-{role}")


def _api_router():
    from backoffice.api_urls import router

    return router


def _api_cells():
    for prefix, _viewset, _basename in _api_router().registry:
        for op in API_LETTER:
            for role in ROLES:
                yield pytest.param(prefix, op, role, id=f"api-{prefix}-{op}-{role}")


# ---------------------------------------------------------------------------------------------------
# The data: built once, rolled back at the end of the module


def _build_world():
    from axes.models import AccessAttempt, AccessFailureLog, AccessLog
    from django.contrib.auth import get_user_model
    from django.core.files.base import ContentFile
    from django.utils import timezone
    from django_otp.plugins.otp_totp.models import TOTPDevice
    from django_q.models import Failure, OrmQ, Schedule, Success

    from backoffice.models import ExportJob, Feedback, ImportJob
    from backoffice.roles import roles_setup
    from backoffice.task_registry import schedulable_tasks
    from inventory import services as stock
    from inventory.models import (
        AdjustmentReason,
        MovementKind,
        StockAdjustmentLine,
        StockLevel,
        StockMovement,
        StockTransferLine,
    )
    from inventory.services import StockLine
    from orders import services as orders
    from reports.models import Frequency, ReportRun, RunStatus, ScheduledReport
    from reports.scheduling import period_for
    from tests.factories import (
        CarrierFactory,
        CategoryFactory,
        CustomerFactory,
        ProductFactory,
        SupplierFactory,
        SupplierProductFactory,
        WarehouseFactory,
    )

    roles_setup()
    User = get_user_model()
    boss = User.objects.create_superuser("matrix-boss", "boss@example.com", "pw-Secret-123")
    users = {}
    for role in ROLES[:-1]:
        user = User.objects.create_user(f"matrix-{role.lower()}", f"{role.lower()}@example.com", "pw", is_staff=True)
        if role != NO_ROLE:
            user.groups.add(Group.objects.get(name=role))
        users[role] = user

    main = WarehouseFactory(code="MAIN", name="Main warehouse")
    other = WarehouseFactory(code="OTHER", name="Other warehouse")
    far = WarehouseFactory(code="FAR", name="Far warehouse")
    main.staff.add(users[WAREHOUSE])
    category = CategoryFactory(name="Teas")
    product = ProductFactory(sku="MX-TEA", name="Matrix tea", category=category, cost=Decimal("2.00"))
    for warehouse, reference in ((main, "MAIN-OPEN"), (other, "OTHER-OPEN")):
        stock.stock_receive(
            lines=[StockLine(product.pk, warehouse.pk, 50, Decimal("2.00"))],
            kind=MovementKind.OPENING,
            reference=reference,
        )
    supplier = SupplierFactory(code="MXSUP")
    supplier_product = SupplierProductFactory(supplier=supplier, product=product)
    customer = CustomerFactory(code="MXCUST")
    carrier = CarrierFactory(name="Matrix Express")

    def documents(warehouse, to_warehouse, tag):
        draft_so = orders.sales_order_create(customer=customer, warehouse=warehouse, user=boss)
        so_line = orders.sales_order_line_add(order=draft_so, product=product, quantity=2, user=boss)
        shipped_so = orders.sales_order_create(customer=customer, warehouse=warehouse, user=boss)
        orders.sales_order_line_add(order=shipped_so, product=product, quantity=3, user=boss)
        orders.sales_order_confirm(order=shipped_so, user=boss)
        shipment = orders.shipment_create(sales_order=shipped_so, user=boss)
        draft_po = orders.purchase_order_create(supplier=supplier, warehouse=warehouse, user=boss)
        po_line = orders.purchase_order_line_add(
            order=draft_po, product=product, quantity=10, unit_cost=Decimal("2.00"), user=boss
        )
        sent_po = orders.purchase_order_create(supplier=supplier, warehouse=warehouse, user=boss)
        sent_line = orders.purchase_order_line_add(
            order=sent_po, product=product, quantity=10, unit_cost=Decimal("2.00"), user=boss
        )
        orders.purchase_order_send(order=sent_po, user=boss)
        receipt = orders.receipt_create(purchase_order=sent_po, lines=[(sent_line, 4)], user=boss)
        adjustment = stock.stock_adjustment_create(warehouse=warehouse, reason=AdjustmentReason.DAMAGE, user=boss)
        StockAdjustmentLine.objects.create(adjustment=adjustment, product=product, counted_quantity=40)
        transfer = stock.stock_transfer_create(from_warehouse=warehouse, to_warehouse=to_warehouse, user=boss)
        StockTransferLine.objects.create(transfer=transfer, product=product, quantity=1)
        level = StockLevel.objects.get(product=product, warehouse=warehouse)
        level.reorder_point = 5
        level.save(update_fields=["reorder_point"])  # a history row
        return {
            "orders.salesorder": draft_so,
            "orders.shipment": shipment,
            "orders.purchaseorder": draft_po,
            "orders.receipt": receipt,
            "inventory.stockadjustment": adjustment,
            "inventory.stocktransfer": transfer,
            "inventory.stocklevel": level,
            "inventory.stockmovement": StockMovement.objects.get(reference=f"{tag}-OPEN"),
            "inventory.warehouse": warehouse,
            "_so_line": so_line,
            "_po_line": po_line,
        }

    objects = documents(main, other, "MAIN")
    out_of_scope = documents(other, far, "OTHER")
    now = timezone.now()
    task = {"name": "matrix-task", "func": "backoffice.tasks.nothing", "started": now, "stopped": now}
    func = next(iter(schedulable_tasks()))
    target = User.objects.create_user("matrix-target", "target@example.com", "pw", first_name="T")
    report = ScheduledReport.objects.create(
        name="Matrix stock report",
        report="stock-on-hand",
        frequency=Frequency.WEEKLY,
        weekday=0,
        send_time=datetime.time(7, 0),
        recipients="ops@example.com",
        owner=users[MANAGER],
    )
    # Resend is offered once the current period was sent: a sent run for it (and for tomorrow's period, should
    # the module run across midnight). The current one has its stored file, under the module's MEDIA_ROOT.
    today = timezone.localdate()
    runs = []
    for day in (today, today + datetime.timedelta(days=1)):
        first, last = period_for(report.frequency, report.params, day)
        runs.append(
            ReportRun.objects.create(
                scheduled_report=report,
                period_start=first,
                period_end=last,
                status=RunStatus.SENT,
                row_count=1,
                recipients="ops@example.com",
                attempts=1,
                sent_at=now,
            )
        )
    runs[0].file.save("matrix-run.csv", ContentFile(b"sku,on_hand\nMX-TEA,50\n"))
    objects.update(
        {
            "auth.user": target,
            "auth.group": Group.objects.create(name="Matrix group"),
            "axes.accesslog": AccessLog.objects.create(username="x", ip_address="10.0.0.1", attempt_time=now),
            "axes.accessfailurelog": AccessFailureLog.objects.create(
                username="x", ip_address="10.0.0.1", attempt_time=now
            ),
            "axes.accessattempt": AccessAttempt.objects.create(
                username="x", ip_address="10.0.0.1", attempt_time=now, failures_since_start=2
            ),
            "otp_totp.totpdevice": TOTPDevice.objects.create(user=target, name="phone"),
            "backoffice.importjob": ImportJob.objects.create(
                user=users[SALES],
                target="resource:inventory.resources.ProductResource",
                what="products",
                file_name="matrix.csv",
                status="failed",
                errors_file="matrix.errors.csv",
            ),
            "backoffice.exportjob": ExportJob.objects.create(
                user=users[SALES],
                what="products",
                model_label="inventory.product",
                file_format="csv",
                status="done",
                stored_name="matrix-export.csv",
                file_name="products.csv",
            ),
            "backoffice.feedback": Feedback.objects.create(
                user=users[SALES], message="The list is slow", page="/admin/", screenshot="feedback/matrix.png"
            ),
            "django_q.schedule": Schedule.objects.create(name="Matrix schedule", func=func),
            "django_q.success": Success.objects.create(id="a" * 32, success=True, **task),
            "django_q.failure": Failure.objects.create(id="b" * 32, success=False, **task),
            "django_q.ormq": OrmQ.objects.create(key="default", payload="x", lock=now),
            "inventory.category": category,
            "inventory.product": product,
            "inventory.supplier": supplier,
            "inventory.supplierproduct": supplier_product,
            "orders.customer": customer,
            "orders.carrier": carrier,
            "reports.scheduledreport": report,
            "reports.reportrun": runs[0],
            **_integration_objects(users[SALES]),
        }
    )
    # API: rows nothing refers to, so that an allowed delete succeeds.
    spare_warehouse = WarehouseFactory(code="SPARE")
    spare_warehouse.staff.add(users[WAREHOUSE])  # a warehouse of its own, so a Warehouse user could see it
    spare = {
        "categories": CategoryFactory(name="Spare category"),
        "products": ProductFactory(sku="MX-SPARE", category=category),
        "warehouses": spare_warehouse,
        "suppliers": SupplierFactory(code="MXSPARE"),
        "stock-levels": objects["inventory.stocklevel"],
        "stock-movements": objects["inventory.stockmovement"],
        "customers": CustomerFactory(code="MXSPARE"),
        "carriers": CarrierFactory(name="Spare carrier"),
        "supplier-products": SupplierProductFactory(supplier=SupplierFactory(code="MXSPARE2"), product=product),
        # documents offer no delete: the refused delete is tried on the table's row
        **{
            prefix: objects[API_RULES[prefix][0]]
            for prefix in ("stock-transfers", "sales-orders", "purchase-orders", "receipts", "shipments")
        },
    }
    sessions = {}
    for role, user in users.items():
        client = Client()
        client.force_login(user)
        sessions[role] = client.cookies
    boss_client = Client()
    boss_client.force_login(boss)
    sessions["boss"] = boss_client.cookies
    return {"users": users, "objects": objects, "other": out_of_scope, "spare": spare, "sessions": sessions}


def _integration_objects(token_owner) -> dict:
    import uuid

    from integrations.models import WebhookDelivery, WebhookSubscription
    from integrations.tokens import api_token_create

    hook = WebhookSubscription.objects.create(
        name="Matrix hook", target_url="http://127.0.0.1:9/hook", events=["report.sent"], secret="whsec_matrix"
    )
    event_id = uuid.uuid4()
    delivery = WebhookDelivery.objects.create(
        subscription=hook, event="report.sent", event_id=event_id, payload={"id": str(event_id), "data": {}}
    )
    token, _ = api_token_create(user=token_owner, name="matrix token")
    return {
        "integrations.apitoken": token,
        "integrations.webhooksubscription": hook,
        "integrations.webhookdelivery": delivery,
    }


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker, tmp_path_factory):
    media = tmp_path_factory.mktemp("matrix-media")
    with override_settings(MEDIA_ROOT=media), django_db_blocker.unblock(), transaction.atomic():
        yield _build_world()
        transaction.set_rollback(True)


@pytest.fixture(autouse=True)
def _media_in_tmp(world):
    """Replaces the suite's per-test MEDIA_ROOT (a new tmp_path per cell is slow): the module has one."""


@pytest.fixture
def client_for(world):
    def make(role: str) -> Client:
        client = Client()
        if role != ANONYMOUS:
            client.cookies = world["sessions"][role]
        return client

    return make


# ---------------------------------------------------------------------------------------------------
# Helpers


class _FormValues(html.parser.HTMLParser):
    """The values a browser would submit from the change form (inputs, selects, textareas)."""

    def __init__(self, form_id: str):
        super().__init__()
        self.form_id, self.inside, self.values = form_id, False, []
        self._select = self._textarea = None
        self._options: list[tuple[str, bool]] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.inside = attrs.get("id") == self.form_id
        if not self.inside:
            return
        name = attrs.get("name")
        if tag == "input" and name and "disabled" not in attrs:
            kind = attrs.get("type", "text")
            if kind in {"submit", "button", "file", "image", "reset"}:
                return
            if kind in {"checkbox", "radio"} and "checked" not in attrs:
                return
            self.values.append((name, attrs.get("value", "on" if kind == "checkbox" else "")))
        elif tag == "select" and name and "disabled" not in attrs:
            self._select, self._options = name, []
        elif tag == "option" and self._select:
            self._options.append((attrs.get("value", ""), "selected" in attrs))
        elif tag == "textarea" and name and "disabled" not in attrs:
            self._textarea = name
            self.values.append((name, ""))

    def handle_data(self, data):
        if self._textarea and self.values and self.values[-1][0] == self._textarea:
            self.values[-1] = (self._textarea, self.values[-1][1] + data)

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "select" and self._select:
            self.values += [(self._select, value) for value, chosen in self._options if chosen]
            self._select = None
        elif tag == "textarea":
            self._textarea = None


#: a field each editable admin's change POST sets, to see whether the POST was saved
CHANGE_MARKERS = {
    "auth.user": ("first_name", "Changed"),
    "auth.group": ("name", "Matrix group changed"),
    "backoffice.feedback": ("status", "planned"),
    "django_q.schedule": ("name", "Matrix schedule changed"),
    "inventory.category": ("description", "changed by matrix"),
    "inventory.product": ("name", "Matrix tea changed"),
    "inventory.warehouse": ("name", "Main warehouse changed"),
    "inventory.supplier": ("name", "Supplier changed"),
    "inventory.supplierproduct": ("supplier_sku", "MX-CHANGED"),
    "inventory.stocklevel": ("reorder_point", "7"),
    "inventory.stockadjustment": ("note", "changed by matrix"),
    "inventory.stocktransfer": ("note", "changed by matrix"),
    "orders.customer": ("contact_name", "Changed contact"),
    "orders.carrier": ("phone", "555-0100"),
    "orders.salesorder": ("notes", "changed by matrix"),
    "orders.purchaseorder": ("notes", "changed by matrix"),
    "orders.shipment": ("tracking_number", "MX-TRACK"),
    "reports.scheduledreport": ("name", "Matrix report changed"),
    "integrations.webhooksubscription": ("name", "Matrix hook changed"),
}

_form_cache: dict[str, list[tuple[str, str]]] = {}


def change_form_data(world, label: str, obj) -> list[tuple[str, str]]:
    """What the superuser's browser would POST from the change page (cached per model)."""
    if label not in _form_cache:
        boss = Client()
        boss.cookies = world["sessions"]["boss"]
        response = boss.get(admin_url(obj, "change"))
        assert response.status_code == 200, f"superuser cannot open {label}'s change page"
        parser = _FormValues(f"{obj._meta.model_name}_form")
        parser.feed(response.content.decode())
        _form_cache[label] = parser.values
    return list(_form_cache[label])


def admin_url(obj, view: str, *args) -> str:
    opts = obj._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}", args=(obj.pk, *args))


def snapshot(obj) -> dict | None:
    return type(obj)._default_manager.filter(pk=obj.pk).values().first()


MISSING_PK = 987654321


def missing_url(url: str, obj) -> str:
    return url.replace(f"/{obj.pk}/", f"/{MISSING_PK}/", 1)


def login_redirect(response) -> bool:
    return response.status_code == 302 and response["Location"].startswith(reverse("admin:login"))


def describe(response) -> str:
    where = f" -> {response['Location']}" if response.status_code in (301, 302) else ""
    return f"{response.status_code}{where}"


def sees_object(role: str, label: str) -> bool:
    """Whether the table lets the role see this row at all (its warehouse-bound rows need ``v``)."""
    letters, _ = rule_for(label, role)
    return "v" in letters


@cache
def _history_models() -> set[str]:
    return {
        model._meta.label_lower
        for model, model_admin in admin.site._registry.items()
        if "simple_history" in _custom_urls(model, model_admin)
    }


def _action_post_data(world, name: str, obj, *, out_of_scope: bool = False) -> dict:
    """Data a user would post to run the step (so that an unrefused step would change something)."""
    objects = world["other"] if out_of_scope else world["objects"]
    # "_form_submitted": the confirmation of an Unfold action dialog (Send now, Apply ...), without which it only asks
    data = {"reason": "matrix", "tracking_number": "MX-1", "confirm": "1", "_form_submitted": "on"}
    if name == "receive":
        data[f"line_{objects['_po_line'].pk}"] = 1
    if name == "create_shipment":
        data[f"line_{objects['_so_line'].pk}"] = 1
    return data


def _db_state(obj) -> tuple:
    """The row and the counts a workflow step would change (report sends: the runs and the e-mails)."""
    from django.core import mail

    from inventory.models import StockMovement
    from orders.models import Receipt, Shipment
    from reports.models import ReportRun

    runs = ReportRun.objects.order_by("pk").values_list("pk", "status", "attempts", "resends", "recipients", "sent_at")
    return (
        snapshot(obj),
        StockMovement.objects.count(),
        Shipment.objects.count(),
        Receipt.objects.count(),
        list(runs),
        len(getattr(mail, "outbox", [])),
    )


# ---------------------------------------------------------------------------------------------------
# Registry completeness: nothing registered without a rule


def test_every_admin_model_has_a_rule():
    missing = [
        missing_rule(model._meta.label_lower) for model, _ in _admin_models() if model._meta.label_lower not in RULES
    ]
    assert missing == []


# Registered only with django-q2's ORM broker (there is no queue table with Redis).
ONLY_WITH_ORM_BROKER = {"django_q.ormq"}


def test_no_rule_for_a_model_that_is_not_registered():
    from django_q.conf import Conf

    registered = {model._meta.label_lower for model, _ in _admin_models()}
    expected = set(RULES) if Conf.ORM else set(RULES) - ONLY_WITH_ORM_BROKER
    assert sorted(expected - registered) == []


def test_every_admin_action_and_custom_url_has_a_rule():
    problems = []
    for model, model_admin in _admin_models():
        label = model._meta.label_lower
        if label not in RULES:
            continue
        known = set(RULES[label].get("actions", "").split())
        for name in sorted(exposed_actions(model, model_admin) - known):
            problems.append(
                f"{label}: the admin exposes {name!r} but RULES[{label!r}]['actions'] does not list it: "
                "add it and say which roles may run it."
            )
        for name in sorted(known - exposed_actions(model, model_admin)):
            problems.append(f"{label}: RULES lists action {name!r} that the admin no longer has: remove it.")
        for key in sorted(set(RULES[label]) - {*ROLES, "actions"}):
            problems.append(f"RULES[{label!r}] has an entry for {key!r}, which is not a role of {ROLES}")
        for role in ROLES:
            _, actions = rule_for(label, role)
            if actions - known:
                problems.append(f"RULES[{label!r}][{role!r}] grants unknown actions {sorted(actions - known)}")
    assert problems == []


def test_every_api_endpoint_has_a_rule():
    problems = []
    for prefix, viewset, _ in _api_router().registry:
        if prefix not in API_RULES:
            problems.append(
                f"API endpoint /api/v1/{prefix}/ has no row in API_RULES of {__name__}: add one "
                "(the model rule it follows and the operations it offers)."
            )
        elif API_RULES[prefix][0] != viewset.queryset.model._meta.label_lower:
            problems.append(
                f"/api/v1/{prefix}/ serves {viewset.queryset.model._meta.label_lower}, not {API_RULES[prefix][0]}"
            )
    assert problems == []


def test_every_change_marker_and_object_exists(world):
    for label in RULES:
        assert label in world["objects"], f"add a {label} object to _build_world()"
        for role in ROLES:
            if "c" in rule_for(label, role)[0]:
                assert label in CHANGE_MARKERS, f"add a CHANGE_MARKERS field for {label}"


# ---------------------------------------------------------------------------------------------------
# The admin cells


def _request(kind: str, obj):
    """(method, url, data) of an admin cell."""
    model = type(obj)
    opts = model._meta
    if kind == "list":
        return "get", reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"), None
    if kind == "add":
        return "get", reverse(f"admin:{opts.app_label}_{opts.model_name}_add"), None
    if kind in ("view", "history", "delete"):
        return "get", admin_url(obj, "change" if kind == "view" else kind), None
    if kind == "version":
        return "get", admin_url(obj, "simple_history", obj.history.latest("history_date").history_id), None
    if kind == "export":
        return "get", reverse(f"admin:{opts.app_label}_{opts.model_name}_export"), None
    if kind.startswith("import:"):
        name = kind.partition(":")[2]
        if name == "import_status":
            return "get", reverse(f"admin:{opts.app_label}_{opts.model_name}_{name}", args=["x" * 20]), None
        method = "post" if name == "process_import" else "get"
        return method, reverse(f"admin:{opts.app_label}_{opts.model_name}_{name}"), None
    raise AssertionError(kind)


def _custom_action_url(obj, name: str) -> str:
    opts = obj._meta
    try:
        return reverse(f"admin:{opts.app_label}_{opts.model_name}_{name}", args=[obj.pk])
    except NoReverseMatch:
        return reverse(f"admin:{opts.app_label}_{opts.model_name}_{name}")


@pytest.mark.parametrize(("label", "kind", "role"), list(_admin_cells()))
def test_admin(world, client_for, label, kind, role):
    assert label in RULES, missing_rule(label)
    obj = world["objects"][label]
    client = client_for(role)
    letters, actions = rule_for(label, role) if role != ANONYMOUS else (set(), set())
    model_admin = admin.site._registry[type(obj)]

    if kind.startswith("action:"):
        _check_action(world, client, model_admin, label, kind.partition(":")[2], role, actions)
        return

    method, url, data = ("post", admin_url(obj, "change"), None) if kind == "change" else _request(kind, obj)
    allowed = KIND_LETTER.get(kind.partition(":")[0]) in letters
    if kind == "list" and label in OWN_ROW_MODELS:
        allowed = True  # every staff user lists their own rows
    before = snapshot(obj)
    if kind == "change":
        field, value = CHANGE_MARKERS.get(label, (None, None))
        data = [(k, v) for k, v in change_form_data(world, label, obj) if k != field]
        if field:
            data.append((field, value))
        data.append(("_save", "Save"))
        response = client.post(url, dict_of_lists(data))
    else:
        response = getattr(client, method)(url, data or {})

    where = f"{role} {kind} {label}"
    if role == ANONYMOUS:
        assert login_redirect(response), f"{where}: expected the login page, got {describe(response)}"
    elif allowed:
        if kind == "change":
            assert response.status_code == 302, f"{where}: expected saved (302), got {describe(response)}"
            assert str(getattr(type(obj)._default_manager.get(pk=obj.pk), field)) == value, f"{where}: not saved"
        elif kind in ("import:process_import", "import:import_status"):
            # no valid preview token: back to the upload page ("expired"), never a refusal
            assert response.status_code == 302 and response["Location"].endswith("/import/"), (
                f"{where}: {describe(response)}"
            )
        else:
            assert response.status_code == 200, f"{where}: expected 200, got {describe(response)}"
    else:
        _assert_refused(client, response, method, url, data, obj, label, role, kind, where)
    if not (allowed and kind == "change"):
        assert snapshot(obj) == before, f"{where}: the row changed"


def _post_data(data) -> dict:
    if not data:
        return {}
    return data if isinstance(data, dict) else dict_of_lists(data)


def dict_of_lists(pairs) -> dict:
    data: dict[str, list[str]] = {}
    for key, value in pairs:
        data.setdefault(key, []).append(value)
    return data


OBJECT_KINDS = {"view", "history", "version", "change", "delete"}


def _assert_refused(client, response, method, url, data, obj, label, role, kind, where):
    hidden = kind in OBJECT_KINDS and not sees_object(role, label)
    hidden = hidden and (is_scoped_model(type(obj)) or label in OWN_ROW_MODELS)
    if hidden:
        _assert_like_missing(client, response, method, url, data, obj, where)
    else:
        assert response.status_code == 403, f"{where}: expected 403, got {describe(response)}"


def _assert_like_missing(client, response, method, url, data, obj, where):
    """The answer is exactly the one for a row that does not exist (and not a page of the row)."""
    if method == "post":
        missing = client.post(missing_url(url, obj), _post_data(data))
    else:
        missing = client.get(missing_url(url, obj))
    assert response.status_code != 200, f"{where}: a hidden row opened (200)"
    assert describe(response) == describe(missing).replace(str(MISSING_PK), str(obj.pk)), (
        f"{where}: answers {describe(response)} but a missing row answers {describe(missing)}"
    )


def _check_action(world, client, model_admin, label, name, role, actions):
    obj = world["objects"][label]
    where = f"{role} {name} {label}"
    allowed = name in actions
    if name.startswith("bulk:"):
        _check_bulk_action(world, client, model_admin, obj, name.partition(":")[2], role, allowed, where)
        return
    url = _custom_action_url(obj, name)
    before = _db_state(obj)
    if name == "screenshot" and allowed:
        # the stored screenshot
        path = Path(django_settings.MEDIA_ROOT) / obj.screenshot.name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 32)
    if label in OWN_ROW_MODELS and name in ("bad_rows", "download") and allowed:
        # the job's stored file (a report run's file is stored by _build_world)
        folder = "import-jobs" if name == "bad_rows" else "exports"
        stored = obj.errors_file if name == "bad_rows" else obj.stored_name
        path = Path(django_settings.MEDIA_ROOT) / folder / stored
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"row,column,value,reason\n")
    response = _json_endpoint_request(world, client, name, url) if name in JSON_ENDPOINTS else client.get(url)
    if role == ANONYMOUS:
        assert login_redirect(response), f"{where}: expected the login page, got {describe(response)}"
    elif allowed:
        expected = 302 if name == "print_packing_slip" else 200
        assert response.status_code == expected, f"{where}: expected {expected}, got {describe(response)}"
    else:
        # the screenshot hides that the feedback exists; someone else's import or export, that the job exists
        refused = 404 if name == "screenshot" or label in OWN_ROW_MODELS else 403
        assert response.status_code == refused, f"{where}: expected {refused}, got {describe(response)}"
        posted = client.post(url, _action_post_data(world, name, obj))
        assert posted.status_code == refused, f"{where} (POST): expected {refused}, got {describe(posted)}"
    assert _db_state(obj) == before, f"{where}: something changed"


#: JSON endpoints behind the order forms (issue 10 §2), called as the forms call them
JSON_ENDPOINTS = {"live_totals", "figures"}


def _json_endpoint_request(world, client, name, url):
    if name == "live_totals":
        return client.post(url, data='{"lines": []}', content_type="application/json")
    return client.get(url, {"warehouse": world["objects"]["inventory.warehouse"].pk})


def _check_bulk_action(world, client, model_admin, obj, name, role, allowed, where):
    opts = obj._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    if role != ANONYMOUS:
        request = RequestFactory().get(url)
        request.user = world["users"][role]
        offered = name in model_admin.get_actions(request)
        assert offered == allowed, f"{where}: bulk action {'not ' if allowed else ''}offered in the list"
    if allowed:
        return
    before = _db_state(obj)
    response = client.post(url, {"action": name, "_selected_action": [obj.pk], "index": "0"})
    if role == ANONYMOUS:
        assert login_redirect(response), f"{where}: expected the login page, got {describe(response)}"
    elif "v" in rule_for(opts.label_lower, role)[0]:
        assert response.status_code in (200, 302), f"{where}: {describe(response)}"
    else:
        assert response.status_code == 403, f"{where}: expected 403, got {describe(response)}"
    assert _db_state(obj) == before, f"{where}: the refused bulk action changed something"


# ---------------------------------------------------------------------------------------------------
# Warehouse scoping: a Warehouse user of MAIN and the rows of warehouse OTHER

SCOPED = [
    "inventory.warehouse",
    "inventory.stocklevel",
    "inventory.stockmovement",
    "inventory.stockadjustment",
    "inventory.stocktransfer",
    "orders.salesorder",
    "orders.purchaseorder",
    "orders.receipt",
    "orders.shipment",
]


def _scope_cells():
    for label in SCOPED:
        for kind in ("view", "history", "version", "change", "delete"):
            if kind == "version" and label not in _history_models():
                continue  # no simple-history version pages
            yield pytest.param(label, kind, id=f"{label}-{kind}")
        for name in sorted(RULES[label].get("actions", "").split()):
            if not name.startswith("bulk:"):
                yield pytest.param(label, f"action:{name}", id=f"{label}-{name}")


def test_scoped_list_is_complete():
    assert sorted(SCOPED) == sorted(label for label in RULES if is_scoped_model(_model(label)))


def _model(label):
    from django.apps import apps

    return apps.get_model(label)


@pytest.mark.parametrize(("label", "kind"), list(_scope_cells()))
def test_warehouse_user_does_not_reach_another_warehouses_rows(world, client_for, label, kind):
    obj = world["other"][label]
    client = client_for(WAREHOUSE)
    where = f"Warehouse(MAIN) {kind} OTHER's {label}"
    before = _db_state(obj)
    if kind.startswith("action:"):
        name = kind.partition(":")[2]
        url = _custom_action_url(obj, name)
        for method in ("get", "post"):
            data = _action_post_data(world, name, obj, out_of_scope=True) if method == "post" else None
            response = getattr(client, method)(url, data or {})
            assert response.status_code != 200, f"{where}: the step opened"
            _assert_like_missing(client, response, method, url, data, obj, f"{where} ({method})")
    else:
        method, url, data = ("post", admin_url(obj, "change"), None) if kind == "change" else _request(kind, obj)
        if kind == "change":
            data = [("note", "x"), ("notes", "x"), ("reorder_point", "7"), ("_save", "Save")]
            response = client.post(url, dict_of_lists(data))
        else:
            response = client.get(url)
        if kind in ("history", "version") and label in _history_models():
            assert response.status_code == 404, f"{where}: expected 404, got {describe(response)}"
        _assert_like_missing(client, response, method, url, data, obj, where)
    assert _db_state(obj) == before, f"{where}: something changed"


# ---------------------------------------------------------------------------------------------------
# The API cells

API_CREATE = {
    "categories": {"name": "Matrix category"},
    "products": {"sku": "MX-NEW", "name": "New tea", "sale_price": "3.00", "cost": "1.00", "tax_rate": "0.00"},
    "warehouses": {"code": "MXNEW", "name": "New warehouse"},
    "suppliers": {"code": "MXNEW", "name": "New supplier"},
    "stock-levels": {"reorder_point": 1},
    "stock-movements": {"quantity": 1},
    "supplier-products": {"supplier": "MXSUP", "product": "MX-SPARE", "unit_cost": "1.00"},
    "stock-transfers": {
        "from_warehouse": "MAIN",
        "to_warehouse": "SPARE",
        "lines": [{"product": "MX-TEA", "quantity": 1}],
    },
    "customers": {"code": "MXNEW", "name": "New customer"},
    "carriers": {"name": "New carrier"},
    "sales-orders": {"customer": "MXCUST", "warehouse": "MAIN", "lines": [{"product": "MX-TEA", "quantity": 1}]},
    "purchase-orders": {"supplier": "MXSUP", "warehouse": "MAIN", "lines": [{"product": "MX-TEA", "quantity": 1}]},
    "receipts": {"note": "x"},
    "shipments": {"tracking_number": "x"},
}
API_UPDATE = {
    "categories": ("description", "changed by matrix"),
    "products": ("name", "Changed by matrix"),
    "warehouses": ("name", "Changed by matrix"),
    "suppliers": ("name", "Changed by matrix"),
    "stock-levels": ("reorder_point", 7),
    "stock-movements": ("note", "changed by matrix"),
    "supplier-products": ("supplier_sku", "MX-CHANGED"),
    "stock-transfers": ("note", "changed by matrix"),
    "customers": ("name", "Changed by matrix"),
    "carriers": ("phone", "555-0100"),
    "sales-orders": ("customer_reference", "changed by matrix"),
    "purchase-orders": ("supplier_reference", "changed by matrix"),
    "receipts": ("note", "changed by matrix"),
    "shipments": ("tracking_number", "changed by matrix"),
}


@pytest.mark.parametrize(("prefix", "op", "role"), list(_api_cells()))
def test_api(world, client_for, prefix, op, role):
    assert prefix in API_RULES, f"/api/v1/{prefix}/ has no row in API_RULES: add one"
    label, offered = API_RULES[prefix]
    # a row of MAIN (in the Warehouse user's warehouse); deletes take a row nothing refers to
    obj = world["spare"][prefix] if op == "delete" else world["objects"][label]
    model = type(obj)
    client = client_for(role)
    letters = rule_for(label, role)[0] if role not in (ANONYMOUS,) else set()
    allowed = API_LETTER[op] in letters and op in offered.split()
    detail = f"/api/v1/{prefix}/{obj.pk}/"
    count, before = model._default_manager.count(), snapshot(obj)
    if op == "list":
        response = client.get(f"/api/v1/{prefix}/")
    elif op == "retrieve":
        response = client.get(detail)
    elif op == "create":
        response = client.post(f"/api/v1/{prefix}/", API_CREATE[prefix], content_type="application/json")
    elif op == "update":
        field, value = API_UPDATE[prefix]
        response = client.patch(detail, {field: value}, content_type="application/json")
    else:
        response = client.delete(detail)
    where = f"{role} API {op} /api/v1/{prefix}/"
    expected = {"list": 200, "retrieve": 200, "create": 201, "update": 200, "delete": 204}[op]
    if allowed:
        assert response.status_code == expected, f"{where}: expected {expected}, got {response.status_code}"
        if op == "update":
            assert getattr(model._default_manager.get(pk=obj.pk), field) == value
        if op == "delete":
            assert not model._default_manager.filter(pk=obj.pk).exists()
        if op == "create":
            assert model._default_manager.count() == count + 1
        return
    if role == ANONYMOUS:
        # issue 9: unauthenticated → 401 (token authentication answers with WWW-Authenticate)
        assert response.status_code == 401, f"{where}: expected 401, got {response.status_code}"
    elif op in offered.split():
        assert response.status_code == 403, f"{where}: expected 403, got {response.status_code}"
    else:
        # an operation the endpoint does not offer: refused whatever the role
        assert response.status_code in (403, 405), f"{where}: expected 403/405, got {response.status_code}"
    assert model._default_manager.count() == count and snapshot(obj) == before, f"{where}: something changed"


SCOPED_API = {
    "warehouses": "inventory.warehouse",
    "stock-levels": "inventory.stocklevel",
    "stock-movements": "inventory.stockmovement",
}


@pytest.mark.parametrize("prefix", sorted(SCOPED_API))
def test_api_warehouse_user_does_not_reach_another_warehouses_rows(world, client_for, prefix):
    obj = world["other"][SCOPED_API[prefix]]
    client = client_for(WAREHOUSE)
    before = snapshot(obj)

    assert client.get(f"/api/v1/{prefix}/{obj.pk}/").status_code == 404
    field, value = API_UPDATE[prefix]
    assert client.patch(f"/api/v1/{prefix}/{obj.pk}/", {field: value}, content_type="application/json").status_code in (
        403,
        404,
    )
    listed = client.get(f"/api/v1/{prefix}/", {"page_size": 1000}).json()["results"]
    assert obj.pk not in {row["id"] for row in listed}
    assert snapshot(obj) == before


def test_api_stock_levels_of_another_warehouse_by_filter_are_empty(world, client_for):
    response = client_for(WAREHOUSE).get("/api/v1/stock-levels/", {"warehouse__code": "OTHER"})
    assert response.status_code == 200
    assert response.json()["results"] == []


def test_module_world_is_as_described(world):
    """The table's MAIN rows are in the Warehouse user's warehouse, the OTHER rows are not."""
    user = world["users"][WAREHOUSE]
    assert sorted(user.warehouses.values_list("code", flat=True)) == ["MAIN", "SPARE"]
    assert {
        obj.warehouse.code for obj in (world["other"]["orders.salesorder"], world["other"]["inventory.stocklevel"])
    } == {"OTHER"}
