"""What the paths made for large databases change for a user: codes typed (not picked from a list of
20,000 customers), local times on the page, lazy reorder pages, the ledger's fast CSV path, cheap totals."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.html import escape

from backoffice.exports import iter_csv
from reports.registry import ReportParamError, run_report
from tests.reports.reorder_helpers import prefer, product, purchase_order, ship, stock_level, warehouse
from tests.reports.report_data import build_world
from tests.reports.test_stock_movements_report import ledger  # noqa: F401 - a fixture

SALES = reverse("reports:detail", args=["sales-summary"])
REORDER = reverse("reports:detail", args=["reorder"])
LEDGER = reverse("reports:detail", args=["stock-movements"])


@pytest.fixture
def world(admin_user):
    return build_world(admin_user)


@pytest.fixture
def signed_in(client, admin_user):
    client.force_login(admin_user)
    return client


def test_customer_is_a_text_box_for_a_code_not_a_list_of_every_customer(signed_in, world):
    page = signed_in.get(SALES).content.decode()
    assert 'name="customer"' in page
    assert '<select name="customer"' not in page
    assert "Alfreds Futterkiste</option>" not in page  # no customer is listed as a choice

    alfki = signed_in.get(SALES, {"customer": "ALFKI", "group_by": "customer"})
    assert alfki.status_code == 200
    assert [row["cells"][0]["text"] for row in alfki.context["rows"]] == ["ALFKI"]

    unknown = signed_in.get(SALES, {"customer": "NOPE"})
    assert unknown.status_code == 200
    assert escape("No customer has the code “NOPE”.") in unknown.content.decode()


def test_an_unknown_customer_code_is_refused_with_a_clear_message(world):
    with pytest.raises(ReportParamError) as error:
        run_report("sales-summary", {"customer": "NOPE"})
    assert error.value.errors == {"customer": ["No customer has the code “NOPE”."]}


def test_supplier_is_typed_on_the_reorder_page_and_an_unknown_code_is_refused(signed_in, db):
    main = warehouse("MAIN")
    tea = product("TEA")
    stock_level(tea, main, on_hand=2, reorder_point=10, reorder_quantity=5)
    supplier = prefer(tea).supplier
    page = signed_in.get(REORDER).content.decode()
    assert 'name="supplier"' in page and '<select name="supplier"' not in page
    assert [row["cells"][0]["text"] for row in signed_in.get(REORDER, {"supplier": supplier.code}).context["rows"]] == [
        "TEA"
    ]
    refused = signed_in.get(REORDER, {"supplier": "NOPE"}).content.decode()
    assert escape("No supplier has the code “NOPE”.") in refused


def test_the_page_shows_date_times_in_local_time_like_the_exports(signed_in, ledger):  # noqa: F811
    # The adjustment was booked at 23:30 in Berlin on 31 March (21:30 UTC).
    page = signed_in.get(LEDGER, {"date_from": "2026-03-31", "date_to": "2026-03-31"})
    [row] = page.context["rows"]
    assert row["cells"][0]["text"] == "2026-03-31 23:30"
    csv_text = run_report("stock-movements", {"date_from": "2026-03-31", "date_to": "2026-03-31"})
    buffer = io.BytesIO()
    csv_text.write("csv", buffer)
    assert "2026-03-31 23:30:00" in buffer.getvalue().decode("utf-8-sig")


def test_the_ledger_csv_fast_path_writes_what_the_rows_say(ledger):  # noqa: F811
    """The export reads tuples straight from the database; the file is byte for byte the one the page's
    rows (dicts) and the totals row give through the one export path."""
    result = run_report("stock-movements", {})
    fast = io.BytesIO()
    result.write("csv", fast)
    slow = b"".join(iter_csv([*list(result.rows), result.totals_row()], result.file_columns()))
    assert fast.getvalue() == slow
    text = fast.getvalue().decode("utf-8-sig")
    assert "'=HYPERLINK(1)" in text and ",Adjustment," in text and ",Opening balance," in text


def test_reorder_pages_complete_only_their_rows_and_match_the_whole_list(db):
    main = warehouse("MAIN")
    for index in range(7):
        item = product(f"P{index}")
        stock_level(item, main, on_hand=10 + index, reorder_point=30, reorder_quantity=5)
        prefer(item, moq=4)
        ship(item, main, 5)
    result = run_report("reorder", {})
    everything = list(result.rows)
    assert len(result.rows) == result.row_count == 7
    assert result.rows[2:5] == everything[2:5]
    assert result.rows[-1] == everything[-1] and result.rows[0] == everything[0]
    assert everything[0]["days_of_cover"] == Decimal("90.0")  # 5 available, 5 shipped in 90 days
    assert everything[0]["suggested_quantity"] == 28  # 30 - 5 + 1 = 26, rounded up to a multiple of 4
    with pytest.raises(IndexError):
        result.rows[7]


def test_stock_on_hand_totals_count_incoming_of_the_selected_levels_only(db):
    main, east = warehouse("MAIN"), warehouse("EAST")
    tea, coffee = product("TEA"), product("COFFEE")
    for item in (tea, coffee):
        stock_level(item, main, on_hand=4, reorder_point=0)
        stock_level(item, east, on_hand=1, reorder_point=0)
    supplier = prefer(tea).supplier
    purchase_order(supplier, main, [(tea, 6), (coffee, 3)], status="sent")
    purchase_order(supplier, east, [(tea, 2)], status="sent")
    purchase_order(supplier, main, [(tea, 100)], status="draft")  # a draft is not incoming stock here

    every = run_report("stock-on-hand", {})
    assert sum(row["incoming"] for row in every.rows) == every.totals["incoming"] == 11
    assert every.totals["on_hand"] == 10

    tea_in_main = run_report("stock-on-hand", {"sku": "TEA", "warehouse": "MAIN"})
    assert [row["incoming"] for row in tea_in_main.rows] == [6]
    assert tea_in_main.totals["incoming"] == 6 and tea_in_main.totals["on_hand"] == 4
    assert tea_in_main.row_count == 1


def test_the_ledger_page_reads_one_page_of_movements_not_the_whole_ledger(signed_in, ledger):  # noqa: F811
    with CaptureQueriesContext(connection) as captured:
        page = signed_in.get(LEDGER)
    assert page.status_code == 200 and len(page.context["rows"]) == 7
    reads = [
        query["sql"]
        for query in captured.captured_queries
        if 'FROM "inventory_stockmovement"' in query["sql"]
        and "COUNT(" not in query["sql"]
        and "SUM(" not in query["sql"]
    ]
    assert reads and all("LIMIT" in sql for sql in reads)
