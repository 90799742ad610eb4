"""Order entry while typing: the live-totals and stock-figures endpoints, the line pickers, the form.

The live totals must be the totals the saved order gets: ``test_live_totals_equal_the_saved_order`` prices
many random orders (line and order discounts, tax rates, tax-exempt customers, shipping, half-cent
rounding) through the endpoint and then saves the same input through the admin's services.
"""

from __future__ import annotations

import json
import random
from decimal import Decimal

import pytest
from django.urls import reverse

from inventory.models import Product
from orders import services
from orders.models import SalesOrder
from tests.factories import (
    CustomerFactory,
    ProductFactory,
    SupplierFactory,
    WarehouseFactory,
)

LIVE_TOTALS = "/admin/orders/salesorder/live-totals/"
FIGURES = "/admin/inventory/stocklevel/figures/"


def post(client, body):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post(LIVE_TOTALS, data=data, content_type="application/json")


def line(product, quantity, key="lines-0", **values):
    return {"key": key, "product": product.pk, "quantity": str(quantity), **values}


@pytest.fixture(autouse=True)
def dollars(settings):
    """Amounts are shown as the page shows money (backoffice.money), in a fixed currency here."""
    settings.CURRENCY = "USD"


@pytest.fixture
def sales_client(client, sales_user):
    client.force_login(sales_user)
    return client


@pytest.fixture
def tea(product_with_stock):
    return product_with_stock(7, sku="TEA", name="Green tea", sale_price=Decimal("12.5000"), tax_rate=Decimal("20.00"))


def test_live_totals_price_lines_with_tax_and_stock(sales_client, customer, warehouse, tea):
    response = post(
        sales_client,
        {
            "customer": customer.pk,
            "warehouse": warehouse.pk,
            "discount_percent": "10",
            "shipping_charge": "4.95",
            "lines": [line(tea, 3, discount_percent="5"), line(tea, 6, key="lines-1", unit_price="11")],
        },
    )
    assert response.status_code == 200
    data = response.json()
    first, second = data["lines"]
    # 3 × 12.50 × 0.95 × 0.90 = 32.0625 → 32.06; tax 20 % = 6.412 → 6.41
    assert (first["net"], first["tax"], first["total"], first["tax_rate"]) == ("32.06", "6.41", "38.47", "20.00")
    # … and as the page shows money (backoffice.money), for the line cells
    shown = (first["net_display"], first["tax_display"], first["total_display"])
    assert shown == ("USD 32.06", "USD 6.41", "USD 38.47")
    assert first["list_price"] == "12.50"
    assert first["stock"] == {"on_hand": 7, "allocated": 0, "available": 7, "incoming": 0, "reorder_point": 0}
    # 7 available: the first line takes 3, the second gets 4 of its 6.
    assert (first["short"], second["short"]) == (0, 2)
    # 6 × 11 × 0.90 = 59.40; tax 11.88
    assert (second["net"], second["tax"]) == ("59.40", "11.88")
    assert data["totals"] == {"subtotal": "91.46", "tax_total": "18.29", "shipping": "4.95", "total": "114.70"}
    assert data["shipping_address"] == "Obere Str. 57, Berlin"
    assert data["error"] == ""


def test_tax_exempt_customer_pays_no_tax(sales_client, warehouse, tea):
    exempt = CustomerFactory(tax_exempt=True)
    data = post(sales_client, {"customer": exempt.pk, "warehouse": warehouse.pk, "lines": [line(tea, 2)]}).json()
    assert data["lines"][0]["tax_rate"] == "0.00"
    assert data["totals"]["tax_total"] == "0.00"
    assert data["totals"]["total"] == "25.00"


def test_incoming_counts_open_purchase_orders_of_the_warehouse_only(sales_client, customer, warehouse, tea, admin_user):
    elsewhere = WarehouseFactory(code="EAST")
    for where, quantity, send in ((warehouse, 10, True), (warehouse, 99, False), (elsewhere, 50, True)):
        po = services.purchase_order_create(supplier=SupplierFactory(), warehouse=where, user=admin_user)
        services.purchase_order_line_add(order=po, product=tea, quantity=quantity, user=admin_user)
        if send:
            services.purchase_order_send(order=po, user=admin_user)
    data = post(sales_client, {"customer": customer.pk, "warehouse": warehouse.pk, "lines": [line(tea, 1)]}).json()
    assert data["lines"][0]["stock"]["incoming"] == 10


def test_live_totals_equal_the_saved_order(sales_client, warehouse, admin_user):
    rng = random.Random(20261127)
    products = [
        ProductFactory(
            sale_price=Decimal(rng.randrange(1, 100_000)) / 10_000 * rng.choice([1, 10, 1000]),
            tax_rate=rng.choice([Decimal("0"), Decimal("5.5"), Decimal("7"), Decimal("19"), Decimal("20")]),
        )
        for _ in range(12)
    ]
    customers = [CustomerFactory(tax_exempt=False), CustomerFactory(tax_exempt=True)]
    for case in range(25):
        customer = rng.choice(customers)
        discount = rng.choice(["0", "2.5", "10", "33.33", "100"])
        shipping = rng.choice(["0", "4.95", "0.01", "12.345"[:5]])
        lines = []
        for index in range(rng.randrange(1, 6)):
            values = {}
            if rng.random() < 0.5:
                values["unit_price"] = str(Decimal(rng.randrange(1, 2_000_000)) / 10_000)
            if rng.random() < 0.5:
                values["discount_percent"] = rng.choice(["1", "12.5", "15", "49.99"])
            lines.append(line(rng.choice(products), rng.randrange(1, 40), key=f"lines-{index}", **values))
        body = {
            "customer": customer.pk,
            "warehouse": warehouse.pk,
            "discount_percent": discount,
            "shipping_charge": shipping,
            "lines": lines,
        }
        live = post(sales_client, body).json()
        order = services.sales_order_create(
            customer=customer,
            warehouse=warehouse,
            user=admin_user,
            discount_percent=Decimal(discount),
            shipping_charge=Decimal(shipping),
        )
        for posted in lines:
            services.sales_order_line_add(
                order=order,
                product=Product.objects.get(pk=posted["product"]),
                quantity=int(posted["quantity"]),
                unit_price=Decimal(posted["unit_price"]) if "unit_price" in posted else None,
                discount_percent=Decimal(posted.get("discount_percent", "0")),
                user=admin_user,
            )
        order.refresh_from_db()
        saved = [
            {"net": f"{saved.net_amount:.2f}", "tax": f"{saved.tax_amount:.2f}", "total": f"{saved.total_amount:.2f}"}
            for saved in order.lines.order_by("id")
        ]
        assert [{k: row[k] for k in ("net", "tax", "total")} for row in live["lines"]] == saved, case
        assert live["totals"] == {
            "subtotal": f"{order.subtotal:.2f}",
            "tax_total": f"{order.tax_total:.2f}",
            "shipping": f"{order.shipping_charge:.2f}",
            "total": f"{order.total:.2f}",
        }, case


def test_existing_draft_lines_keep_their_saved_price_unless_the_product_changes(
    sales_client, customer, warehouse, tea, admin_user
):
    order = services.sales_order_create(customer=customer, warehouse=warehouse, user=admin_user)
    saved = services.sales_order_line_add(
        order=order, product=tea, quantity=2, unit_price=Decimal("9.99"), user=admin_user
    )
    coffee = ProductFactory(sale_price=Decimal("30.0000"), tax_rate=Decimal("0"))
    keep = {"key": "lines-0", "id": saved.pk, "product": tea.pk, "quantity": "2", "unit_price": ""}
    data = post(sales_client, {"order": order.pk, "lines": [keep]}).json()
    assert data["lines"][0]["unit_price"] == "9.99"
    swap = {**keep, "product": coffee.pk, "unit_price": "9.9900"}
    data = post(sales_client, {"order": order.pk, "lines": [swap]}).json()
    assert data["lines"][0]["net"] == "60.00"  # the new product's list price, as saving will do
    removed = {**keep, "delete": True}
    assert post(sales_client, {"order": order.pk, "lines": [removed]}).json()["totals"]["total"] == "0.00"


def test_a_line_with_bad_values_is_reported_and_left_out_of_the_totals(sales_client, customer, warehouse, tea):
    inactive = ProductFactory(is_active=False)
    data = post(
        sales_client,
        {
            "customer": customer.pk,
            "warehouse": warehouse.pk,
            "lines": [
                line(tea, 1),
                line(tea, "abc", key="lines-1"),
                line(tea, 1, key="lines-2", discount_percent="150"),
                line(inactive, 1, key="lines-3"),
                {"key": "lines-4", "product": 10**30, "quantity": "1"},
            ],
        },
    ).json()
    errors = [row["error"] for row in data["lines"]]
    assert errors[0] == ""
    assert "whole number" in errors[1]
    assert "100" in errors[2]
    assert f"{inactive.sku} is inactive" in errors[3]
    assert "must be an id" in errors[4]
    assert data["incomplete"] is True
    assert data["totals"]["subtotal"] == "12.50"


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[1, 2]",
        json.dumps({"lines": "x"}),
        json.dumps({"lines": [1]}),
        json.dumps({"customer": "abc"}),
        json.dumps({"customer": 999999}),
        json.dumps({"warehouse": True}),
        json.dumps({"order": "1 OR 1=1"}),
        json.dumps({"customer": None, "discount_percent": "lots"}),
        json.dumps({"shipping_charge": "-1"}),
        json.dumps({"lines": [{"product": 1}] * 501}),
    ],
)
def test_bad_input_is_a_400_json_error(sales_client, body):
    response = post(sales_client, body)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]


def test_a_header_value_out_of_range_leaves_totals_out_with_the_reason(sales_client, customer, warehouse, tea):
    data = post(
        sales_client,
        {"customer": customer.pk, "warehouse": warehouse.pk, "shipping_charge": "1e13", "lines": [line(tea, 1)]},
    )
    assert data.status_code == 400
    assert "Ensure" in data.json()["error"]


def test_without_customer_the_lines_show_stock_but_no_totals(sales_client, warehouse, tea):
    data = post(sales_client, {"warehouse": warehouse.pk, "lines": [line(tea, 9)]}).json()
    assert data["totals"] is None
    assert data["error"] == "Choose the customer to see prices with its tax."
    assert data["lines"][0]["short"] == 2


def test_another_warehouse_is_404_for_warehouse_staff(client, warehouse_user, customer, warehouse, tea):
    own = WarehouseFactory(code="OWN")
    own.staff.add(warehouse_user)
    warehouse_user.user_permissions.add(*_sales_entry_permissions())
    client.force_login(warehouse_user)
    response = post(client, {"customer": customer.pk, "warehouse": warehouse.pk, "lines": [line(tea, 1)]})
    assert response.status_code == 404
    assert response.json()["error"]
    assert client.get(FIGURES, {"warehouse": warehouse.pk, "product": tea.pk}).status_code == 404
    assert client.get(FIGURES, {"warehouse": own.pk, "product": tea.pk}).json()["products"][str(tea.pk)] == {
        "on_hand": 0,
        "allocated": 0,
        "available": 0,
        "incoming": 0,
        "reorder_point": 0,
    }


def _sales_entry_permissions():
    from django.contrib.auth.models import Permission

    return Permission.objects.filter(content_type__app_label="orders", codename="add_salesorder")


def test_an_order_of_another_warehouse_is_404(client, make_user, customer, tea, admin_user):
    east = WarehouseFactory(code="EAST")
    order = services.sales_order_create(customer=customer, warehouse=east, user=admin_user)
    clerk = make_user("Warehouse", username="clerk")
    clerk.user_permissions.add(*_sales_entry_permissions())
    WarehouseFactory(code="OWN").staff.add(clerk)
    client.force_login(clerk)
    assert post(client, {"order": order.pk, "lines": []}).status_code == 404


def test_a_confirmed_order_has_final_totals(sales_client, customer, warehouse, tea, admin_user):
    order = services.sales_order_create(customer=customer, warehouse=warehouse, user=admin_user)
    services.sales_order_line_add(order=order, product=tea, quantity=1, user=admin_user)
    services.sales_order_confirm(order=order, user=admin_user)
    response = post(sales_client, {"order": order.pk, "lines": []})
    assert response.status_code == 400
    assert "no longer a draft" in response.json()["error"]


@pytest.mark.parametrize("role", ["Viewer", "Purchasing", None])
def test_who_may_not_enter_sales_orders_is_refused(client, make_user, role, customer, warehouse):
    client.force_login(make_user(role, username=f"u{role}"))
    response = post(client, {"customer": customer.pk, "warehouse": warehouse.pk, "lines": []})
    assert response.status_code in (403, 302)
    if response.status_code == 403:
        assert response.json()["error"]


def test_live_totals_answer_get_with_405(sales_client):
    assert sales_client.get(LIVE_TOTALS).status_code == 405


def test_live_totals_run_a_fixed_number_of_queries(
    sales_client, customer, warehouse, product_with_stock, django_assert_max_num_queries
):
    products = [product_with_stock(3) for _ in range(30)]
    body = {
        "customer": customer.pk,
        "warehouse": warehouse.pk,
        "lines": [line(product, 2, key=f"lines-{n}") for n, product in enumerate(products)],
    }
    post(sales_client, body)  # warm the user's permission cache like a page that has loaded
    with django_assert_max_num_queries(12):
        assert post(sales_client, body).status_code == 200


# Stock figures ------------------------------------------------------------------------------------


def test_stock_figures_for_purchase_lines(client, make_user, warehouse, tea, admin_user):
    from inventory.models import StockLevel

    StockLevel.objects.filter(product=tea, warehouse=warehouse).update(reorder_point=5)
    po = services.purchase_order_create(supplier=SupplierFactory(), warehouse=warehouse, user=admin_user)
    services.purchase_order_line_add(order=po, product=tea, quantity=12, user=admin_user)
    services.purchase_order_send(order=po, user=admin_user)
    client.force_login(make_user("Purchasing"))
    response = client.get(FIGURES, {"warehouse": warehouse.pk, "product": [tea.pk]})
    assert response.status_code == 200
    assert response.json() == {
        "warehouse": "MAIN",
        "products": {str(tea.pk): {"on_hand": 7, "allocated": 0, "available": 7, "incoming": 12, "reorder_point": 5}},
    }


@pytest.mark.parametrize(
    "query",
    [{}, {"warehouse": "x"}, {"warehouse": "1", "product": "abc"}, {"warehouse": "1", "product": ["1"] * 501}],
)
def test_stock_figures_bad_input_is_400(client, make_user, warehouse, query):
    client.force_login(make_user("Purchasing"))
    response = client.get(FIGURES, query)
    assert response.status_code == 400
    assert response.json()["error"]


def test_stock_figures_need_the_stock_view_permission(client, make_user, warehouse, tea):
    client.force_login(make_user(None, username="nobody"))
    response = client.get(FIGURES, {"warehouse": warehouse.pk, "product": tea.pk})
    assert response.status_code == 403


def test_unknown_warehouse_is_404(client, make_user, tea):
    client.force_login(make_user("Purchasing"))
    assert client.get(FIGURES, {"warehouse": 999999, "product": tea.pk}).status_code == 404


# The product pickers of document lines -------------------------------------------------------------


def autocomplete(client, model_name, app_label="orders", **extra):
    return client.get(
        reverse("admin:autocomplete"),
        {"app_label": app_label, "model_name": model_name, "field_name": "product", "term": "", **extra},
    ).json()["results"]


@pytest.mark.parametrize(
    ("app_label", "model_name"),
    [
        ("orders", "salesorderline"),
        ("orders", "purchaseorderline"),
        ("inventory", "stocktransferline"),
        ("inventory", "stockadjustmentline"),
    ],
)
def test_line_pickers_offer_active_products_only(admin_client, app_label, model_name):
    active = ProductFactory(sku="ON-1")
    ProductFactory(sku="OFF-1", is_active=False)
    assert [r["id"] for r in autocomplete(admin_client, model_name, app_label)] == [str(active.pk)]


def test_other_product_choosers_still_find_inactive_products(admin_client):
    ProductFactory(sku="OFF-1", is_active=False)
    results = admin_client.get(
        reverse("admin:autocomplete"),
        {"app_label": "inventory", "model_name": "stocklevel", "field_name": "product", "term": "OFF"},
    ).json()["results"]
    assert len(results) == 1


def test_sales_line_picker_shows_price_tax_and_stock_of_the_warehouse(sales_client, warehouse, tea):
    exempt = CustomerFactory(tax_exempt=True)
    [result] = autocomplete(sales_client, "salesorderline", warehouse=warehouse.pk)
    assert result["text"] == "TEA · Green tea"
    assert (result["price"], result["tax_rate"]) == ("12.50", "20.00")
    assert result["stock"]["available"] == 7
    [result] = autocomplete(sales_client, "salesorderline", warehouse=warehouse.pk, customer=exempt.pk)
    assert result["tax_rate"] == "0.00"


def test_line_picker_shows_no_stock_of_a_warehouse_the_user_may_not_see(client, make_user, warehouse, tea):
    clerk = make_user("Warehouse", username="clerk")
    WarehouseFactory(code="OWN").staff.add(clerk)
    client.force_login(clerk)
    [result] = autocomplete(client, "stocktransferline", "inventory", warehouse=warehouse.pk)
    assert result["stock"] is None
    [result] = autocomplete(client, "stocktransferline", "inventory", warehouse="junk")
    assert result["stock"] is None


def test_line_picker_page_runs_a_fixed_number_of_queries(
    sales_client, warehouse, product_with_stock, django_assert_max_num_queries
):
    for _ in range(25):
        product_with_stock(2)
    autocomplete(sales_client, "salesorderline", warehouse=warehouse.pk)
    with django_assert_max_num_queries(10):
        assert len(autocomplete(sales_client, "salesorderline", warehouse=warehouse.pk)) == 20


# The order form -------------------------------------------------------------------------------------


def test_the_warehouse_defaults_when_there_is_only_one(sales_client, warehouse):
    page = sales_client.get("/admin/orders/salesorder/add/")
    assert page.context["adminform"].form.initial["warehouse"] == warehouse.pk


def test_the_warehouse_defaults_to_the_users_own(client, sales_user, warehouse):
    own = WarehouseFactory(code="OWN")
    own.staff.add(sales_user)
    client.force_login(sales_user)
    page = client.get("/admin/orders/salesorder/add/")
    assert page.context["adminform"].form.initial["warehouse"] == own.pk


def test_no_default_among_several_warehouses(sales_client, warehouse):
    WarehouseFactory(code="EAST")
    page = sales_client.get("/admin/orders/salesorder/add/")
    assert "warehouse" not in page.context["adminform"].form.initial


def test_the_lines_come_right_after_the_header(sales_client, warehouse):
    html = sales_client.get("/admin/orders/salesorder/add/").content.decode()
    assert html.index('name="customer"') < html.index('id="lines-group"') < html.index('name="shipping_address"')
    assert html.index('id="lines-group"') < html.index('name="order_date"')
    assert "orders/line_entry.js" in html
    assert 'data-url="/admin/orders/salesorder/live-totals/"' in html


def test_saved_draft_page_sends_its_order_and_warehouse(sales_client, customer, warehouse, tea, admin_user):
    order = services.sales_order_create(customer=customer, warehouse=warehouse, user=admin_user)
    html = sales_client.get(f"/admin/orders/salesorder/{order.pk}/change/").content.decode()
    assert f'data-document="{order.pk}"' in html
    assert f'data-warehouse="{warehouse.pk}"' in html
    assert 'data-editable="true"' in html
    assert SalesOrder.objects.get(pk=order.pk).is_editable


def test_purchase_and_transfer_forms_load_the_stock_figures(client, make_user, warehouse):
    client.force_login(make_user("Manager"))
    for url in ("/admin/orders/purchaseorder/add/", "/admin/inventory/stocktransfer/add/"):
        html = client.get(url).content.decode()
        assert 'data-url="/admin/inventory/stocklevel/figures/"' in html, url
        assert "field-stock" in html or "column-stock" in html, url
