"""Report pages and their exports in the admin: the same numbers as ``run_report``, typed files,
formula neutralising, permissions (Viewer runs and exports; no permission → 403), warehouse scoping,
bad parameters shown on the form, bounded queries, report actions."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.html import escape
from openpyxl import load_workbook

from reports import registry
from reports.registry import Report, ReportAction, run_report
from tests.reports.report_data import EVIL_NAME, build_world

D = Decimal
SALES = reverse("reports:detail", args=["sales-summary"])


@pytest.fixture
def world(admin_user):
    return build_world(admin_user)


@pytest.fixture
def login(client, make_user):
    def as_role(role, **kwargs):
        user = make_user(role, **kwargs)
        client.force_login(user)
        return user

    return as_role


def content(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_reports_list_shows_every_report_with_its_description(client, login):
    login("Viewer")
    response = client.get(reverse("reports:list"))
    assert response.status_code == 200
    page = response.content.decode()
    for report in registry.reports_for(response.wsgi_request.user):
        assert reverse("reports:detail", args=[report.name]) in page
        assert escape(report.description) in page
    assert "Sales summary" in page and "Stock valuation" in page
    assert 'href="/admin/report/"' in page  # the sidebar's "All reports"


def test_a_user_without_the_permission_gets_a_403_admin_page(client, login, world):
    login(None, username="norole")
    for url in (reverse("reports:list"), SALES, SALES + "?format=csv"):
        response = client.get(url)
        assert response.status_code == 403
        assert "Not allowed" in response.content.decode() and "sidebar" in response.content.decode().lower()
        assert "attachment" not in response.get("Content-Disposition", "")


def test_anonymous_is_sent_to_the_login_page(client):
    response = client.get(SALES)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_unknown_report_is_404(client, login):
    login("Viewer")
    assert client.get(reverse("reports:detail", args=["no-such-report"])).status_code == 404


def test_the_page_shows_the_rows_the_totals_row_and_the_chart(client, login, world):
    login("Viewer")
    response = client.get(SALES, {"group_by": "quarter"})
    assert response.status_code == 200
    page = response.content.decode()
    for text in ("2026-Q3", "2026-Q4", "2027-Q1", "104.95", "175.65", "150.05", 'id="totals-row"'):
        assert text in page
    assert 'class="chart"' in page and 'data-type="line"' in page
    chart = response.context["chart"]
    assert json.loads(chart["json"])["labels"] == ["2026-Q3", "2026-Q4", "2027-Q1"]
    assert 'href="?group_by=quarter&amp;format=xlsx"' in page
    assert "<script>" not in page  # CSP: charts are data attributes drawn by Unfold's static app.js


def test_bad_parameters_are_shown_on_the_form_never_a_500(client, login, world):
    login("Viewer")
    response = client.get(SALES, {"date_from": "yesterdayish", "group_by": "fortnight"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "Enter a valid date." in page and "Select a valid choice" in page and 'id="report-errors"' in page
    export = client.get(SALES, {"date_from": "yesterdayish", "format": "xlsx"})
    assert export.status_code == 400 and "Enter a valid date." in export.content.decode()
    unknown_format = client.get(SALES, {"format": "pdf"})
    assert unknown_format.status_code == 400 and "Unknown export format" in unknown_format.content.decode()


def test_pagination_keeps_the_parameters(client, login, world, monkeypatch):
    monkeypatch.setattr("reports.views.PAGE_SIZE", 2)
    login("Viewer")
    first = client.get(SALES, {"group_by": "day"})
    assert first.context["row_count"] == 4 and len(first.context["rows"]) == 2
    assert 'href="?group_by=day&amp;page=2"' in first.content.decode()
    second = client.get(SALES, {"group_by": "day", "page": "2"})
    assert [row["cells"][0]["text"] for row in second.context["rows"]] == ["2026-12-31", "2027-01-04"]
    assert second.context["totals"][-1]["text"] == "175.65"  # the totals are of every page


def test_exports_hold_the_same_numbers_as_the_report(client, login, world):
    login("Viewer")
    params = {"group_by": "customer"}
    expected = run_report("sales-summary", params)
    rows = list(expected.rows)

    response = client.get(SALES, {**params, "format": "csv"})
    assert response.status_code == 200 and response.streaming
    assert response["Content-Disposition"].startswith('attachment; filename="sales-summary_')
    lines = list(csv.DictReader(io.StringIO(content(response).decode("utf-8-sig"))))
    assert [line["customer"] for line in lines] == ["ALFKI", "EVIL", "Total"]
    assert [D(line["total_amount"]) for line in lines] == [D("155.70"), D("19.95"), D("175.65")]
    assert lines[1]["customer_name"] == "'" + EVIL_NAME  # neutralised: not a formula in Excel

    data = json.loads(content(client.get(SALES, {**params, "format": "json"})))
    assert data[:2] == [
        {**row, "net_amount": float(row["net_amount"]), "tax_amount": float(row["tax_amount"]),
         "shipping_amount": float(row["shipping_amount"]), "total_amount": float(row["total_amount"])}
        for row in rows
    ]  # fmt: skip
    assert data[1]["customer_name"] == EVIL_NAME  # JSON is data: unchanged
    assert data[-1]["customer"] == "Total" and data[-1]["total_amount"] == 175.65


def test_xlsx_is_typed_with_a_bold_frozen_header_and_a_totals_row(client, login, world):
    login("Viewer")
    response = client.get(SALES, {"group_by": "day", "date_range": "last_year", "format": "xlsx"})
    # last_year from today: the fixture's 2026 orders are only in it in 2027; use explicit dates for the figures.
    assert response.status_code == 200
    response = client.get(
        SALES, {"group_by": "day", "date_from": "2026-01-01", "date_to": "2026-12-31", "format": "xlsx"}
    )
    assert response["Content-Disposition"] == 'attachment; filename="sales-summary_2026.xlsx"'
    sheet = load_workbook(io.BytesIO(content(response))).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("period", "orders", "units", "net_amount", "tax_amount", "shipping_amount", "total_amount")
    assert all(cell.font.bold for cell in sheet[1]) and sheet.freeze_panes == "A2"
    assert rows[1] == (dt.datetime(2026, 9, 30), 1, 6, 47, 6.7, 5, 58.7)
    assert isinstance(rows[1][0], dt.datetime) and sheet["A2"].is_date  # dates are dates
    assert sheet["D2"].number_format == "#,##0.00"
    assert rows[-1] == ("Total", 3, 20, 140.05, 16.1, 7.5, 163.65)


def test_xlsx_neutralises_a_formula_in_a_customer_name(client, login, world):
    login("Viewer")
    response = client.get(SALES, {"group_by": "customer", "format": "xlsx"})
    sheet = load_workbook(io.BytesIO(content(response))).active
    cell = sheet["B3"]
    assert cell.value == EVIL_NAME and cell.data_type == "s" and cell.quotePrefix  # text, never a formula


@pytest.mark.parametrize("file_format", ["csv", "json", "xlsx"])
def test_a_warehouse_user_sees_and_exports_only_their_warehouses(client, login, world, file_format):
    keeper = login("Warehouse", username="keeper")
    world.main.staff.add(keeper)
    page = client.get(SALES, {"group_by": "warehouse"})
    assert [row["cells"][0]["text"] for row in page.context["rows"]] == ["MAIN"]
    assert "EAST" not in page.content.decode().split('id="report-table"')[1]
    export = content(client.get(SALES, {"group_by": "warehouse", "format": file_format}))
    if file_format == "xlsx":
        text = repr(list(load_workbook(io.BytesIO(export)).active.iter_rows(values_only=True)))
    else:
        text = export.decode("utf-8-sig")
    assert "MAIN" in text and "EAST" not in text
    assert "70.7" in text  # MAIN's total, not 175.65
    other = client.get(SALES, {"warehouse": "EAST"})
    assert other.status_code == 200 and "Select a valid choice" in other.content.decode()


def test_stock_pages_and_their_chart(client, login, world):
    login("Viewer")
    valuation = client.get(reverse("reports:detail", args=["stock-valuation"]))
    assert valuation.status_code == 200
    assert 'data-type="bar"' in valuation.content.decode() and "Subtotal" in valuation.content.decode()
    assert json.loads(valuation.context["chart"]["json"])["labels"] == ["Drinks", "Food"]
    on_hand = client.get(reverse("reports:detail", args=["stock-on-hand"]), {"warehouse": "MAIN"})
    assert on_hand.status_code == 200 and on_hand.context["row_count"] == 2


def test_empty_report_page_and_export(client, login, world):
    login("Viewer")
    page = client.get(SALES, {"date_from": "2030-01-01"})
    assert page.status_code == 200 and 'id="no-rows"' in page.content.decode()
    lines = content(client.get(SALES, {"date_from": "2030-01-01", "format": "csv"})).decode("utf-8-sig").splitlines()
    assert lines == [
        "period,orders,units,net_amount,tax_amount,shipping_amount,total_amount",
        "Total,0,0,0.00,0.00,0.00,0.00",
    ]


def test_page_queries_do_not_grow_with_rows(client, login, world, admin_user):
    from orders import services
    from tests.factories import ProductFactory

    login("Viewer")
    url = reverse("reports:detail", args=["stock-on-hand"])
    client.get(url)  # warm caches (content types, permissions)
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    for number in range(30):
        ProductFactory(sku=f"MORE-{number:02d}")
        services  # noqa: B018 - the products have no stock level: add them through a receipt
    from inventory.models import MovementKind, Product
    from inventory.services import StockLine, stock_receive

    stock_receive(
        lines=[StockLine(p.pk, world.main.pk, 1, D("1.00")) for p in Product.objects.filter(sku__startswith="MORE")],
        kind=MovementKind.OPENING,
    )
    with CaptureQueriesContext(connection) as many:
        response = client.get(url)
    assert response.context["row_count"] == 35
    assert len(many) == len(few) <= 20


class Pickable(Report):
    """A report with an action on selected rows (as the reorder report's "Create draft purchase orders")."""

    name = "test-pickable"
    title = "Pickable"
    description = "Rows to pick."
    model = registry.get_report("stock-on-hand").model
    required_permissions = ("inventory.view_stocklevel",)
    columns = registry.get_report("stock-on-hand").columns[:1]
    row_key = "sku"
    actions = (
        ReportAction("Do it", "reports:list"),
        ReportAction("Admins only", "reports:list", permission="auth.delete_user"),
    )

    def rows(self, queryset, params):
        return [{"sku": "A-1"}, {"sku": "B-2"}]


def test_report_actions_post_the_selected_row_keys(client, login, monkeypatch):
    monkeypatch.setitem(registry._REGISTRY, Pickable.name, Pickable)
    login("Viewer")
    page = client.get(reverse("reports:detail", args=[Pickable.name]), {"x": "1"}).content.decode()
    assert 'name="selected" value="A-1"' in page and 'name="selected" value="B-2"' in page
    assert 'formaction="/admin/report/"' in page and "Do it" in page
    assert "Admins only" not in page  # the action's permission
    assert 'id="select-all-rows"' in page and "reports/report.js" in page
