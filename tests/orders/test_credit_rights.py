"""Issue 8, hole 7: only Manager/Admin may change a customer's credit limit and tax exemption.

Before: a Sales user cleared a customer's credit limit and then confirmed an over-limit order.
The rule (``orders.services.customer_check_field_rights``) holds in the service, the admin form
(read-only fields; posted values ignored), both customer imports and the history.
"""

from __future__ import annotations

import csv
import html
import io
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from backoffice.errors import CreditLimitExceeded, ImportRejected
from backoffice.field_rights import FieldChangeRefused
from orders.importing import customers_import, sales_orders_import
from orders.models import Customer, SalesOrder, SalesOrderStatus
from orders.services import (
    customer_create,
    customer_update,
    sales_order_confirm,
    sales_order_create,
    sales_order_line_add,
)
from tests.factories import CustomerFactory

CSV_FORMAT = "0"


@pytest.fixture
def limited(db):
    return CustomerFactory(code="LIMIT", name="Limited GmbH", credit_limit=Decimal("100.00"))


def page_text(response) -> str:
    return " ".join(html.unescape(response.content.decode()).split())


def change_url(customer) -> str:
    return reverse("admin:orders_customer_change", args=[customer.pk])


def form_data(customer, **overrides) -> dict:
    data = {
        "code": customer.code,
        "name": customer.name,
        "is_active": "on",
        "contact_name": customer.contact_name,
        "email": customer.email,
        "phone": customer.phone,
        "country": customer.country,
        "billing_address": customer.billing_address,
        "shipping_address": customer.shipping_address,
        "_save": "Save",
    }
    data.update(overrides)
    return data


# Roles --------------------------------------------------------------------------------------------


def test_the_right_is_a_permission_of_manager_and_admin_only(roles):
    holders = set(Group.objects.filter(permissions__codename="change_customer_credit").values_list("name", flat=True))
    assert holders == {"Admin", "Manager"}


# Service ------------------------------------------------------------------------------------------


def test_the_reported_bypass_is_closed(limited, warehouse, sales_user, product_with_stock):
    """Clear the limit, then confirm an order over it: the first step is refused, so is the second."""
    with pytest.raises(FieldChangeRefused, match="credit limit"):
        customer_update(customer=limited, user=sales_user, credit_limit=None)
    limited.refresh_from_db()
    assert limited.credit_limit == Decimal("100.00")

    order = sales_order_create(customer=limited, warehouse=warehouse, user=sales_user)
    product = product_with_stock(50, sale_price=Decimal("10"), tax_rate=Decimal("0"))
    sales_order_line_add(order=order, product=product, quantity=20, user=sales_user)
    with pytest.raises(CreditLimitExceeded):
        sales_order_confirm(order=order, user=sales_user)
    order.refresh_from_db()
    assert order.status == SalesOrderStatus.DRAFT


@pytest.mark.parametrize(
    "change", [{"credit_limit": Decimal("999999")}, {"credit_limit": None}, {"tax_exempt": True}], ids=str
)
def test_sales_cannot_change_credit_limit_or_tax_exemption(limited, sales_user, change):
    with pytest.raises(FieldChangeRefused) as refused:
        customer_update(customer=limited, user=sales_user, name="Renamed", **change)
    assert refused.value.fields == list(change)
    assert refused.value.http_status == 403
    limited.refresh_from_db()
    assert (limited.name, limited.credit_limit, limited.tax_exempt) == ("Limited GmbH", Decimal("100.00"), False)
    assert limited.history.count() == 1  # nothing written


def test_sales_may_edit_other_fields_and_pass_the_current_values(limited, sales_user):
    customer_update(customer=limited, user=sales_user, name="Limited AG", credit_limit=Decimal("100"), tax_exempt=False)
    limited.refresh_from_db()
    assert (limited.name, limited.credit_limit) == ("Limited AG", Decimal("100.00"))


def test_sales_creates_customers_with_no_credit_and_the_other_defaults(db, sales_user):
    created = customer_create(user=sales_user, code="new1", name="New one")
    assert (created.credit_limit, created.tax_exempt) == (Decimal("0.00"), False)  # not None: unlimited
    assert customer_create(user=sales_user, code="new0", name="Zero", credit_limit=Decimal("0")).credit_limit == 0
    with pytest.raises(FieldChangeRefused, match="tax exempt"):
        customer_create(user=sales_user, code="new2", name="New two", tax_exempt=True)
    with pytest.raises(FieldChangeRefused, match="credit limit"):
        customer_create(user=sales_user, code="new3", name="New three", credit_limit=Decimal("50"))
    assert set(Customer.objects.values_list("code", flat=True)) == {"NEW1", "NEW0"}


@pytest.mark.parametrize("role", ["Manager", "Admin", None])
def test_manager_admin_and_superuser_may_change_them(limited, make_user, role):
    user = make_user(role) if role else make_user(superuser=True)
    customer_update(customer=limited, user=user, credit_limit=Decimal("5000"), tax_exempt=True)
    limited.refresh_from_db()
    assert (limited.credit_limit, limited.tax_exempt) == (Decimal("5000.00"), True)


def test_history_records_the_credit_limit_change_and_who_made_it(limited, manager):
    customer_update(customer=limited, user=manager, credit_limit=Decimal("250"))
    latest, previous = limited.history.all()[:2]
    assert (previous.credit_limit, latest.credit_limit) == (Decimal("100.00"), Decimal("250.00"))
    assert latest.history_user == manager
    assert [change.field for change in latest.diff_against(previous).changes] == ["credit_limit"]


# Admin --------------------------------------------------------------------------------------------


def test_sales_sees_the_credit_fields_read_only(client, limited, sales_user):
    client.force_login(sales_user)
    response = client.get(change_url(limited))
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert "credit_limit" not in form.fields and "tax_exempt" not in form.fields
    assert "name" in form.fields
    assert "100.00" in page_text(response)  # shown, read-only


def test_sales_admin_post_cannot_clear_the_limit_or_set_tax_exemption(client, limited, sales_user):
    client.force_login(sales_user)
    response = client.post(change_url(limited), form_data(limited, name="Renamed", credit_limit="", tax_exempt="on"))
    assert response.status_code == 302  # the rest of the form is saved...
    limited.refresh_from_db()
    assert limited.name == "Renamed"
    assert (limited.credit_limit, limited.tax_exempt) == (Decimal("100.00"), False)  # ...these are not


def test_sales_admin_add_form_keeps_the_defaults(client, db, sales_user):
    client.force_login(sales_user)
    form = client.get(reverse("admin:orders_customer_add"))
    assert "0.00 — a Manager sets the credit limit" in page_text(form)
    assert "credit_limit" not in form.context["adminform"].form.fields
    customer = Customer(code="ADDED", name="Added")
    response = client.post(reverse("admin:orders_customer_add"), form_data(customer, credit_limit="1", tax_exempt="on"))
    assert response.status_code == 302
    added = Customer.objects.get(code="ADDED")
    assert (added.credit_limit, added.tax_exempt) == (Decimal("0.00"), False)


def test_manager_admin_add_form_chooses_the_limit_freely(client, db, manager):
    client.force_login(manager)
    form = client.get(reverse("admin:orders_customer_add"))
    assert "credit_limit" in form.context["adminform"].form.fields
    assert "a Manager sets the credit limit" not in page_text(form)
    response = client.post(reverse("admin:orders_customer_add"), form_data(Customer(code="FREE", name="Free")))
    assert response.status_code == 302
    assert Customer.objects.get(code="FREE").credit_limit is None  # left empty by a Manager: no limit


def test_manager_changes_the_limit_in_the_admin_and_history_shows_who(client, limited, manager):
    client.force_login(manager)
    response = client.post(change_url(limited), form_data(limited, credit_limit="750.00", tax_exempt="on"))
    assert response.status_code == 302
    limited.refresh_from_db()
    assert (limited.credit_limit, limited.tax_exempt) == (Decimal("750.00"), True)
    latest = limited.history.first()
    assert latest.history_user == manager

    history = client.get(reverse("admin:orders_customer_history", args=[limited.pk]))
    text = page_text(history)
    assert history.status_code == 200
    assert "manager" in text and "750.00" in text and "100.00" in text


# Imports ------------------------------------------------------------------------------------------


def csv_upload(rows) -> SimpleUploadedFile:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return SimpleUploadedFile("customers.csv", buffer.getvalue().encode(), content_type="text/csv")


def preview(client, rows):
    return client.post(
        reverse("admin:orders_customer_import"),
        {"format": CSV_FORMAT, "import_file": csv_upload(rows), "resource": "0"},
    )


def confirm(client, response):
    form = response.context["confirm_form"]
    return client.post(reverse("admin:orders_customer_process_import"), {**form.initial})


def row_errors(response) -> dict[int, dict[str, list[str]]]:
    return {row.number: row.error_dict for row in response.context["result"].invalid_rows}


def test_sales_import_changing_credit_limit_or_tax_exemption_is_refused_by_column(client, limited, sales_user):
    other = CustomerFactory(code="OTHER", name="Other", tax_exempt=False)
    client.force_login(sales_user)
    response = preview(
        client,
        [
            ["code", "name", "credit_limit", "tax_exempt"],
            ["LIMIT", "Limited GmbH", "", "no"],  # clears the limit
            ["OTHER", "Other", "", "yes"],  # makes it tax-exempt
            ["NEW", "New customer", "500", "no"],  # a new customer with a limit
        ],
    )
    assert response.status_code == 200
    errors = row_errors(response)
    assert set(errors) == {1, 2, 3}
    assert list(errors[1]) == ["credit_limit"] and "it is 100.00" in errors[1]["credit_limit"][0]
    assert list(errors[2]) == ["tax_exempt"] and "Only a Manager or Admin" in errors[2]["tax_exempt"][0]
    assert list(errors[3]) == ["credit_limit"]
    assert response.context.get("confirm_form") is None  # nothing can be confirmed
    assert "Only a Manager or Admin may change credit_limit" in page_text(response)
    limited.refresh_from_db()
    other.refresh_from_db()
    assert (limited.credit_limit, other.tax_exempt) == (Decimal("100.00"), False)
    assert not Customer.objects.filter(code="NEW").exists()


def test_sales_import_with_unchanged_protected_values_goes_through(client, limited, sales_user):
    client.force_login(sales_user)
    response = preview(
        client,
        [
            ["code", "name", "credit_limit", "tax_exempt"],
            ["LIMIT", "Limited AG", "100.00", "no"],
            ["NEWCO", "New company", "", "no"],
        ],
    )
    assert not row_errors(response)
    assert confirm(client, response).status_code == 302
    limited.refresh_from_db()
    assert (limited.name, limited.credit_limit) == ("Limited AG", Decimal("100.00"))
    new = Customer.objects.get(code="NEWCO")
    assert (new.credit_limit, new.tax_exempt) == (Decimal("0.00"), False)  # no credit until a Manager sets it
    assert new.history.get().history_user == sales_user


def test_manager_import_changes_the_limit_with_history(client, limited, manager):
    client.force_login(manager)
    response = preview(client, [["code", "name", "credit_limit", "tax_exempt"], ["LIMIT", "Limited GmbH", "", "yes"]])
    assert not row_errors(response)
    confirm(client, response)
    limited.refresh_from_db()
    assert (limited.credit_limit, limited.tax_exempt) == (None, True)
    assert limited.history.first().history_user == manager


def test_historical_customer_import_applies_the_same_rule(limited, sales_user, manager):
    with pytest.raises(ImportRejected) as refused:
        customers_import(rows=[{"code": "LIMIT", "name": "Limited GmbH", "credit_limit": ""}], user=sales_user)
    assert [(e["row"], e["column"]) for e in refused.value.data["errors"]] == [(2, "credit_limit")]
    limited.refresh_from_db()
    assert limited.credit_limit == Decimal("100.00")

    customers_import(rows=[{"code": "LIMIT", "name": "Limited GmbH", "credit_limit": "300"}], user=manager)
    limited.refresh_from_db()
    assert limited.credit_limit == Decimal("300.00")


# A customer created by Sales has no credit (0) until a Manager sets a limit ------------------------


def test_sales_cannot_confirm_for_a_customer_it_created_until_a_manager_approves(
    db, warehouse, sales_user, manager, product_with_stock, settings
):
    """Before: the new customer's limit was empty (unlimited), so Sales confirmed any amount."""
    settings.CURRENCY = "USD"  # the refusal shows money as the pages do (backoffice.money)
    customer = customer_create(user=sales_user, code="fresh", name="Fresh Ltd")
    order = sales_order_create(customer=customer, warehouse=warehouse, user=sales_user)
    product = product_with_stock(50, sale_price=Decimal("10"), tax_rate=Decimal("0"))
    sales_order_line_add(order=order, product=product, quantity=1, user=sales_user)

    with pytest.raises(CreditLimitExceeded, match=r"credit limit of USD 0\.00"):
        sales_order_confirm(order=order, user=sales_user)
    confirmed = sales_order_confirm(order=order, user=manager, credit_override_reason="Prepaid")
    assert (confirmed.status, confirmed.credit_override_by) == (SalesOrderStatus.CONFIRMED, manager)


@pytest.mark.parametrize("role", ["Manager", "Admin"])
def test_manager_and_admin_still_create_customers_without_a_limit(db, make_user, role):
    user = make_user(role)
    assert customer_create(user=user, code="open", name="Open").credit_limit is None
    assert customer_create(user=user, code="set", name="Set", credit_limit=Decimal("50")).credit_limit == 50


def test_historical_customer_import_by_sales_gives_new_customers_no_credit(db, sales_user, manager):
    customers_import(rows=[{"code": "NEWA", "name": "New A"}, {"code": "NEWB", "name": "New B"}], user=sales_user)
    assert set(Customer.objects.values_list("credit_limit", flat=True)) == {Decimal("0.00")}
    customers_import(rows=[{"code": "NEWC", "name": "New C"}], user=manager)
    assert Customer.objects.get(code="NEWC").credit_limit is None


# Historical order import: confirmed orders are held to the credit limit ---------------------------


def order_row(number, *, status="confirmed", quantity=4, customer="LIMIT"):
    """One line of 10.00 × quantity, no tax, no shipping: the order total is 10 × quantity."""
    return {
        "order_number": number,
        "customer": customer,
        "warehouse": "MAIN",
        "status": status,
        "order_date": "2024-01-02",
        "sku": "TEN",
        "quantity": str(quantity),
        "unit_price": "10.00",
        "tax_rate": "0",
    }


@pytest.fixture
def ten(product_with_stock):
    return product_with_stock(100, sku="TEN", sale_price=Decimal("10"), tax_rate=Decimal("0"))


def test_sales_cannot_import_confirmed_orders_over_the_limit(limited, warehouse, ten, sales_user, manager):
    """Before: the import reserved stock for a confirmed order of 120.00 against a limit of 100.00."""
    sales_orders_import(rows=[order_row("OLD-1", quantity=3)], user=manager)  # 30.00 already open (within)

    rows = [order_row("NEW-1", quantity=4), order_row("NEW-2", quantity=4)]  # 40 + 40: each fits alone
    with pytest.raises(ImportRejected) as refused:
        sales_orders_import(rows=rows, user=sales_user)

    [error] = refused.value.data["errors"]
    assert (error["row"], error["column"]) == (2, "customer")
    reason = error["reason"]
    assert "NEW-1, NEW-2" in reason and "LIMIT" in reason
    assert "credit limit of 100.00" in reason and "open orders to 110.00" in reason
    assert not SalesOrder.objects.filter(number__in=["NEW-1", "NEW-2"]).exists()  # all or nothing


def test_a_manager_imports_them_and_the_override_is_recorded(limited, warehouse, ten, manager):
    sales_orders_import(rows=[order_row("BIG-1", quantity=12)], user=manager)

    order = SalesOrder.objects.get(number="BIG-1")
    assert (order.status, order.total) == (SalesOrderStatus.CONFIRMED, Decimal("120.00"))
    assert (order.credit_override_reason, order.credit_override_by) == ("Imported by manager", manager)
    assert order.lines.get().quantity_reserved == 12


def test_closed_and_draft_orders_are_not_held_to_the_limit(limited, warehouse, ten, sales_user):
    rows = [order_row("D-1", status="delivered", quantity=20), order_row("DR-1", status="draft", quantity=20)]
    sales_orders_import(rows=rows, user=sales_user)
    assert SalesOrder.objects.filter(number__in=["D-1", "DR-1"]).count() == 2
    assert not SalesOrder.objects.exclude(credit_override_reason="").exists()


def test_within_the_limit_sales_imports_confirmed_orders(limited, warehouse, ten, sales_user):
    sales_orders_import(rows=[order_row("OK-1", quantity=10)], user=sales_user)  # exactly 100.00
    assert SalesOrder.objects.get(number="OK-1").credit_override_reason == ""
