"""Encryption at rest: Customer.tax_id and Supplier.bank_account (docs/security.md "Encryption at rest").

Raw database values (main and history tables) are Fernet tokens, never the clear text; the ORM reads
them; a new key in front still reads the old values; ``rotate_encryption_keys`` re-encrypts so that the
old key can go; lists are masked; the full value is shown and changed only by Manager/Admin.
"""

from __future__ import annotations

import csv
import html
import io

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.http import FileResponse, StreamingHttpResponse
from django.urls import reverse

from backoffice import encryption
from backoffice.iban import format_iban, validate_iban
from inventory.models import Supplier
from orders.models import Customer
from orders.services import customer_create, customer_update
from tests.factories import SupplierFactory

pytestmark = pytest.mark.django_db

VAT = "DE123456789"
VAT_2 = "DE987654321"
IBAN = "DE89370400440532013000"
IBAN_2 = "GB82WEST12345698765432"
OLD_KEY = "old-field-key-0123456789-abcdefghijklmnop"
NEW_KEY = "new-field-key-9876543210-zyxwvutsrqponmlk"


def raw_values(table: str, column: str) -> list[str | None]:
    """What the database holds, read with plain SQL (no field class in between)."""
    with connection.cursor() as cursor:
        qn = connection.ops.quote_name
        cursor.execute(f"SELECT {qn(column)} FROM {qn(table)} ORDER BY 1")
        return [row[0] for row in cursor.fetchall()]


def all_raw(customer_or_supplier="customer") -> list[str]:
    if customer_or_supplier == "customer":
        tables = [("orders_customer", "tax_id"), ("orders_historicalcustomer", "tax_id")]
    else:
        tables = [("inventory_supplier", "bank_account"), ("inventory_historicalsupplier", "bank_account")]
    return [value for table, column in tables for value in raw_values(table, column) if value is not None]


def fernet_for(salt: str, secret: str) -> Fernet:
    """The key the library derives from SECRET_KEY and one FIELD_ENCRYPTION_KEYS entry (to check, independently)."""
    import base64

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

    kdf = PBKDF2HMAC(algorithm=hashes.SHA256(), length=32, salt=salt.encode(), iterations=100_000)
    return Fernet(base64.urlsafe_b64encode(kdf.derive(secret.encode())))


def page_text(response) -> str:
    return " ".join(html.unescape(response.content.decode()).split())


@pytest.fixture
def old_key(settings):
    settings.SALT_KEY = [OLD_KEY]
    return settings


@pytest.fixture
def customer_with_vat(old_key):
    customer = customer_create(user=None, code="VAT1", name="Taxed", tax_id=VAT)
    customer_update(customer=customer, user=None, tax_id=VAT_2)  # a second history row
    return customer


@pytest.fixture
def supplier_with_iban(old_key):
    supplier = SupplierFactory(code="BANK1", bank_account=IBAN)
    supplier.bank_account = IBAN_2
    supplier.save()
    return supplier


# At rest ------------------------------------------------------------------------------------------


def test_vat_numbers_are_not_in_clear_in_main_or_history_tables(customer_with_vat, settings):
    assert len(raw_values("orders_customer", "tax_id")) == 1
    history = [value for value in raw_values("orders_historicalcustomer", "tax_id") if value]
    assert len(history) == 2  # simple-history copies the encrypted field class: its rows are encrypted too
    for value in all_raw("customer"):
        assert VAT not in value and VAT_2 not in value
        assert value.startswith(encryption.TOKEN_PREFIX)
    key = fernet_for(OLD_KEY, settings.SECRET_KEY)
    assert {key.decrypt(value.encode()).decode() for value in all_raw("customer")} == {VAT, VAT_2}


def test_bank_accounts_are_not_in_clear_in_main_or_history_tables(supplier_with_iban):
    values = all_raw("supplier")
    assert len(values) == 3
    for value in values:
        assert IBAN not in value and IBAN_2 not in value and "3704" not in value
        assert value.startswith(encryption.TOKEN_PREFIX)


def test_the_orm_reads_the_clear_values(customer_with_vat, supplier_with_iban):
    assert Customer.objects.get(pk=customer_with_vat.pk).tax_id == VAT_2
    assert list(customer_with_vat.history.values_list("tax_id", flat=True)) == [VAT_2, VAT]
    assert Supplier.objects.get(pk=supplier_with_iban.pk).bank_account == IBAN_2
    assert list(supplier_with_iban.history.values_list("bank_account", flat=True)) == [IBAN_2, IBAN]


def test_an_empty_value_is_stored_as_null(old_key):
    customer = customer_create(user=None, code="NOVAT", name="No VAT", tax_id="")
    assert Customer.objects.get(pk=customer.pk).tax_id is None
    assert raw_values("orders_customer", "tax_id") == [None]


# Keys and rotation --------------------------------------------------------------------------------


def test_a_new_key_in_front_still_reads_old_values_and_encrypts_new_ones_with_it(customer_with_vat, settings):
    settings.SALT_KEY = [NEW_KEY, OLD_KEY]
    assert Customer.objects.get(pk=customer_with_vat.pk).tax_id == VAT_2
    new = customer_create(user=None, code="VAT2", name="New", tax_id="FR12345678901")
    token = Customer.objects.filter(pk=new.pk).values_list(encryption_raw("tax_id"), flat=True).get()
    assert fernet_for(NEW_KEY, settings.SECRET_KEY).decrypt(token.encode()) == b"FR12345678901"
    with pytest.raises(InvalidToken):
        fernet_for(OLD_KEY, settings.SECRET_KEY).decrypt(token.encode())


def encryption_raw(name: str):
    from django.db.models import ExpressionWrapper, F, TextField

    return ExpressionWrapper(F(name), output_field=TextField())


def test_rotation_reencrypts_everything_so_the_old_key_can_be_removed(customer_with_vat, supplier_with_iban, settings):
    before = set(all_raw("customer")) | set(all_raw("supplier"))
    settings.SALT_KEY = [NEW_KEY, OLD_KEY]

    out = io.StringIO()
    call_command("rotate_encryption_keys", "--batch-size", "1", stdout=out)

    text = out.getvalue()
    assert "orders_customer.tax_id: 1 re-encrypted, 0 already current" in text
    assert "orders_historicalcustomer.tax_id: 2 re-encrypted" in text
    assert "inventory_historicalsupplier.bank_account: 2 re-encrypted" in text
    assert "Total: 6 re-encrypted, 0 already current, 0 unreadable." in text
    after = set(all_raw("customer")) | set(all_raw("supplier"))
    assert not before & after
    newest = fernet_for(NEW_KEY, settings.SECRET_KEY)
    assert {newest.decrypt(v.encode()).decode() for v in after} == {VAT, VAT_2, IBAN, IBAN_2}

    again = io.StringIO()
    call_command("rotate_encryption_keys", stdout=again)
    assert "Total: 0 re-encrypted, 6 already current, 0 unreadable." in again.getvalue()  # idempotent
    assert set(all_raw("customer")) | set(all_raw("supplier")) == after

    settings.SALT_KEY = [NEW_KEY]  # the old key removed
    assert Customer.objects.get(pk=customer_with_vat.pk).tax_id == VAT_2
    assert list(customer_with_vat.history.values_list("tax_id", flat=True)) == [VAT_2, VAT]
    assert list(supplier_with_iban.history.values_list("bank_account", flat=True)) == [IBAN_2, IBAN]


def test_removing_the_old_key_before_rotating_is_reported_and_nothing_is_written(customer_with_vat, settings):
    before = sorted(all_raw("customer"))
    settings.SALT_KEY = [NEW_KEY]

    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError, match="3 unreadable"):
        call_command("rotate_encryption_keys", stdout=out, stderr=err)

    assert "orders_customer.tax_id: 0 re-encrypted, 0 already current, 1 UNREADABLE" in out.getvalue()
    assert sorted(all_raw("customer")) == before
    settings.SALT_KEY = [NEW_KEY, OLD_KEY]  # put back: everything reads again
    assert Customer.objects.get(pk=customer_with_vat.pk).tax_id == VAT_2


def test_secret_key_rotation_uses_the_fallbacks_then_rotate(customer_with_vat, settings):
    old_secret = settings.SECRET_KEY
    settings.SECRET_KEY = "a-brand-new-secret-key-" + "x" * 40
    settings.SECRET_KEY_FALLBACKS = [old_secret]
    assert Customer.objects.get(pk=customer_with_vat.pk).tax_id == VAT_2

    call_command("rotate_encryption_keys", stdout=io.StringIO())

    settings.SECRET_KEY_FALLBACKS = []
    assert Customer.objects.get(pk=customer_with_vat.pk).tax_id == VAT_2
    assert list(customer_with_vat.history.values_list("tax_id", flat=True)) == [VAT_2, VAT]


def test_the_key_cache_follows_the_settings(settings):
    settings.SALT_KEY = [OLD_KEY]
    first = encryption.field_keys()
    settings.SALT_KEY = [NEW_KEY, OLD_KEY]
    second = encryption.field_keys()
    assert len(first) == 1 and len(second) == 2 and second[1] == first[0]
    encryption.clear_key_cache()
    assert encryption.field_keys() == second


# Shown masked, full only to Manager/Admin ----------------------------------------------------------


def test_mask_shows_only_the_last_four_characters():
    assert encryption.mask(VAT) == "••••6789"
    assert encryption.mask("AB12") == "••••"
    assert encryption.mask(None) == ""


def test_changelist_is_masked_for_sales_and_manager(client, make_user, customer_with_vat):
    for role in ("Sales", "Manager"):
        client.force_login(make_user(role))
        text = page_text(client.get(reverse("admin:orders_customer_changelist")))
        assert "••••4321" in text
        assert VAT_2 not in text


def test_change_form_full_for_manager_masked_read_only_for_sales(client, make_user, customer_with_vat):
    url = reverse("admin:orders_customer_change", args=[customer_with_vat.pk])
    client.force_login(make_user("Manager"))
    response = client.get(url)
    assert response.context["adminform"].form["tax_id"].value() == VAT_2
    assert VAT_2 in page_text(response)

    client.force_login(make_user("Sales"))
    response = client.get(url)
    assert "tax_id" not in response.context["adminform"].form.fields
    text = page_text(response)
    assert "••••4321" in text and VAT_2 not in text


def test_sales_cannot_change_the_vat_number_by_post_or_service(client, make_user, customer_with_vat):
    from backoffice.field_rights import FieldChangeRefused

    sales = make_user("Sales")
    client.force_login(sales)
    url = reverse("admin:orders_customer_change", args=[customer_with_vat.pk])
    data = {"code": "VAT1", "name": "Taxed", "is_active": "on", "tax_id": "XX000", "_save": "Save"}
    assert client.post(url, data).status_code == 302
    assert Customer.objects.get(pk=customer_with_vat.pk).tax_id == VAT_2
    with pytest.raises(FieldChangeRefused, match="VAT number"):
        customer_update(customer=customer_with_vat, user=sales, tax_id="XX000")


def test_history_page_masks_the_values_for_sales(client, make_user, customer_with_vat):
    url = reverse("admin:orders_customer_history", args=[customer_with_vat.pk])
    client.force_login(make_user("Sales"))
    text = page_text(client.get(url))
    assert "••••4321" in text and "••••6789" in text
    assert VAT not in text and VAT_2 not in text

    client.force_login(make_user("Manager"))
    text = page_text(client.get(url))
    assert VAT in text and VAT_2 in text


def test_version_page_masks_the_value_for_sales(client, make_user, customer_with_vat):
    version = customer_with_vat.history.last()
    url = reverse("admin:orders_customer_simple_history", args=[customer_with_vat.pk, version.history_id])
    client.force_login(make_user("Sales"))
    response = client.get(url)
    assert response.status_code == 200
    text = page_text(response)
    assert "••••6789" in text and VAT not in text


def export_rows(response) -> list[list[str]]:
    body = (
        b"".join(response.streaming_content)
        if isinstance(response, StreamingHttpResponse | FileResponse)
        else response.content
    )
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))


def test_exports_leave_the_vat_number_out_for_sales_and_include_it_for_managers(client, make_user, customer_with_vat):
    url = reverse("admin:orders_customer_export")
    client.force_login(make_user("Sales"))
    rows = export_rows(client.post(url, {"format": "0", "resource": "0"}))
    # Exports head their columns readably ("Tax ID" for tax_id, "Code" for code).
    assert "Tax ID" not in rows[0] and "Code" in rows[0]
    assert VAT_2 not in str(rows)

    client.force_login(make_user("Manager"))
    rows = export_rows(client.post(url, {"format": "0", "resource": "0"}))
    assert rows[1][rows[0].index("Tax ID")] == VAT_2


# Suppliers: the bank account (IBAN) ---------------------------------------------------------------


@pytest.mark.parametrize("iban", [IBAN, IBAN_2, "NL91 ABNA 0417 1643 00", "fr14 2004 1010 0505 0001 3m02 606"])
def test_valid_ibans_pass(iban):
    validate_iban(iban)


@pytest.mark.parametrize(
    ("iban", "message"),
    [
        ("DE89370400440532013001", "check digits are wrong"),
        ("DE8937040044053201300", "has 22 characters, this one has 21"),
        ("12345", "Enter an IBAN"),
        ("DE89 3704 0044 0532 0130 0@", "Enter an IBAN"),
    ],
)
def test_invalid_ibans_are_refused_with_a_reason(iban, message):
    with pytest.raises(ValidationError, match=message):
        validate_iban(iban)


def supplier_form(supplier, **overrides):
    data = {
        "code": supplier.code,
        "name": supplier.name,
        "is_active": "on",
        "lead_time_days": "7",
        "email": supplier.email,
        "supplier_products-TOTAL_FORMS": "0",
        "supplier_products-INITIAL_FORMS": "0",
        "_save": "Save",
    }
    data.update(overrides)
    return data


def test_manager_sets_an_iban_checked_and_stored_compact(client, make_user, old_key):
    supplier = SupplierFactory(code="PAYME")
    client.force_login(make_user("Manager"))
    url = reverse("admin:inventory_supplier_change", args=[supplier.pk])

    refused = client.post(url, supplier_form(supplier, bank_account="DE89 3704 0044 0532 0130 01"))
    assert refused.status_code == 200
    assert "check digits are wrong" in page_text(refused)
    assert Supplier.objects.get(pk=supplier.pk).bank_account is None

    saved = client.post(url, supplier_form(supplier, bank_account=format_iban(IBAN).lower()))
    assert saved.status_code == 302
    assert Supplier.objects.get(pk=supplier.pk).bank_account == IBAN


def test_purchasing_sees_the_bank_account_masked_and_cannot_change_it(client, make_user, supplier_with_iban):
    client.force_login(make_user("Purchasing"))
    url = reverse("admin:inventory_supplier_change", args=[supplier_with_iban.pk])
    response = client.get(url)
    text = page_text(response)
    assert "bank_account" not in response.context["adminform"].form.fields
    assert "••••5432" in text and IBAN_2 not in text
    assert "••••5432" in page_text(client.get(reverse("admin:inventory_supplier_changelist")))

    assert client.post(url, supplier_form(supplier_with_iban, bank_account=IBAN)).status_code == 302
    assert Supplier.objects.get(pk=supplier_with_iban.pk).bank_account == IBAN_2


def test_purchasing_import_changing_the_bank_account_is_a_row_error(client, make_user, supplier_with_iban):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(make_user("Purchasing"))
    upload = SimpleUploadedFile("s.csv", f"code,name,bank_account\nBANK1,{supplier_with_iban.name},{IBAN}\n".encode())
    response = client.post(
        reverse("admin:inventory_supplier_import"), {"format": "0", "import_file": upload, "resource": "0"}
    )
    [row] = response.context["result"].invalid_rows
    assert list(row.error_dict) == ["bank_account"]
    assert "Only a Manager or Admin may change bank_account (it is set)" in row.error_dict["bank_account"][0]
    assert Supplier.objects.get(pk=supplier_with_iban.pk).bank_account == IBAN_2


def test_the_api_does_not_expose_the_bank_account(client, make_user, supplier_with_iban):
    client.force_login(make_user("Manager"))
    body = client.get(f"/api/v1/suppliers/{supplier_with_iban.pk}/").json()
    assert body["code"] == "BANK1"
    assert "bank_account" not in body and IBAN_2 not in str(body)


# Settings: production needs the keys ---------------------------------------------------------------


def test_production_refuses_to_start_without_field_encryption_keys(tmp_path):
    from tests.backoffice.test_settings import PRODUCTION_KEY, django_env, run_python

    code = "import django; django.setup()"
    missing = run_python(
        django_env(tmp_path, DJANGO_DEBUG="false", DJANGO_SECRET_KEY=PRODUCTION_KEY, FIELD_ENCRYPTION_KEYS=""),
        "-c",
        code,
    )
    assert missing.returncode != 0
    assert "ImproperlyConfigured: FIELD_ENCRYPTION_KEYS must be set when DJANGO_DEBUG=false" in missing.stderr

    short = run_python(
        django_env(tmp_path, DJANGO_DEBUG="false", DJANGO_SECRET_KEY=PRODUCTION_KEY, FIELD_ENCRYPTION_KEYS="k,short"),
        "-c",
        code,
    )
    assert short.returncode != 0
    assert "Every key in FIELD_ENCRYPTION_KEYS needs at least 32 characters" in short.stderr


def test_keys_come_from_the_environment_newest_first(tmp_path):
    from tests.backoffice.test_settings import PRODUCTION_KEY, django_env, run_python

    new, old = "n" * 20 + "ew-key-0123456789ab", "o" * 20 + "ld-key-0123456789ab"
    code = "import django; django.setup(); from django.conf import settings; print(settings.SALT_KEY)"
    production = run_python(
        django_env(
            tmp_path, DJANGO_DEBUG="false", DJANGO_SECRET_KEY=PRODUCTION_KEY, FIELD_ENCRYPTION_KEYS=f"{new}, {old}"
        ),
        "-c",
        code,
    )
    assert production.returncode == 0, production.stderr
    assert production.stdout.strip() == str([new, old])

    development = run_python(django_env(tmp_path, DJANGO_DEBUG="true", FIELD_ENCRYPTION_KEYS=""), "-c", code)
    assert development.returncode == 0, development.stderr
    assert "dev-only-field-encryption-key" in development.stdout


# Values no configured key opens ---------------------------------------------------------------------


def test_an_undecryptable_value_reads_as_empty_not_as_the_token(customer_with_vat, settings, client, make_user, caplog):
    settings.SALT_KEY = [NEW_KEY]  # the old key removed before rotating

    with caplog.at_level("WARNING", logger="backoffice.encryption"):
        customer = Customer.objects.get(pk=customer_with_vat.pk)
        Customer.objects.get(pk=customer_with_vat.pk)  # read again: no second warning

    assert customer.tax_id is None
    assert list(customer_with_vat.history.values_list("tax_id", flat=True)) == [None, None]
    warned = [(r.model, r.field) for r in caplog.records if "cannot be decrypted" in r.getMessage()]
    # Once per field and row (the customer read twice; its two history rows), never the value itself.
    assert sorted(warned) == [("orders.Customer", "tax_id")] + [("orders.HistoricalCustomer", "tax_id")] * 2
    token = raw_values("orders_customer", "tax_id")[0]
    assert token not in caplog.text and VAT_2 not in caplog.text

    client.force_login(make_user("Manager"))
    response = client.get(reverse("admin:orders_customer_change", args=[customer.pk]))
    assert response.status_code == 200
    assert encryption.TOKEN_PREFIX not in page_text(response)  # the Manager never sees the token as the VAT number


def test_preflight_fails_when_a_value_cannot_be_decrypted(customer_with_vat, settings, tmp_path):
    settings.BACKUP_DIR = tmp_path / "backups"
    skips = ["--skip", "deploy settings", "--skip", "API schema", "--skip", "migrations complete"]
    before = sorted(all_raw("customer"))
    settings.SALT_KEY = [NEW_KEY]

    out = io.StringIO()
    with pytest.raises(CommandError, match="encrypted values"):
        call_command("preflight", *skips, stdout=out)
    assert "FAIL  encrypted values: 3 encrypted values cannot be decrypted" in out.getvalue()
    assert "orders_customer.tax_id: 1" in out.getvalue()
    assert sorted(all_raw("customer")) == before  # counted, nothing written

    settings.SALT_KEY = [NEW_KEY, OLD_KEY]  # the key put back: the check passes
    out = io.StringIO()
    call_command("preflight", *skips, stdout=out)
    assert "OK    encrypted values: every encrypted value can be decrypted" in out.getvalue()
