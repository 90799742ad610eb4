"""Management commands: check_stock, load_demo, seed_scale, setup_schedules, ensure_admin."""

from __future__ import annotations

import stat
from decimal import Decimal
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db.models import F, Sum

from inventory.models import (
    Category,
    MovementKind,
    Product,
    StockLevel,
    StockMovement,
    Supplier,
    SupplierProduct,
    Warehouse,
)
from inventory.services import StockLine, stock_receive
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


def run(name: str, *args, **kwargs) -> tuple[int, str, str]:
    """Run a command; return (exit code, stdout, stderr)."""
    out, err = StringIO(), StringIO()
    try:
        call_command(name, *args, stdout=out, stderr=err, **kwargs)
    except SystemExit as exc:
        return exc.code, out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()


# check_stock -----------------------------------------------------------------------


class TestCheckStock:
    def test_consistent_stock_passes(self, stocked_product, warehouse):
        stock_receive(lines=[StockLine(ProductFactory().pk, warehouse.pk, 4, Decimal("1"))])

        code, out, _ = run("check_stock")

        assert code == 0
        assert "Stock is consistent" in out

    def test_an_empty_database_passes(self):
        assert run("check_stock")[0] == 0

    def test_each_tampered_level_is_reported_and_exit_is_1(self, stocked_product, warehouse):
        other = ProductFactory(sku="TOFU")
        stock_receive(lines=[StockLine(other.pk, warehouse.pk, 5, Decimal("1"))])
        StockLevel.objects.filter(product=stocked_product).update(on_hand=F("on_hand") + 3)
        StockLevel.objects.filter(product=other).update(allocated=2)

        code, out, err = run("check_stock")

        assert code == 1
        assert "CHAI @ MAIN: on hand 13 but movements sum to 10" in out
        assert "TOFU @ MAIN: allocated 2 but open orders reserve 0" in out
        assert "2 discrepancies found." in err

    def test_movements_without_a_level_are_reported(self, stocked_product):
        StockLevel.objects.filter(product=stocked_product).delete()

        code, out, _ = run("check_stock")

        assert code == 1
        assert "movements without a stock level" in out


# load_demo ----------------------------------------------------------------------------


def demo_state():
    return {
        "products": Product.objects.count(),
        "categories": Category.objects.count(),
        "suppliers": Supplier.objects.count(),
        "links": SupplierProduct.objects.count(),
        "levels": StockLevel.objects.count(),
        "movements": StockMovement.objects.count(),
        "on_hand": StockLevel.objects.aggregate(t=Sum("on_hand"))["t"],
        "history": sum(
            model.history.count() for model in (Product, Category, Supplier, SupplierProduct, Warehouse, StockLevel)
        ),
    }


class TestLoadDemo:
    def test_loads_the_northwind_catalogue(self):
        code, out, _ = run("load_demo")

        assert code == 0
        assert "77 products" in out
        assert Product.objects.count() == 77
        assert Category.objects.count() == 8
        assert Supplier.objects.count() == 29
        assert Warehouse.objects.filter(code="MAIN").exists()

    def test_opening_stock_and_reorder_points_come_from_the_csv(self):
        run("load_demo")

        chai = StockLevel.objects.select_related("product").get(product__sku="NW-001", warehouse__code="MAIN")
        assert chai.product.name == "Chai"
        assert chai.on_hand == 39
        assert chai.reorder_point == 10
        opening = StockMovement.objects.get(product=chai.product)
        assert (opening.kind, opening.quantity, opening.balance_after) == (MovementKind.OPENING, 39, 39)
        assert StockLevel.objects.get(product__sku="NW-031").reorder_point == 20
        # 72 of the 77 products have stock; 3119 units in all.
        assert StockMovement.objects.filter(kind=MovementKind.OPENING).count() == 72
        assert StockLevel.objects.aggregate(t=Sum("on_hand"))["t"] == 3119

    def test_costs_and_prices(self):
        run("load_demo")

        chai = Product.objects.get(sku="NW-001")
        assert chai.sale_price == Decimal("18.0000")
        assert chai.cost == Decimal("11.7000")
        assert chai.average_cost == Decimal("11.7000")

    def test_discontinued_products_are_inactive(self):
        run("load_demo")

        assert set(Product.objects.filter(is_active=False).values_list("sku", flat=True)) >= {"NW-005", "NW-017"}
        assert Product.objects.filter(is_active=False).count() == 8
        assert Product.objects.get(sku="NW-001").is_active

    def test_each_product_is_linked_to_its_preferred_supplier(self):
        run("load_demo")

        link = SupplierProduct.objects.select_related("supplier").get(product__sku="NW-001")
        assert link.preferred
        assert link.supplier.code == "NW01"
        assert SupplierProduct.objects.filter(preferred=True).count() == 77

    def test_running_twice_changes_nothing(self):
        run("load_demo")
        first = demo_state()

        code, out, _ = run("load_demo")

        assert code == 0
        assert "0 opening balances" in out
        assert demo_state() == first

    def test_check_stock_passes_after_it(self):
        run("load_demo")

        assert run("check_stock")[0] == 0

    def test_missing_data_folder_is_a_clear_error(self, tmp_path):
        with pytest.raises(CommandError, match="No Northwind CSV files"):
            call_command("load_demo", data_dir=tmp_path)


# seed_scale -----------------------------------------------------------------------------


class TestSeedScale:
    def test_seeds_products_levels_and_a_consistent_ledger(self):
        code, out, _ = run("seed_scale", products=50, movements=500, warehouses=2)

        assert code == 0
        assert "Seeded 50 products" in out
        assert Product.objects.filter(sku__startswith="SCALE-").count() == 50
        assert Warehouse.objects.filter(code__startswith="SCALE-W").count() == 2
        assert StockLevel.objects.count() == 100
        assert StockMovement.objects.count() == 500
        assert (
            StockLevel.objects.aggregate(t=Sum("on_hand"))["t"]
            == StockMovement.objects.aggregate(t=Sum("quantity"))["t"]
        )
        assert StockMovement.objects.filter(balance_after__lt=0).count() == 0
        assert run("check_stock")[0] == 0

    def test_rerunning_adds_more_with_new_skus(self):
        run("seed_scale", products=50, movements=500)
        code, out, _ = run("seed_scale", products=20, movements=100)

        assert code == 0
        assert "SCALE-0000051..SCALE-0000070" in out
        assert Product.objects.filter(sku__startswith="SCALE-").count() == 70
        assert Warehouse.objects.filter(code__startswith="SCALE-W").count() == 3
        assert StockMovement.objects.count() == 600
        assert run("check_stock")[0] == 0

    def test_seeding_next_to_real_data_leaves_it_alone(self, stocked_product, warehouse):
        run("seed_scale", products=10, movements=40)

        assert StockLevel.objects.get(product=stocked_product, warehouse=warehouse).on_hand == 10
        assert run("check_stock")[0] == 0

    def test_fewer_movements_than_levels_leaves_some_levels_empty_but_consistent(self):
        run("seed_scale", products=10, movements=5, warehouses=1)

        assert StockLevel.objects.filter(on_hand=0).count() == 5
        assert run("check_stock")[0] == 0

    def test_bad_arguments_are_refused(self):
        with pytest.raises(CommandError, match="at least 1"):
            call_command("seed_scale", products=0, movements=10, stdout=StringIO())
        assert not Product.objects.exists()


# setup_schedules ------------------------------------------------------------------------


class TestSetupSchedules:
    def test_creates_the_schedules_once(self):
        from django_q.models import Schedule

        from backoffice.schedules import SCHEDULES

        _, first, _ = run("setup_schedules")
        schedule = Schedule.objects.get(name="Nightly stock invariant check")
        next_run = schedule.next_run
        _, second, _ = run("setup_schedules")

        assert "created: Nightly stock invariant check" in first
        assert "up to date: Nightly stock invariant check" in second
        assert Schedule.objects.count() == len(SCHEDULES)
        schedule.refresh_from_db()
        assert schedule.func == "inventory.tasks.check_stock_task"
        assert schedule.schedule_type == Schedule.DAILY
        assert schedule.next_run == next_run, "re-running must not move the next run"

    def test_a_changed_schedule_is_put_back(self):
        from django_q.models import Schedule

        run("setup_schedules")
        Schedule.objects.filter(name="Nightly stock invariant check").update(func="somewhere.else")

        run("setup_schedules")

        assert Schedule.objects.get(name="Nightly stock invariant check").func == "inventory.tasks.check_stock_task"


# ensure_admin ----------------------------------------------------------------------------


@pytest.fixture
def credentials_file(tmp_path, monkeypatch):
    from backoffice.management.commands import ensure_admin

    path = tmp_path / ".local" / "admin-credentials"
    monkeypatch.setattr(ensure_admin, "CREDENTIALS_FILE", path)
    for name in ("DJANGO_SUPERUSER_USERNAME", "DJANGO_SUPERUSER_PASSWORD", "DJANGO_SUPERUSER_EMAIL"):
        monkeypatch.delenv(name, raising=False)
    return path


class TestEnsureAdmin:
    def test_creates_admin_with_a_generated_password_kept_private(self, credentials_file, roles):
        _, out, _ = run("ensure_admin")

        user = get_user_model().objects.get(username="admin")
        assert user.is_superuser and user.is_staff
        assert user.groups.filter(name="Admin").exists()
        username, password = credentials_file.read_text().split()
        assert username == "admin"
        assert user.check_password(password)
        assert f"Password: {password}" in out
        assert stat.S_IMODE(credentials_file.stat().st_mode) == 0o600

    def test_second_run_keeps_the_account_and_shows_the_same_login(self, credentials_file):
        run("ensure_admin")
        password = credentials_file.read_text().split()[1]

        _, out, _ = run("ensure_admin")

        assert get_user_model().objects.filter(username="admin").count() == 1
        assert get_user_model().objects.get(username="admin").check_password(password)
        assert "already exists" in out
        assert f"Password: {password}" in out

    def test_an_existing_password_is_never_changed(self, credentials_file, django_user_model):
        django_user_model.objects.create_superuser("admin", "a@example.com", "mine-Secret-42")

        _, out, _ = run("ensure_admin")

        assert django_user_model.objects.get(username="admin").check_password("mine-Secret-42")
        assert "(the one you set earlier)" in out
        assert not credentials_file.exists()

    def test_environment_names_the_account(self, credentials_file, monkeypatch, django_user_model):
        monkeypatch.setenv("DJANGO_SUPERUSER_USERNAME", "ops")
        monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "Env-Secret-77")

        _, out, _ = run("ensure_admin", url="https://bo.example.com/admin/")

        user = django_user_model.objects.get(username="ops")
        assert user.is_superuser
        assert user.check_password("Env-Secret-77")
        assert user.email == "ops@example.com"
        assert not django_user_model.objects.filter(username="admin").exists()
        assert not credentials_file.exists(), "a password given by the environment is not written to disk"
        assert "https://bo.example.com/admin/" in out
