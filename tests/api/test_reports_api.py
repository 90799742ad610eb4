"""Reports over the API (issue 9 §1, §6): ``reports/`` lists what the user may run; ``reports/{name}/?param=…`` returns
the rows and totals as JSON with the numbers of ``run_report`` (what the admin page shows); ``format=csv|xlsx``
streams the file; permissions and warehouse scoping as on the admin page."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import openpyxl
import pytest
from rest_framework.test import APIClient

from inventory.models import MovementKind
from inventory.services import StockLine, stock_receive
from reports.registry import reports_for, run_report
from tests.api.token_helpers import bearer, make_token
from tests.factories import ProductFactory, WarehouseFactory

pytestmark = pytest.mark.django_db

REPORTS = "/api/v1/reports/"


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def shelves(stocked_product, warehouse):
    """CHAI: 10 in MAIN at 9.00; MATE: 4 in MAIN and 6 in NORTH at 2.50."""
    north = WarehouseFactory(code="NORTH")
    mate = ProductFactory(sku="MATE", name="Mate")
    stock_receive(
        lines=[StockLine(mate.pk, warehouse.pk, 4, Decimal("2.50")), StockLine(mate.pk, north.pk, 6, Decimal("2.50"))],
        kind=MovementKind.OPENING,
        reference="OPENING",
    )
    return north


def test_the_list_names_the_reports_the_user_may_run_with_their_parameters(make_user):
    buyer = make_user("Purchasing")

    response = api(buyer).get(REPORTS)

    assert response.status_code == 200
    names = [row["name"] for row in response.json()]
    assert names == [report.name for report in reports_for(buyer)]
    assert "stock-on-hand" in names and "purchase-summary" in names and "open-orders" not in names
    stock = next(row for row in response.json() if row["name"] == "stock-on-hand")
    assert stock["title"] == "Stock on hand" and {"warehouse", "sku"} <= set(stock["parameters"])


def test_rows_and_totals_are_the_numbers_of_run_report(make_user, shelves):
    viewer = make_user("Viewer")

    body = api(viewer).get(f"{REPORTS}stock-on-hand/", {"sku": "a"}).json()
    expected = run_report("stock-on-hand", {"sku": "a"}, user=viewer)

    assert body["name"] == "stock-on-hand" and body["params"] == {"sku": "a"}
    assert body["count"] == expected.row_count == 3
    rows = {(row["sku"], row["warehouse"]): row for row in body["results"]}
    assert rows[("CHAI", "MAIN")]["on_hand"] == 10 and rows[("CHAI", "MAIN")]["value"] == "90.00"
    assert rows[("MATE", "NORTH")]["value"] == "15.00"
    for mine, theirs in zip(body["results"], expected.iter_rows(), strict=True):
        assert mine["sku"] == theirs["sku"] and mine["on_hand"] == theirs["on_hand"]
        assert Decimal(mine["value"]) == theirs["value"] and Decimal(mine["average_cost"]) == theirs["average_cost"]
    assert body["totals"]["on_hand"] == 20 and body["totals"]["value"] == "115.00"
    assert Decimal(body["totals"]["value"]) == expected.totals["value"]
    assert [column["name"] for column in body["columns"]] == [column.name for column in expected.columns]


def test_parameters_filter_like_the_admin_page(make_user, shelves):
    body = api(make_user("Viewer")).get(f"{REPORTS}stock-on-hand/", {"warehouse": "NORTH"}).json()

    assert [(row["sku"], row["on_hand"]) for row in body["results"]] == [("MATE", 6)]


def test_rows_are_paginated_and_totals_cover_every_row(make_user, shelves):
    client = api(make_user("Viewer"))

    first = client.get(f"{REPORTS}stock-on-hand/", {"page_size": 2}).json()
    second = client.get(first["next"]).json()

    assert first["count"] == 3 and len(first["results"]) == 2 and len(second["results"]) == 1
    assert first["totals"] == second["totals"] and first["totals"]["on_hand"] == 20


def test_csv_streams_the_file_with_the_same_numbers(make_user, shelves):
    user = make_user("Viewer")

    response = APIClient().get(f"{REPORTS}stock-on-hand/", {"format": "csv"}, **bearer(make_token(user)))

    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"] and ".csv" in response["Content-Disposition"]
    text = b"".join(response.streaming_content if response.streaming else [response.content]).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:2] == ["sku", "product"]  # files are headed by column names, for scripts
    chai = next(row for row in rows if row[0] == "CHAI")
    assert chai[rows[0].index("on_hand")] == "10"
    assert Decimal(chai[rows[0].index("value")]) == Decimal("90.00")


def test_xlsx_streams_a_workbook(make_user, shelves):
    response = api(make_user("Viewer")).get(f"{REPORTS}stock-on-hand/", {"format": "xlsx", "warehouse": "NORTH"})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats-officedocument.spreadsheetml")
    content = b"".join(response.streaming_content) if response.streaming else response.content
    sheet = openpyxl.load_workbook(io.BytesIO(content)).active
    values = [[cell for cell in row] for row in sheet.iter_rows(values_only=True)]
    header = next(row for row in values if row and "sku" in row)
    mate = next(row for row in values if row and "MATE" in row)
    assert mate[header.index("on_hand")] == 6


def test_an_unknown_report_is_a_404(make_user):
    response = api(make_user("Viewer")).get(f"{REPORTS}no-such-report/")

    assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_a_bad_parameter_is_a_400_naming_it(make_user, shelves):
    response = api(make_user("Viewer")).get(f"{REPORTS}stock-movements/", {"date_from": "not a date"})

    assert response.status_code == 400 and response.json()["code"] == "invalid"
    assert "date_from" in response.json()["fields"]


def test_a_report_without_its_data_rights_is_a_403(make_user):
    response = api(make_user("Purchasing")).get(f"{REPORTS}open-orders/")

    assert response.status_code == 403 and response.json()["code"] == "permission_denied"


@pytest.mark.parametrize("role", ["Admin", "Manager", "Sales", "Purchasing", "Warehouse", "Viewer"])
def test_every_role_runs_stock_on_hand(make_user, shelves, role):
    user = make_user(role) if role != "Admin" else make_user(superuser=True)

    assert api(user).get(f"{REPORTS}stock-on-hand/").status_code == 200


def test_without_the_run_right_nothing_is_listed_or_run(make_user, shelves):
    client = api(make_user())  # staff without a role

    for response in (client.get(REPORTS), client.get(f"{REPORTS}stock-on-hand/", {"format": "csv"})):
        assert response.status_code == 403 and response.json()["code"] == "permission_denied"


def test_anonymous_is_401(db):
    assert APIClient().get(REPORTS).status_code == 401
    assert APIClient().get(f"{REPORTS}stock-on-hand/").status_code == 401


def test_warehouse_staff_see_only_their_warehouses_rows(make_user, shelves):
    staff = make_user("Warehouse")
    shelves.staff.add(staff)

    body = api(staff).get(f"{REPORTS}stock-on-hand/").json()
    file = api(staff).get(f"{REPORTS}stock-on-hand/", {"format": "csv"})

    assert [(row["sku"], row["warehouse"]) for row in body["results"]] == [("MATE", "NORTH")]
    assert body["totals"]["on_hand"] == 6
    text = b"".join(file.streaming_content if file.streaming else [file.content]).decode("utf-8-sig")
    assert "CHAI" not in text and "MATE" in text
