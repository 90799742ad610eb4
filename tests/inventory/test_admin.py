"""Inventory admin through the test client: pages, workflow buttons, roles, history, query counts."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from inventory import services
from inventory.models import (
    DocumentStatus,
    MovementKind,
    Product,
    StockAdjustment,
    StockLevel,
    StockMovement,
    StockTransfer,
)
from inventory.services import StockLine
from tests.factories import (
    CategoryFactory,
    ProductFactory,
    SupplierFactory,
    SupplierProductFactory,
    WarehouseFactory,
)

pytestmark = pytest.mark.django_db

ROWS = 30


def url(name, *args, query=""):
    return reverse(f"admin:inventory_{name}", args=args) + query


def cells(response, column):
    """Text of one changelist column, row by row."""
    found = re.findall(rf'<td class="field-{column}[^"]*"[^>]*>(.*?)</td>', response.content.decode(), re.DOTALL)
    return [" ".join(re.sub(r"<[^>]+>", " ", cell).split()) for cell in found]


def link_cells(response, column):
    """Text of a changelist's link column (a header cell), row by row."""
    found = re.findall(rf'<th class="field-{column}[^"]*"[^>]*>(.*?)</th>', response.content.decode(), re.DOTALL)
    return [" ".join(re.sub(r"<[^>]+>", " ", cell).split()) for cell in found]


def messages_of(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def receive(product, warehouse, quantity):
    services.stock_receive(lines=[StockLine(product.pk, warehouse.pk, quantity, Decimal("5"))], reference="TEST")


def adjustment(warehouse, counts, user=None):
    document = services.stock_adjustment_create(warehouse=warehouse, reason="cycle_count", user=user)
    for product, counted in counts:
        document.lines.create(product=product, counted_quantity=counted)
    return document


def transfer(source, destination, lines, user=None):
    document = services.stock_transfer_create(from_warehouse=source, to_warehouse=destination, user=user)
    for product, quantity in lines:
        document.lines.create(product=product, quantity=quantity)
    return document


def on_hand(product, warehouse):
    level = StockLevel.objects.filter(product=product, warehouse=warehouse).first()
    return level.on_hand if level else 0


@pytest.fixture
def other_warehouse(db):
    return WarehouseFactory(code="EAST", name="East depot")


@pytest.fixture
def catalogue(warehouse, other_warehouse, admin_user):
    """ROWS of everything: products with stock in two warehouses, suppliers, documents, movements."""
    categories = [CategoryFactory(name=f"Cat {i:02d}") for i in range(ROWS)]
    products = [ProductFactory(sku=f"P{i:03d}", category=categories[i]) for i in range(ROWS)]
    suppliers = [SupplierFactory() for _ in range(ROWS)]
    for i in range(ROWS):
        SupplierProductFactory(supplier=suppliers[i], product=products[i])
    services.stock_receive(
        lines=[StockLine(p.pk, w.pk, 20, Decimal("4")) for p in products for w in (warehouse, other_warehouse)],
        kind=MovementKind.OPENING,
        reference="OPEN",
    )
    for i in range(ROWS):
        adjustment(warehouse, [(products[i], 5), (products[(i + 1) % ROWS], 7)], user=admin_user)
        transfer(warehouse, other_warehouse, [(products[i], 1), (products[(i + 1) % ROWS], 2)], user=admin_user)
    WarehouseFactory.create_batch(ROWS - 2)
    return products


# Queries per page as superuser with ROWS rows per list, measured on SQLite (session, user, the page's
# rows, inline rows, related choices); one query per row would add at least ROWS.
MAX_QUERIES = {
    # model: (changelist, change page)
    "category": (6, 4),
    "product": (5, 10),
    "warehouse": (5, 6),
    "supplier": (5, 8),  # the change page's panel: latest POs + one query for every figure (orders.record_pages)
    "supplierproduct": (5, 8),
    "stocklevel": (5, 6),
    "stockmovement": (5, 6),
    "stockadjustment": (5, 11),
    "stocktransfer": (6, 12),
}
CHANGELISTS = list(MAX_QUERIES)


@pytest.mark.parametrize("model", CHANGELISTS)
def test_changelist_has_no_per_row_queries(admin_client, catalogue, model, django_assert_max_num_queries):
    with django_assert_max_num_queries(MAX_QUERIES[model][0]):
        response = admin_client.get(url(f"{model}_changelist"))
    assert response.status_code == 200
    assert len(response.context["cl"].result_list) >= min(ROWS, response.context["cl"].list_per_page)


def test_category_list_counts_each_categorys_products_and_sorts_by_them(admin_client):
    tea, coffee, empty = (CategoryFactory(name=name) for name in ("Tea", "Coffee", "Empty"))
    ProductFactory.create_batch(3, category=tea)
    ProductFactory.create_batch(5, category=coffee)

    by_name = admin_client.get(url("category_changelist"))
    most_first = admin_client.get(url("category_changelist", query="?o=-3"))

    assert list(zip(link_cells(by_name, "name"), cells(by_name, "product_count"), strict=True)) == [
        ("Coffee", "5"),
        ("Empty", "0"),
        ("Tea", "3"),
    ]
    assert link_cells(most_first, "name") == ["Coffee", "Tea", "Empty"]


BIG_LISTS = [
    "product",
    "supplier",
    "supplierproduct",
    "stocklevel",
    "stockmovement",
    "stockadjustment",
    "stocktransfer",
]


@pytest.mark.parametrize("model", BIG_LISTS)
def test_searching_a_big_list_does_not_count_the_whole_table(admin_client, catalogue, model):
    """A search counts its matches once; no second ``COUNT(*)`` of the whole table for "(N total)"."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        response = admin_client.get(url(f"{model}_changelist", query="?q=P00"))
    counts = [q["sql"] for q in captured if q["sql"].upper().startswith("SELECT COUNT(")]
    assert response.status_code == 200
    assert len(counts) <= 1, counts


@pytest.mark.parametrize("model", CHANGELISTS)
def test_change_and_history_pages_render(admin_client, catalogue, model, django_assert_max_num_queries):
    from django.apps import apps

    obj = apps.get_model("inventory", model).objects.order_by("pk").first()
    with django_assert_max_num_queries(MAX_QUERIES[model][1]):
        response = admin_client.get(url(f"{model}_change", obj.pk))
    assert response.status_code == 200
    assert str(obj) in response.content.decode()
    history = admin_client.get(url(f"{model}_history", obj.pk))
    assert history.status_code == 200


@pytest.mark.parametrize(
    "model", ["category", "product", "warehouse", "supplier", "supplierproduct", "stocklevel", "stockadjustment"]
)
def test_add_pages_render(admin_client, model):
    response = admin_client.get(url(f"{model}_add"))
    assert response.status_code == 200
    assert response.context["adminform"].form.fields


def change_page_queries(client, page_url):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(page_url)  # warm caches (content types, permissions)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(page_url)
    assert response.status_code == 200
    return len(captured), response.content.decode()


@pytest.mark.parametrize("page", ["supplier", "product"])
def test_price_list_inline_costs_the_same_queries_at_5_and_50_rows(admin_client, page):
    """The supplier's (or product's) price-list tab labels each row's product/supplier without a query per row."""
    counts = {}
    for rows in (5, 50):
        supplier, product = SupplierFactory(), ProductFactory()
        if page == "supplier":
            links = [SupplierProductFactory(supplier=supplier) for _ in range(rows)]
            owner, shown = supplier, [link.product for link in links]
        else:
            links = [SupplierProductFactory(product=product) for _ in range(rows)]
            owner, shown = product, [link.supplier for link in links]
        counts[rows], html = change_page_queries(admin_client, url(f"{page}_change", owner.pk))
        html = html.replace("&middot;", "·")
        for related in shown[:25]:  # every row of the tab's first page shows its selected product/supplier
            assert f'value="{related.pk}" selected>{related}</option>' in html
        if rows > 25:  # the tab is paged, 25 rows a page
            assert str(shown[-1]) not in html
    assert counts[5] == counts[50] <= 10


def test_product_autocomplete_pages_without_counting_the_table(admin_client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    ProductFactory.create_batch(25)
    params = {"app_label": "inventory", "model_name": "stocklevel", "field_name": "product", "term": ""}
    admin_client.get(reverse("admin:autocomplete"), params)
    with CaptureQueriesContext(connection) as captured:
        first = admin_client.get(reverse("admin:autocomplete"), params).json()
    counts = [q["sql"] for q in captured if "COUNT(" in q["sql"].upper()]  # before the next request resets the log
    second = admin_client.get(reverse("admin:autocomplete"), {**params, "page": 2}).json()
    assert (len(first["results"]), first["pagination"]["more"]) == (20, True)
    assert (len(second["results"]), second["pagination"]["more"]) == (5, False)
    assert not {r["id"] for r in first["results"]} & {r["id"] for r in second["results"]}
    assert not counts
    assert admin_client.get(reverse("admin:autocomplete"), {**params, "page": 3}).status_code == 404


# ---------------------------------------------------------------------------
# Adjustments and transfers


def adjustment_post_data(warehouse, lines):
    data = {
        "warehouse": warehouse.pk,
        "reason": "cycle_count",
        "note": "Monthly count",
        "lines-TOTAL_FORMS": len(lines),
        "lines-INITIAL_FORMS": 0,
        "lines-MIN_NUM_FORMS": 0,
        "lines-MAX_NUM_FORMS": 1000,
    }
    for i, (product, counted) in enumerate(lines):
        data[f"lines-{i}-product"] = product.pk
        data[f"lines-{i}-counted_quantity"] = counted
    return data


def test_adding_an_adjustment_numbers_it_and_saves_its_lines(admin_client, admin_user, warehouse, stocked_product):
    response = admin_client.post(url("stockadjustment_add"), adjustment_post_data(warehouse, [(stocked_product, 7)]))
    assert response.status_code == 302
    document = StockAdjustment.objects.get()
    assert document.number.startswith("ADJ-")
    assert document.created_by == admin_user
    assert document.status == DocumentStatus.DRAFT
    assert [(line.product, line.counted_quantity) for line in document.lines.all()] == [(stocked_product, 7)]
    assert document.history.first().history_user == admin_user


def test_apply_button_applies_the_adjustment(admin_client, admin_user, warehouse, stocked_product):
    document = adjustment(warehouse, [(stocked_product, 7)])
    page = admin_client.get(url("stockadjustment_change", document.pk))
    # Counts are reviewed first (expected vs counted): the Apply button is on the review page.
    assert url("stockadjustment_review_count", document.pk) in page.content.decode()
    review = admin_client.get(url("stockadjustment_review_count", document.pk))
    assert url("stockadjustment_apply_document", document.pk) in review.content.decode()

    response = admin_client.post(url("stockadjustment_apply_document", document.pk), {"_form_submitted": "on"})

    assert response.status_code == 302
    document.refresh_from_db()
    assert document.status == DocumentStatus.APPLIED
    assert on_hand(stocked_product, warehouse) == 7
    movement = StockMovement.objects.get(reference=document.number)
    assert (movement.quantity, movement.user) == (-3, admin_user)
    assert f"{document.number} was applied." in messages_of(response)
    assert document.lines.get().previous_quantity == 10


def test_apply_button_answers_htmx_with_a_redirect_header(admin_client, warehouse, stocked_product):
    document = adjustment(warehouse, [(stocked_product, 4)])
    response = admin_client.post(
        url("stockadjustment_apply_document", document.pk), {"_form_submitted": "on"}, headers={"HX-Request": "true"}
    )
    assert response.headers["HX-Redirect"] == url("stockadjustment_change", document.pk)
    assert on_hand(stocked_product, warehouse) == 4


def test_apply_button_shows_a_business_error_and_writes_nothing(admin_client, warehouse, stocked_product):
    services.stock_allocate(lines=[StockLine(stocked_product.pk, warehouse.pk, 6)])
    document = adjustment(warehouse, [(stocked_product, 2)])

    response = admin_client.post(url("stockadjustment_apply_document", document.pk), {"_form_submitted": "on"})

    assert response.status_code == 302
    [message] = messages_of(response)
    assert "count below reserved quantity" in message and "CHAI @ MAIN" in message
    document.refresh_from_db()
    assert document.status == DocumentStatus.DRAFT
    assert on_hand(stocked_product, warehouse) == 10
    assert not StockMovement.objects.filter(reference=document.number).exists()


def test_transfer_shortfall_is_listed_and_nothing_moves(admin_client, warehouse, other_warehouse, stocked_product):
    document = transfer(warehouse, other_warehouse, [(stocked_product, 25)])

    response = admin_client.post(url("stocktransfer_apply_document", document.pk), {"_form_submitted": "on"})

    [message] = messages_of(response)
    assert "CHAI @ MAIN: requested 25, available 10" in message
    assert (on_hand(stocked_product, warehouse), on_hand(stocked_product, other_warehouse)) == (10, 0)
    document.refresh_from_db()
    assert document.status == DocumentStatus.DRAFT


def test_transfer_apply_button_moves_stock(admin_client, warehouse, other_warehouse, stocked_product):
    document = transfer(warehouse, other_warehouse, [(stocked_product, 4)])
    admin_client.post(url("stocktransfer_apply_document", document.pk), {"_form_submitted": "on"})
    assert (on_hand(stocked_product, warehouse), on_hand(stocked_product, other_warehouse)) == (6, 4)


def test_bulk_apply_applies_good_documents_and_reports_bad_ones(
    admin_client, warehouse, other_warehouse, stocked_product
):
    good = transfer(warehouse, other_warehouse, [(stocked_product, 3)])
    bad = transfer(warehouse, other_warehouse, [(stocked_product, 50)])

    response = admin_client.post(
        url("stocktransfer_changelist"), {"action": "apply_selected", "_selected_action": [good.pk, bad.pk]}
    )

    assert response.status_code == 302
    texts = messages_of(response)
    assert any(bad.number in t and "requested 50, available 7" in t for t in texts)
    assert any(f"Applied {good.number}." == t for t in texts)
    good.refresh_from_db()
    bad.refresh_from_db()
    assert (good.status, bad.status) == (DocumentStatus.APPLIED, DocumentStatus.DRAFT)
    assert on_hand(stocked_product, other_warehouse) == 3


def test_bulk_apply_of_adjustments(admin_client, warehouse, stocked_product):
    document = adjustment(warehouse, [(stocked_product, 12)])
    admin_client.post(
        url("stockadjustment_changelist"), {"action": "apply_selected", "_selected_action": [document.pk]}
    )
    assert on_hand(stocked_product, warehouse) == 12


def test_cancel_button(admin_client, warehouse, stocked_product):
    document = adjustment(warehouse, [(stocked_product, 1)])
    admin_client.post(url("stockadjustment_cancel_document", document.pk), {"_form_submitted": "on"})
    document.refresh_from_db()
    assert document.status == DocumentStatus.CANCELLED
    response = admin_client.post(url("stockadjustment_apply_document", document.pk), {"_form_submitted": "on"})
    assert response.status_code == 403
    assert on_hand(stocked_product, warehouse) == 10


def test_applied_document_is_read_only(admin_client, warehouse, stocked_product):
    document = adjustment(warehouse, [(stocked_product, 8)])
    services.stock_adjustment_apply(adjustment=document)

    page = admin_client.get(url("stockadjustment_change", document.pk))
    html = page.content.decode()
    assert page.status_code == 200
    assert 'name="warehouse"' not in html and 'name="lines-0-counted_quantity"' not in html
    assert url("stockadjustment_apply_document", document.pk) not in html

    data = adjustment_post_data(warehouse, [])
    assert admin_client.post(url("stockadjustment_change", document.pk), data).status_code == 403
    revert = document.history.earliest()
    assert admin_client.post(url("stockadjustment_simple_history", document.pk, revert.history_id)).status_code == 403
    document.refresh_from_db()
    assert document.status == DocumentStatus.APPLIED


# ---------------------------------------------------------------------------
# Ledger, stock levels


def test_ledger_is_read_only_for_superusers(admin_client, stocked_product):
    movement = StockMovement.objects.get()
    assert admin_client.get(url("stockmovement_add")).status_code == 403
    assert admin_client.post(url("stockmovement_change", movement.pk), {"quantity": 99}).status_code == 403
    assert admin_client.post(url("stockmovement_delete", movement.pk), {"post": "yes"}).status_code == 403
    page = admin_client.get(url("stockmovement_change", movement.pk))
    assert page.status_code == 200 and 'name="quantity"' not in page.content.decode()
    movement.refresh_from_db()
    assert movement.quantity == 10


def test_ledger_filters_by_kind_and_searches_by_reference(admin_client, warehouse, stocked_product):
    receive(stocked_product, warehouse, 5)
    listed = admin_client.get(url("stockmovement_changelist", query="?kind__exact=receipt"))
    assert [m.kind for m in listed.context["cl"].result_list] == ["receipt"]
    found = admin_client.get(url("stockmovement_changelist", query="?q=OPENING"))
    assert [m.reference for m in found.context["cl"].result_list] == ["OPENING"]


def test_stock_levels_flag_and_filter_reorder(admin_client, warehouse, stocked_product):
    low = StockLevel.objects.get(product=stocked_product)
    low.reorder_point = 10
    low.save()
    fine_product = ProductFactory(sku="FINE")
    receive(fine_product, warehouse, 50)
    StockLevel.objects.filter(product=fine_product).update(reorder_point=5)

    page = admin_client.get(url("stocklevel_changelist"))
    rows = [level.product.sku for level in page.context["cl"].result_list]
    assert dict(zip(rows, cells(page, "reorder_badge"), strict=True)) == {"CHAI": "Reorder", "FINE": "-"}

    filtered = admin_client.get(url("stocklevel_changelist", query="?reorder=yes"))
    assert [level.product.sku for level in filtered.context["cl"].result_list] == ["CHAI"]


def test_stock_level_counters_cannot_be_edited(admin_client, stocked_product):
    level = StockLevel.objects.get()
    page = admin_client.get(url("stocklevel_change", level.pk))
    assert 'name="on_hand"' not in page.content.decode() and 'name="allocated"' not in page.content.decode()

    response = admin_client.post(
        url("stocklevel_change", level.pk), {"on_hand": 999, "allocated": 5, "reorder_point": 4, "reorder_quantity": 20}
    )

    assert response.status_code == 302
    level.refresh_from_db()
    assert (level.on_hand, level.allocated, level.reorder_point, level.reorder_quantity) == (10, 0, 4, 20)


# ---------------------------------------------------------------------------
# Roles


def test_viewer_cannot_add_or_apply(client, make_user, warehouse, stocked_product):
    client.force_login(make_user("Viewer"))
    document = adjustment(warehouse, [(stocked_product, 1)])
    assert client.get(url("stockadjustment_changelist")).status_code == 200
    assert client.get(url("stockadjustment_add")).status_code == 403
    assert client.get(url("product_add")).status_code == 403
    assert client.post(url("stockadjustment_apply_document", document.pk), {"_form_submitted": "on"}).status_code == 403
    assert on_hand(stocked_product, warehouse) == 10


@pytest.fixture
def storekeeper(make_user, warehouse):
    user = make_user("Warehouse")
    warehouse.staff.add(user)
    return user


def test_warehouse_user_sees_only_their_warehouses_documents(
    client, storekeeper, warehouse, other_warehouse, stocked_product
):
    mine = adjustment(warehouse, [(stocked_product, 1)])
    theirs = adjustment(other_warehouse, [(stocked_product, 1)])
    client.force_login(storekeeper)

    listed = client.get(url("stockadjustment_changelist"))
    assert [d.number for d in listed.context["cl"].result_list] == [mine.number]
    assert client.get(url("stockadjustment_change", theirs.pk)).status_code == 404  # same answer as a missing id
    assert client.post(url("stockadjustment_apply_document", theirs.pk), {"_form_submitted": "on"}).status_code == 403

    levels = client.get(url("stocklevel_changelist"))
    assert {level.warehouse for level in levels.context["cl"].result_list} == {warehouse}


def test_warehouse_user_can_only_pick_their_warehouse(client, storekeeper, warehouse, other_warehouse, stocked_product):
    client.force_login(storekeeper)
    form = client.get(url("stockadjustment_add")).context["adminform"].form
    assert list(form.fields["warehouse"].queryset) == [warehouse]

    response = client.post(url("stockadjustment_add"), adjustment_post_data(other_warehouse, [(stocked_product, 1)]))
    assert response.status_code == 200
    assert "warehouse" in response.context["adminform"].form.errors
    assert not StockAdjustment.objects.exists()

    client.post(url("stockadjustment_add"), adjustment_post_data(warehouse, [(stocked_product, 3)]))
    document = StockAdjustment.objects.get()
    client.post(url("stockadjustment_apply_document", document.pk), {"_form_submitted": "on"})
    assert on_hand(stocked_product, warehouse) == 3


def test_warehouse_user_sees_transfers_into_their_warehouse_but_cannot_apply_them(
    client, storekeeper, warehouse, other_warehouse, stocked_product
):
    receive(stocked_product, other_warehouse, 5)
    inbound = transfer(other_warehouse, warehouse, [(stocked_product, 2)])
    client.force_login(storekeeper)
    listed = client.get(url("stocktransfer_changelist"))
    assert [d.number for d in listed.context["cl"].result_list] == [inbound.number]
    assert client.post(url("stocktransfer_apply_document", inbound.pk), {"_form_submitted": "on"}).status_code == 403
    assert StockTransfer.objects.get().status == DocumentStatus.DRAFT


def test_manager_sees_every_warehouse(client, make_user, warehouse, other_warehouse, stocked_product):
    adjustment(warehouse, [(stocked_product, 1)])
    adjustment(other_warehouse, [(stocked_product, 1)])
    client.force_login(make_user("Manager"))
    assert len(client.get(url("stockadjustment_changelist")).context["cl"].result_list) == 2


# ---------------------------------------------------------------------------
# History


def product_form_data(product, **changes):
    data = {
        "sku": product.sku,
        "name": product.name,
        "category": product.category_id or "",
        "unit": product.unit,
        "barcode": product.barcode,
        "is_active": "on" if product.is_active else "",
        "sale_price": product.sale_price,
        "cost": product.cost,
        "tax_rate": product.tax_rate,
    }
    for prefix in ("stock_levels", "supplier_products"):
        data.update({f"{prefix}-TOTAL_FORMS": 0, f"{prefix}-INITIAL_FORMS": 0})
    data.update(changes)
    return data


def test_price_change_can_be_reverted_from_history(admin_client, admin_user, stocked_product):
    response = admin_client.post(
        url("product_change", stocked_product.pk), product_form_data(stocked_product, sale_price="25.00")
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    stocked_product.refresh_from_db()
    assert stocked_product.sale_price == Decimal("25.00")

    history_page = admin_client.get(url("product_history", stocked_product.pk))
    assert "25.00" in history_page.content.decode()
    original = stocked_product.history.earliest()
    revert_url = url("product_simple_history", stocked_product.pk, original.history_id)
    form_page = admin_client.get(revert_url)
    assert form_page.status_code == 200
    assert form_page.context["adminform"].form.initial["sale_price"] == Decimal("18.00")

    admin_client.post(revert_url, product_form_data(original.instance, _change_history="1"))

    stocked_product.refresh_from_db()
    assert stocked_product.sale_price == Decimal("18.00")
    latest = stocked_product.history.first()
    assert (latest.sale_price, latest.history_user) == (Decimal("18.0000"), admin_user)


def test_revert_keeps_the_current_average_cost(admin_client, warehouse, stocked_product):
    original = stocked_product.history.earliest()
    services.stock_receive(lines=[StockLine(stocked_product.pk, warehouse.pk, 10, Decimal("11"))])
    admin_client.post(
        url("product_simple_history", stocked_product.pk, original.history_id),
        product_form_data(original.instance, _change_history="1"),
    )
    stocked_product.refresh_from_db()
    assert stocked_product.average_cost == Decimal("10.0000")


def test_viewer_cannot_revert(client, make_user, stocked_product):
    original = stocked_product.history.earliest()
    Product.objects.filter(pk=stocked_product.pk).update(sale_price=Decimal("30"))
    client.force_login(make_user("Viewer"))
    response = client.post(
        url("product_simple_history", stocked_product.pk, original.history_id), product_form_data(original.instance)
    )
    assert response.status_code == 403
    stocked_product.refresh_from_db()
    assert stocked_product.sale_price == Decimal("30")


# ---------------------------------------------------------------------------
# Dashboard


def test_dashboard_shows_figures_and_reorder_list(admin_client, warehouse, stocked_product):
    StockLevel.objects.filter(product=stocked_product).update(reorder_point=12, reorder_quantity=40)

    page = admin_client.get(reverse("admin:index"))

    html = page.content.decode()
    assert page.status_code == 200
    assert "Active products" in html and "Stock value" in html and "Movements today" in html
    assert "90.00" in html  # 10 on hand at 9.00
    level = StockLevel.objects.get()
    assert url("stocklevel_change", level.pk) in html
    assert url("stocklevel_changelist", query="?reorder=yes") in html
    assert url("stockmovement_change", StockMovement.objects.get().pk) in html


def test_history_of_a_change_made_without_a_user_says_system_not_a_broken_link(admin_client):
    from tests.factories import ProductFactory

    product = ProductFactory(sku="NOUSER-1")  # created outside a request: no history user
    page = admin_client.get(f"/admin/inventory/product/{product.pk}/history/").content.decode()
    assert "/admin/auth/user/None/" not in page
    assert "system" in page
