"""The daily reorder alert: ``manage.py reorder_alerts``, its task and schedule, once per warehouse per day."""

from __future__ import annotations

import datetime as dt
import io
import threading

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone
from openpyxl import load_workbook

from backoffice.schedules import SCHEDULES
from backoffice.task_registry import registered_tasks
from orders.models import PurchaseOrder, PurchaseOrderStatus
from reports.models import ReorderAlert
from reports.registry import run_report
from reports.reorder import send_reorder_alerts
from reports.tasks import reorder_alerts_task
from tests.factories import SupplierFactory
from tests.reports.reorder_helpers import prefer, product, ship, stock_level, warehouse

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def run(*args) -> str:
    out = io.StringIO()
    call_command("reorder_alerts", *args, stdout=out, stderr=out)
    return out.getvalue()


@pytest.fixture
def purchasing(make_user, django_user_model):
    """Two Purchasing users with addresses, one without, one inactive, and a Manager (not Purchasing)."""
    anna, ben = make_user("Purchasing", username="anna"), make_user("Purchasing", username="ben")
    make_user("Purchasing", username="noaddress")
    django_user_model.objects.filter(username="noaddress").update(email="")
    gone = make_user("Purchasing", username="gone")
    gone.is_active = False
    gone.save()
    make_user("Manager", username="manager")
    return [anna.email, ben.email]


@pytest.fixture
def shelves(db):
    """MAIN: 12 products to reorder (P00 ships 45 units); WEST: nothing to reorder."""
    main, west = warehouse("MAIN"), warehouse("WEST")
    supplier = SupplierFactory(code="ACME")
    for number in range(12):
        item = product(f"P{number:02d}", name=f"Item {number:02d}")
        prefer(item, supplier, unit_cost="3.00")
        stock_level(item, main, on_hand=number + (45 if number == 0 else 0), reorder_point=20, reorder_quantity=10)
        stock_level(item, west, on_hand=100, reorder_point=20)
    ship(product_by_sku("P00"), main, 45)
    return {"MAIN": main, "WEST": west}


def product_by_sku(sku):
    from inventory.models import Product

    return Product.objects.get(sku=sku)


@pytest.mark.django_db
def test_one_email_per_warehouse_to_the_purchasing_role_with_the_report_attached(shelves, purchasing, mailoutbox):
    output = run()

    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    today = timezone.localdate().isoformat()
    assert sorted(message.to) == sorted(purchasing)
    assert message.subject == f"Reorder alert MAIN {today}: 12 product(s) to reorder"
    # The body: the 10 most urgent lines (P00 has 0 days of cover; nothing else shipped), then the rest.
    assert "P00 · Item 00: available 0, incoming 0, reorder point 20, suggested 21 from ACME, 0.0 days" in message.body
    assert "P01 · Item 01" in message.body and "P09 · Item 09" in message.body
    assert "P10" not in message.body and "P11" not in message.body
    assert "… and 2 more in the attached report." in message.body
    assert "/admin/report/reorder/?warehouse=MAIN" in message.body
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html" and "<td" in html and "P09" in html
    # The attachment: the reorder report of MAIN as XLSX, the same rows as the report.
    [(filename, content, content_type)] = message.attachments
    assert (filename, content_type) == (f"reorder_MAIN_{today}.xlsx", XLSX_TYPE)
    sheet = load_workbook(io.BytesIO(content), read_only=True).active
    header, *cells = list(sheet.iter_rows(values_only=True))
    assert header == tuple(column.name for column in run_report("reorder", {}).columns)
    assert header[:3] == ("sku", "product", "warehouse") and len(header) == 12
    expected = list(run_report("reorder", {"warehouse": "MAIN"}).iter_rows())
    assert [row[0] for row in cells] == [row["sku"] for row in expected] == [f"P{n:02d}" for n in range(12)]
    assert [row[9] for row in cells] == [row["suggested_quantity"] for row in expected]
    assert "MAIN: 12 line(s) to reorder; alert e-mailed to 2 recipient(s)" in output
    assert "WEST: nothing to reorder." in output
    alert = ReorderAlert.objects.get()
    assert (alert.warehouse.code, alert.date, alert.line_count) == ("MAIN", timezone.localdate(), 12)
    assert PurchaseOrder.objects.count() == 0  # no drafts unless asked


@pytest.mark.django_db
def test_at_most_one_alert_per_warehouse_per_day(shelves, purchasing, mailoutbox):
    run()
    output = run()

    assert len(mailoutbox) == 1
    assert f"the alert for {timezone.localdate().isoformat()} was already sent, nothing sent now" in output
    assert ReorderAlert.objects.count() == 1

    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    send_reorder_alerts(today=tomorrow)
    assert len(mailoutbox) == 2
    assert ReorderAlert.objects.filter(date=tomorrow).count() == 1


@pytest.mark.django_db
def test_nothing_to_reorder_sends_nothing(shelves, purchasing, mailoutbox):
    output = run("--warehouse", "WEST")
    assert output.strip() == "WEST: nothing to reorder."
    assert mailoutbox == []
    assert ReorderAlert.objects.count() == 0


@pytest.mark.django_db
def test_unknown_or_inactive_warehouse_is_an_error(shelves):
    with pytest.raises(CommandError, match="Unknown warehouse 'NOPE'") as unknown:
        run("--warehouse", "NOPE")
    assert unknown.value.returncode == 2
    shelves["WEST"].is_active = False
    shelves["WEST"].save()
    with pytest.raises(CommandError, match="inactive"):
        run("--warehouse", "WEST")


@pytest.mark.django_db
def test_create_drafts_also_drafts_the_purchase_orders(shelves, purchasing, mailoutbox):
    output = run("--create-drafts")

    order = PurchaseOrder.objects.get()
    assert (order.supplier.code, order.warehouse.code, order.status) == ("ACME", "MAIN", PurchaseOrderStatus.DRAFT)
    assert order.lines.count() == 12
    assert f"12 line(s) on 1 draft purchase order(s): {order.number}." in output
    assert f"Draft purchase orders: 12 line(s) on 1 draft purchase order(s): {order.number}." in mailoutbox[0].body
    # The attachment is the report as it was before drafting: the 12 lines that needed ordering.
    sheet = load_workbook(io.BytesIO(mailoutbox[0].attachments[0][1]), read_only=True).active
    assert len(list(sheet.iter_rows(values_only=True))) == 1 + 12

    again = run("--create-drafts")
    assert PurchaseOrder.objects.count() == 1 and len(mailoutbox) == 1
    assert "MAIN: nothing to reorder." in again  # the drafts count as incoming now


@pytest.mark.django_db
def test_no_recipients_sends_nothing_and_claims_nothing(shelves, mailoutbox):
    output = run()
    assert "no active Purchasing user has an e-mail address, nothing sent" in output
    assert mailoutbox == [] and ReorderAlert.objects.count() == 0


@pytest.mark.django_db
def test_a_failed_send_releases_the_day_for_a_later_run(shelves, purchasing, mailoutbox, monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("SMTP server unreachable")

    monkeypatch.setattr("backoffice.mail.send_email", refuse)
    with pytest.raises(CommandError, match="could not be sent for MAIN"):
        run()
    assert ReorderAlert.objects.count() == 0

    monkeypatch.undo()
    run()
    assert len(mailoutbox) == 1 and ReorderAlert.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("auto_draft", [False, True])
def test_the_daily_task_drafts_only_when_the_setting_says_so(shelves, purchasing, mailoutbox, settings, auto_draft):
    settings.REORDER_AUTO_DRAFT = auto_draft

    summary = reorder_alerts_task()

    assert len(mailoutbox) == 1
    assert "MAIN: 12 line(s) to reorder; alert e-mailed" in summary
    assert PurchaseOrder.objects.count() == (1 if auto_draft else 0)


def test_the_task_is_registered_and_scheduled_daily():
    from django_q.models import Schedule

    [spec] = [spec for spec in SCHEDULES if spec["func"] == "reports.tasks.reorder_alerts_task"]
    assert spec["schedule_type"] == Schedule.DAILY
    assert "reports.tasks.reorder_alerts_task" in registered_tasks()


def test_auto_draft_is_off_by_default():
    from django.conf import settings

    assert settings.REORDER_AUTO_DRAFT is False


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs concurrent transactions (PostgreSQL)")
@pytest.mark.django_db(transaction=True)
def test_two_workers_at_the_same_moment_send_one_alert(shelves, purchasing, mailoutbox):
    barrier = threading.Barrier(2)
    errors, outcomes = [], []

    def work():
        try:
            barrier.wait()
            outcomes.extend(send_reorder_alerts(warehouse=shelves["MAIN"], create_drafts=True))
        except BaseException as error:  # noqa: BLE001 - asserted below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert len(mailoutbox) == 1
    assert ReorderAlert.objects.count() == 1
    assert PurchaseOrder.objects.count() == 1
    assert PurchaseOrder.objects.get().lines.count() == 12
    assert sorted(outcome.status for outcome in outcomes) == ["already_sent", "sent"]
