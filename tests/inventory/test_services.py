"""Stock services: every rule and every refusal, checked against the ledger."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db.models import Sum

from backoffice.errors import InsufficientStock, InvalidTransition, Shortfall, ValidationFailed
from inventory.models import (
    AdjustmentReason,
    DocumentStatus,
    ImmutableLedgerError,
    MovementKind,
    Product,
    StockAdjustmentLine,
    StockLevel,
    StockMovement,
    StockTransferLine,
)
from inventory.services import (
    Count,
    StockLine,
    stock_adjustment_apply,
    stock_adjustment_create,
    stock_allocate,
    stock_count_apply,
    stock_document_cancel,
    stock_issue,
    stock_receive,
    stock_release,
    stock_transfer_apply,
    stock_transfer_create,
)
from inventory.signals import stock_increased
from tests.factories import ProductFactory, WarehouseFactory

pytestmark = pytest.mark.django_db


# helpers ---------------------------------------------------------------------


def level_of(product, warehouse) -> StockLevel:
    return StockLevel.objects.get(product=product, warehouse=warehouse)


def ledger_sum(product, warehouse) -> int:
    total = StockMovement.objects.filter(product=product, warehouse=warehouse).aggregate(t=Sum("quantity"))["t"]
    return total or 0


def assert_level_matches_ledger(product, warehouse) -> None:
    level = level_of(product, warehouse)
    assert level.on_hand == ledger_sum(product, warehouse)
    assert 0 <= level.allocated <= level.on_hand


def snapshot():
    """Everything a refused call must leave untouched."""
    return (
        StockMovement.objects.count(),
        sorted(StockLevel.objects.values_list("product_id", "warehouse_id", "on_hand", "allocated")),
        sorted(Product.objects.values_list("pk", "average_cost")),
    )


@pytest.fixture
def clerk(make_user):
    return make_user("Warehouse", username="clerk")


@pytest.fixture
def second_warehouse(db):
    return WarehouseFactory(code="EAST", name="East depot")


@pytest.fixture
def product_b(warehouse):
    """A second product with 5 on hand in MAIN at cost 4.00."""
    product = ProductFactory(sku="CHANG", name="Chang")
    stock_receive(lines=[StockLine(product.pk, warehouse.pk, 5, Decimal("4.00"))], kind=MovementKind.OPENING)
    return product


@pytest.fixture
def signal_log():
    received = []

    def receiver(sender, keys, **kwargs):
        received.append(keys)

    stock_increased.connect(receiver, weak=False)
    yield received
    stock_increased.disconnect(receiver)


# stock_receive -----------------------------------------------------------------


class TestReceive:
    def test_receipt_into_new_level_creates_it_and_writes_one_movement(self, warehouse, clerk):
        product = ProductFactory(sku="NEW-1")

        movements = stock_receive(
            lines=[StockLine(product.pk, warehouse.pk, 12, Decimal("3.5000"))],
            reference="PO-000001",
            note="first delivery",
            user=clerk,
        )

        assert len(movements) == 1
        movement = StockMovement.objects.get(product=product)
        assert movement.kind == MovementKind.RECEIPT
        assert movement.quantity == 12
        assert movement.balance_after == 12
        assert movement.unit_cost == Decimal("3.5000")
        assert movement.reference == "PO-000001"
        assert movement.note == "first delivery"
        assert movement.user == clerk
        assert level_of(product, warehouse).on_hand == 12
        assert_level_matches_ledger(product, warehouse)

    def test_two_lines_for_the_same_level_carry_a_running_balance(self, stocked_product, warehouse):
        stock_receive(
            lines=[
                StockLine(stocked_product.pk, warehouse.pk, 3, Decimal("9")),
                StockLine(stocked_product.pk, warehouse.pk, 4, Decimal("9")),
            ],
            reference="PO-2",
        )

        balances = list(
            StockMovement.objects.filter(reference="PO-2").order_by("id").values_list("quantity", "balance_after")
        )
        assert balances == [(3, 13), (4, 17)]
        assert level_of(stocked_product, warehouse).on_hand == 17
        assert_level_matches_ledger(stocked_product, warehouse)

    def test_receipt_updates_the_moving_average_cost(self, stocked_product, warehouse):
        assert Product.objects.get(pk=stocked_product.pk).average_cost == Decimal("9.0000")

        stock_receive(lines=[StockLine(stocked_product.pk, warehouse.pk, 30, Decimal("13.0000"))])

        # (10 x 9 + 30 x 13) / 40 = 12
        assert Product.objects.get(pk=stocked_product.pk).average_cost == Decimal("12.0000")

    def test_average_cost_counts_stock_in_every_warehouse(self, stocked_product, warehouse, second_warehouse):
        stock_receive(lines=[StockLine(stocked_product.pk, second_warehouse.pk, 10, Decimal("12.0000"))])

        # 10 x 9 in MAIN + 10 x 12 in EAST = 10.5
        assert Product.objects.get(pk=stocked_product.pk).average_cost == Decimal("10.5000")

    def test_average_cost_rounds_half_up_to_four_places(self, warehouse):
        product = ProductFactory()
        stock_receive(lines=[StockLine(product.pk, warehouse.pk, 3, Decimal("1.0000"))])
        stock_receive(lines=[StockLine(product.pk, warehouse.pk, 3, Decimal("1.0001"))])

        # 6.0003 / 6 = 1.00005 -> 1.0001
        assert Product.objects.get(pk=product.pk).average_cost == Decimal("1.0001")

    def test_receipt_without_cost_keeps_average_and_books_at_average(self, stocked_product, warehouse):
        stock_receive(lines=[StockLine(stocked_product.pk, warehouse.pk, 5)], kind=MovementKind.RETURN)

        assert Product.objects.get(pk=stocked_product.pk).average_cost == Decimal("9.0000")
        movement = StockMovement.objects.get(kind=MovementKind.RETURN)
        assert movement.unit_cost == Decimal("9.0000")
        assert movement.quantity == 5

    def test_update_average_cost_false_leaves_it(self, stocked_product, warehouse):
        stock_receive(lines=[StockLine(stocked_product.pk, warehouse.pk, 10, Decimal("99"))], update_average_cost=False)

        assert Product.objects.get(pk=stocked_product.pk).average_cost == Decimal("9.0000")
        assert level_of(stocked_product, warehouse).on_hand == 20

    @pytest.mark.parametrize("kind", [MovementKind.SHIPMENT, MovementKind.TRANSFER_OUT, MovementKind.ADJUSTMENT])
    def test_outbound_kind_is_refused(self, stocked_product, warehouse, kind):
        before = snapshot()

        with pytest.raises(ValidationFailed, match="not an inbound movement"):
            stock_receive(lines=[StockLine(stocked_product.pk, warehouse.pk, 1, Decimal("1"))], kind=kind)

        assert snapshot() == before

    def test_negative_unit_cost_is_refused(self, stocked_product, warehouse):
        before = snapshot()

        with pytest.raises(ValidationFailed, match="cannot be negative"):
            stock_receive(lines=[StockLine(stocked_product.pk, warehouse.pk, 1, Decimal("-0.01"))])

        assert snapshot() == before

    @pytest.mark.parametrize("quantity", [0, -3, 1.5, Decimal("2"), "4", None, True])
    def test_bad_quantities_are_refused_and_nothing_is_written(self, stocked_product, warehouse, quantity):
        before = snapshot()

        with pytest.raises(ValidationFailed) as caught:
            stock_receive(
                lines=[
                    StockLine(stocked_product.pk, warehouse.pk, 5, Decimal("1")),
                    StockLine(stocked_product.pk, warehouse.pk, quantity, Decimal("1")),
                ]
            )

        assert caught.value.data["lines"] == [{"product_id": stocked_product.pk, "quantity": quantity}]
        assert snapshot() == before

    def test_no_lines_is_refused(self):
        with pytest.raises(ValidationFailed, match="No lines"):
            stock_receive(lines=[])

    def test_anonymous_user_is_not_recorded(self, warehouse):
        from django.contrib.auth.models import AnonymousUser

        product = ProductFactory()
        stock_receive(lines=[StockLine(product.pk, warehouse.pk, 1, Decimal("1"))], user=AnonymousUser())

        assert StockMovement.objects.get(product=product).user is None

    def test_stock_increased_fires_after_commit_with_sorted_keys(
        self, warehouse, second_warehouse, signal_log, django_capture_on_commit_callbacks
    ):
        first, second = ProductFactory(), ProductFactory()

        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            stock_receive(
                lines=[
                    StockLine(second.pk, second_warehouse.pk, 1, Decimal("1")),
                    StockLine(first.pk, warehouse.pk, 2, Decimal("1")),
                    StockLine(first.pk, warehouse.pk, 3, Decimal("1")),
                ]
            )
            assert signal_log == [], "the signal must wait for the commit"

        assert len(callbacks) == 1
        assert signal_log == [sorted([(first.pk, warehouse.pk), (second.pk, second_warehouse.pk)])]

    def test_refused_receipt_sends_no_signal(
        self, stocked_product, warehouse, signal_log, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(ValidationFailed):
            stock_receive(lines=[StockLine(stocked_product.pk, warehouse.pk, 1)], kind=MovementKind.SHIPMENT)

        assert callbacks == []
        assert signal_log == []


# stock_issue -------------------------------------------------------------------


class TestIssue:
    def test_plain_issue_takes_stock_out_with_a_negative_movement(self, stocked_product, warehouse, clerk):
        stock_issue(lines=[StockLine(stocked_product.pk, warehouse.pk, 4)], reference="SH-000001", user=clerk)

        movement = StockMovement.objects.get(reference="SH-000001")
        assert movement.kind == MovementKind.SHIPMENT
        assert movement.quantity == -4
        assert movement.balance_after == 6
        assert movement.unit_cost == Decimal("9.0000")
        assert movement.user == clerk
        level = level_of(stocked_product, warehouse)
        assert (level.on_hand, level.allocated) == (6, 0)
        assert_level_matches_ledger(stocked_product, warehouse)

    def test_plain_issue_may_empty_the_level(self, stocked_product, warehouse):
        stock_issue(lines=[StockLine(stocked_product.pk, warehouse.pk, 10)])

        assert level_of(stocked_product, warehouse).on_hand == 0
        assert_level_matches_ledger(stocked_product, warehouse)

    def test_plain_issue_cannot_take_reserved_stock(self, stocked_product, warehouse):
        stock_allocate(lines=[StockLine(stocked_product.pk, warehouse.pk, 4)])
        before = snapshot()

        with pytest.raises(InsufficientStock) as caught:
            stock_issue(lines=[StockLine(stocked_product.pk, warehouse.pk, 7)])

        assert caught.value.shortfalls == [Shortfall("CHAI", "MAIN", requested=7, available=6)]
        assert caught.value.code == "insufficient_stock"
        assert snapshot() == before

    def test_lines_for_the_same_level_add_up_before_checking(self, stocked_product, warehouse):
        before = snapshot()

        with pytest.raises(InsufficientStock) as caught:
            stock_issue(
                lines=[StockLine(stocked_product.pk, warehouse.pk, 6), StockLine(stocked_product.pk, warehouse.pk, 6)]
            )

        assert caught.value.shortfalls == [Shortfall("CHAI", "MAIN", requested=12, available=10)]
        assert snapshot() == before

    def test_every_shortfall_is_listed_and_nothing_is_issued(
        self, stocked_product, product_b, warehouse, second_warehouse
    ):
        before = snapshot()

        with pytest.raises(InsufficientStock) as caught:
            stock_issue(
                lines=[
                    StockLine(stocked_product.pk, warehouse.pk, 2),  # fine
                    StockLine(product_b.pk, warehouse.pk, 6),  # 5 on hand
                    StockLine(stocked_product.pk, second_warehouse.pk, 1),  # no level at all
                ]
            )

        assert sorted(caught.value.shortfalls, key=str) == sorted(
            [
                Shortfall("CHANG", "MAIN", requested=6, available=5),
                Shortfall("CHAI", "EAST", requested=1, available=0),
            ],
            key=str,
        )
        assert "CHANG @ MAIN: requested 6, available 5" in str(caught.value)
        assert snapshot() == before

    def test_issue_from_allocation_consumes_the_reservation(self, stocked_product, warehouse):
        stock_allocate(lines=[StockLine(stocked_product.pk, warehouse.pk, 6)])

        stock_issue(lines=[StockLine(stocked_product.pk, warehouse.pk, 4)], from_allocation=True, reference="SH-9")

        level = level_of(stocked_product, warehouse)
        assert (level.on_hand, level.allocated) == (6, 2)
        movement = StockMovement.objects.get(reference="SH-9")
        assert (movement.quantity, movement.balance_after) == (-4, 6)
        assert_level_matches_ledger(stocked_product, warehouse)

    def test_issue_from_allocation_cannot_exceed_the_reservation(self, stocked_product, warehouse):
        stock_allocate(lines=[StockLine(stocked_product.pk, warehouse.pk, 3)])
        before = snapshot()

        with pytest.raises(InsufficientStock, match="ship reserved stock") as caught:
            stock_issue(lines=[StockLine(stocked_product.pk, warehouse.pk, 4)], from_allocation=True)

        assert caught.value.shortfalls == [Shortfall("CHAI", "MAIN", requested=4, available=3)]
        assert snapshot() == before

    @pytest.mark.parametrize("quantity", [0, -1, 2.0])
    def test_bad_quantity_is_refused(self, stocked_product, warehouse, quantity):
        before = snapshot()

        with pytest.raises(ValidationFailed):
            stock_issue(lines=[StockLine(stocked_product.pk, warehouse.pk, quantity)])

        assert snapshot() == before

    def test_issue_sends_no_stock_increased_signal(
        self, stocked_product, warehouse, signal_log, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=True):
            stock_issue(lines=[StockLine(stocked_product.pk, warehouse.pk, 1)])

        assert signal_log == []


# stock_allocate / stock_release --------------------------------------------------


class TestAllocate:
    def test_allocation_reserves_without_touching_on_hand_or_the_ledger(self, stocked_product, warehouse):
        movements_before = StockMovement.objects.count()

        reserved = stock_allocate(lines=[StockLine(stocked_product.pk, warehouse.pk, 7)])

        assert reserved == [7]
        level = level_of(stocked_product, warehouse)
        assert (level.on_hand, level.allocated, level.available) == (10, 7, 3)
        assert StockMovement.objects.count() == movements_before

    def test_all_or_nothing_lists_every_shortfall_in_one_error(
        self, stocked_product, product_b, warehouse, second_warehouse
    ):
        stock_allocate(lines=[StockLine(stocked_product.pk, warehouse.pk, 8)])
        before = snapshot()

        with pytest.raises(InsufficientStock) as caught:
            stock_allocate(
                lines=[
                    StockLine(product_b.pk, warehouse.pk, 1),  # fine on its own
                    StockLine(stocked_product.pk, warehouse.pk, 3),  # 2 available
                    StockLine(product_b.pk, second_warehouse.pk, 2),  # no level
                ]
            )

        error = caught.value
        assert sorted(error.shortfalls, key=str) == sorted(
            [
                Shortfall("CHAI", "MAIN", requested=3, available=2),
                Shortfall("CHANG", "EAST", requested=2, available=0),
            ],
            key=str,
        )
        assert error.http_status == 409
        assert {s["sku"] for s in error.as_dict()["data"]["shortfalls"]} == {"CHAI", "CHANG"}
        assert "reserve stock" in error.message
        assert snapshot() == before, "the line that fitted must not be reserved either"

    def test_allow_partial_reserves_what_there_is_in_line_order(self, stocked_product, product_b, warehouse):
        reserved = stock_allocate(
            lines=[
                StockLine(stocked_product.pk, warehouse.pk, 6),
                StockLine(stocked_product.pk, warehouse.pk, 6),
                StockLine(product_b.pk, warehouse.pk, 2),
            ],
            allow_partial=True,
        )

        assert reserved == [6, 4, 2]
        assert level_of(stocked_product, warehouse).allocated == 10
        assert level_of(product_b, warehouse).allocated == 2

    def test_allow_partial_gives_zero_where_there_is_no_level(self, stocked_product, second_warehouse):
        reserved = stock_allocate(lines=[StockLine(stocked_product.pk, second_warehouse.pk, 3)], allow_partial=True)

        assert reserved == [0]
        assert not StockLevel.objects.filter(warehouse=second_warehouse).exists()

    def test_allocation_refuses_bad_quantities(self, stocked_product, warehouse):
        with pytest.raises(ValidationFailed):
            stock_allocate(lines=[StockLine(stocked_product.pk, warehouse.pk, 0)])
        assert level_of(stocked_product, warehouse).allocated == 0


class TestRelease:
    def test_release_gives_reserved_stock_back(self, stocked_product, warehouse):
        stock_allocate(lines=[StockLine(stocked_product.pk, warehouse.pk, 7)])

        stock_release(lines=[StockLine(stocked_product.pk, warehouse.pk, 5)])

        level = level_of(stocked_product, warehouse)
        assert (level.on_hand, level.allocated) == (10, 2)

    def test_release_of_more_than_reserved_is_refused(self, stocked_product, product_b, warehouse):
        stock_allocate(lines=[StockLine(stocked_product.pk, warehouse.pk, 2)])
        stock_allocate(lines=[StockLine(product_b.pk, warehouse.pk, 1)])
        before = snapshot()

        with pytest.raises(InsufficientStock) as caught:
            stock_release(
                lines=[StockLine(stocked_product.pk, warehouse.pk, 3), StockLine(product_b.pk, warehouse.pk, 2)]
            )

        assert sorted(caught.value.shortfalls, key=str) == [
            Shortfall("CHAI", "MAIN", requested=3, available=2),
            Shortfall("CHANG", "MAIN", requested=2, available=1),
        ]
        assert snapshot() == before

    def test_release_where_there_is_no_level_is_refused(self, stocked_product, second_warehouse):
        with pytest.raises(InsufficientStock):
            stock_release(lines=[StockLine(stocked_product.pk, second_warehouse.pk, 1)])


# stock_count_apply -----------------------------------------------------------------


class TestCount:
    def test_count_sets_on_hand_with_signed_adjustments(self, stocked_product, product_b, warehouse, clerk):
        movements, previous = stock_count_apply(
            counts=[Count(stocked_product.pk, warehouse.pk, 7), Count(product_b.pk, warehouse.pk, 9)],
            reason=AdjustmentReason.CYCLE_COUNT,
            reference="CC-1",
            user=clerk,
        )

        assert previous == {(stocked_product.pk, warehouse.pk): 10, (product_b.pk, warehouse.pk): 5}
        by_product = {m.product_id: m for m in StockMovement.objects.filter(reference="CC-1")}
        assert (by_product[stocked_product.pk].quantity, by_product[stocked_product.pk].balance_after) == (-3, 7)
        assert (by_product[product_b.pk].quantity, by_product[product_b.pk].balance_after) == (4, 9)
        assert all(m.kind == MovementKind.ADJUSTMENT and m.user == clerk for m in by_product.values())
        assert by_product[product_b.pk].note == AdjustmentReason.CYCLE_COUNT
        assert len(movements) == 2
        for product in (stocked_product, product_b):
            assert_level_matches_ledger(product, warehouse)

    def test_count_equal_to_on_hand_writes_nothing(self, stocked_product, warehouse):
        before = snapshot()

        movements, previous = stock_count_apply(counts=[Count(stocked_product.pk, warehouse.pk, 10)], reason="found")

        assert movements == []
        assert previous == {(stocked_product.pk, warehouse.pk): 10}
        assert snapshot() == before

    def test_count_to_zero_is_allowed(self, stocked_product, warehouse):
        stock_count_apply(counts=[Count(stocked_product.pk, warehouse.pk, 0)], reason="loss")

        assert level_of(stocked_product, warehouse).on_hand == 0
        assert_level_matches_ledger(stocked_product, warehouse)

    def test_count_in_a_new_warehouse_creates_the_level(self, stocked_product, second_warehouse):
        stock_count_apply(counts=[Count(stocked_product.pk, second_warehouse.pk, 4)], reason="found")

        assert level_of(stocked_product, second_warehouse).on_hand == 4
        assert_level_matches_ledger(stocked_product, second_warehouse)

    def test_count_below_reserved_is_refused(self, stocked_product, warehouse):
        stock_allocate(lines=[StockLine(stocked_product.pk, warehouse.pk, 6)])
        before = snapshot()

        with pytest.raises(InsufficientStock, match="count below reserved") as caught:
            stock_count_apply(counts=[Count(stocked_product.pk, warehouse.pk, 5)], reason="loss")

        assert caught.value.shortfalls == [Shortfall("CHAI", "MAIN", requested=6, available=5)]
        assert snapshot() == before

    @pytest.mark.parametrize(
        ("counts", "reason", "message"),
        [
            ("none", "loss", "No counted lines"),
            ("one", "", "reason is required"),
            ("negative", "loss", "zero or more"),
            ("fraction", "loss", "zero or more"),
            ("twice", "loss", "counted twice"),
        ],
    )
    def test_invalid_counts_are_refused(self, stocked_product, warehouse, counts, reason, message):
        key = (stocked_product.pk, warehouse.pk)
        counts = {
            "none": [],
            "one": [Count(*key, 3)],
            "negative": [Count(*key, -1)],
            "fraction": [Count(*key, 2.5)],
            "twice": [Count(*key, 3), Count(*key, 4)],
        }[counts]
        before = snapshot()

        with pytest.raises(ValidationFailed, match=message):
            stock_count_apply(counts=counts, reason=reason)

        assert snapshot() == before

    def test_signal_names_only_levels_that_went_up(
        self, stocked_product, product_b, warehouse, signal_log, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=True):
            stock_count_apply(
                counts=[Count(stocked_product.pk, warehouse.pk, 2), Count(product_b.pk, warehouse.pk, 8)],
                reason="correction",
            )

        assert signal_log == [[(product_b.pk, warehouse.pk)]]


# adjustments -------------------------------------------------------------------------


@pytest.fixture
def adjustment(warehouse, stocked_product, product_b, clerk):
    adjustment = stock_adjustment_create(warehouse=warehouse, reason=AdjustmentReason.DAMAGE, note="pallet", user=clerk)
    StockAdjustmentLine.objects.create(adjustment=adjustment, product=stocked_product, counted_quantity=8)
    StockAdjustmentLine.objects.create(adjustment=adjustment, product=product_b, counted_quantity=5)
    return adjustment


class TestAdjustment:
    def test_create_numbers_the_draft_and_records_who(self, warehouse, clerk):
        first = stock_adjustment_create(warehouse=warehouse, reason=AdjustmentReason.CYCLE_COUNT, user=clerk)
        second = stock_adjustment_create(warehouse=warehouse, reason=AdjustmentReason.LOSS, user=clerk)

        assert (first.number, second.number) == ("ADJ-000001", "ADJ-000002")
        assert first.status == DocumentStatus.DRAFT
        assert first.created_by == clerk
        assert first.history.get().history_user == clerk

    def test_create_with_an_unknown_reason_is_refused(self, warehouse):
        from django.core.exceptions import ValidationError

        with pytest.raises(ValidationError):
            stock_adjustment_create(warehouse=warehouse, reason="whim")
        assert not warehouse.adjustments.exists()

    def test_apply_sets_counts_fills_previous_and_marks_applied(
        self, adjustment, stocked_product, product_b, warehouse, clerk
    ):
        movements = stock_adjustment_apply(adjustment=adjustment, user=clerk)

        assert len(movements) == 1, "product_b was counted at what it had: no movement"
        movement = movements[0]
        assert (movement.kind, movement.quantity, movement.balance_after) == (MovementKind.ADJUSTMENT, -2, 8)
        assert movement.reference == adjustment.number
        assert movement.note == "Damaged"
        assert movement.user == clerk
        lines = {line.product_id: line for line in adjustment.lines.all()}
        assert lines[stocked_product.pk].previous_quantity == 10
        assert lines[stocked_product.pk].difference == -2
        assert lines[product_b.pk].previous_quantity == 5
        adjustment.refresh_from_db()
        assert adjustment.status == DocumentStatus.APPLIED
        assert adjustment.applied_at is not None
        assert level_of(stocked_product, warehouse).on_hand == 8
        assert_level_matches_ledger(stocked_product, warehouse)

    def test_apply_records_the_user_in_history(self, adjustment, clerk):
        stock_adjustment_apply(adjustment=adjustment, user=clerk)

        latest = adjustment.history.order_by("-history_id").first()
        assert latest.status == DocumentStatus.APPLIED
        assert latest.history_user == clerk
        line_history = StockAdjustmentLine.history.filter(adjustment_id=adjustment.pk, previous_quantity__isnull=False)
        assert line_history.count() == 2
        assert {h.history_user for h in line_history} == {clerk}

    def test_applying_twice_is_refused(self, adjustment, stocked_product, warehouse, clerk):
        stock_adjustment_apply(adjustment=adjustment, user=clerk)
        before = snapshot()

        with pytest.raises(InvalidTransition, match="not a draft"):
            stock_adjustment_apply(adjustment=adjustment, user=clerk)

        assert snapshot() == before

    def test_apply_without_lines_is_refused(self, warehouse):
        empty = stock_adjustment_create(warehouse=warehouse, reason=AdjustmentReason.CYCLE_COUNT)

        with pytest.raises(ValidationFailed, match="no lines"):
            stock_adjustment_apply(adjustment=empty)

        empty.refresh_from_db()
        assert empty.status == DocumentStatus.DRAFT

    def test_apply_below_reserved_is_refused_and_stays_draft(self, adjustment, stocked_product, warehouse):
        stock_allocate(lines=[StockLine(stocked_product.pk, warehouse.pk, 9)])
        before = snapshot()

        with pytest.raises(InsufficientStock):
            stock_adjustment_apply(adjustment=adjustment)

        adjustment.refresh_from_db()
        assert adjustment.status == DocumentStatus.DRAFT
        assert set(adjustment.lines.values_list("previous_quantity", flat=True)) == {None}
        assert snapshot() == before

    def test_cancel_a_draft_then_it_cannot_be_applied(self, adjustment, clerk):
        stock_document_cancel(document=adjustment, user=clerk)

        adjustment.refresh_from_db()
        assert adjustment.status == DocumentStatus.CANCELLED
        assert adjustment.history.order_by("-history_id").first().history_user == clerk
        with pytest.raises(InvalidTransition):
            stock_adjustment_apply(adjustment=adjustment)

    def test_an_applied_adjustment_cannot_be_cancelled(self, adjustment):
        stock_adjustment_apply(adjustment=adjustment)

        with pytest.raises(InvalidTransition, match="only drafts"):
            stock_document_cancel(document=adjustment)

        adjustment.refresh_from_db()
        assert adjustment.status == DocumentStatus.APPLIED


# transfers ---------------------------------------------------------------------------


@pytest.fixture
def transfer(warehouse, second_warehouse, stocked_product, product_b, clerk):
    transfer = stock_transfer_create(from_warehouse=warehouse, to_warehouse=second_warehouse, user=clerk)
    StockTransferLine.objects.create(transfer=transfer, product=stocked_product, quantity=4)
    StockTransferLine.objects.create(transfer=transfer, product=product_b, quantity=5)
    return transfer


class TestTransfer:
    def test_create_numbers_the_draft_and_records_who(self, transfer, clerk):
        assert transfer.number == "TR-000001"
        assert transfer.status == DocumentStatus.DRAFT
        assert transfer.created_by == clerk
        assert transfer.history.get().history_user == clerk

    def test_create_to_the_same_warehouse_is_refused(self, warehouse):
        with pytest.raises(ValidationFailed, match="other than the source"):
            stock_transfer_create(from_warehouse=warehouse, to_warehouse=warehouse)
        assert not warehouse.transfers_out.exists()

    def test_apply_moves_stock_out_and_in(
        self, transfer, stocked_product, product_b, warehouse, second_warehouse, clerk, signal_log,
        django_capture_on_commit_callbacks,
    ):  # fmt: skip
        with django_capture_on_commit_callbacks(execute=True):
            movements = stock_transfer_apply(transfer=transfer, user=clerk)

        assert len(movements) == 4
        rows = set(
            StockMovement.objects.filter(reference=transfer.number).values_list(
                "product__sku", "warehouse__code", "kind", "quantity", "balance_after"
            )
        )
        assert rows == {
            ("CHAI", "MAIN", MovementKind.TRANSFER_OUT, -4, 6),
            ("CHANG", "MAIN", MovementKind.TRANSFER_OUT, -5, 0),
            ("CHAI", "EAST", MovementKind.TRANSFER_IN, 4, 4),
            ("CHANG", "EAST", MovementKind.TRANSFER_IN, 5, 5),
        }
        assert all(m.user == clerk and m.note == "MAIN → EAST" for m in movements)
        for product in (stocked_product, product_b):
            for place in (warehouse, second_warehouse):
                assert_level_matches_ledger(product, place)
        transfer.refresh_from_db()
        assert transfer.status == DocumentStatus.APPLIED
        assert transfer.applied_at is not None
        assert transfer.history.order_by("-history_id").first().history_user == clerk
        assert signal_log == [sorted([(stocked_product.pk, second_warehouse.pk), (product_b.pk, second_warehouse.pk)])]

    def test_transfer_keeps_the_average_cost_and_books_at_it(self, transfer, stocked_product):
        stock_transfer_apply(transfer=transfer)

        assert Product.objects.get(pk=stocked_product.pk).average_cost == Decimal("9.0000")
        costs = set(
            StockMovement.objects.filter(reference=transfer.number, product=stocked_product).values_list(
                "unit_cost", flat=True
            )
        )
        assert costs == {Decimal("9.0000")}

    def test_transfer_cannot_move_reserved_stock(self, transfer, stocked_product, product_b, warehouse):
        stock_allocate(lines=[StockLine(stocked_product.pk, warehouse.pk, 7)])  # 3 free, 4 asked
        stock_allocate(lines=[StockLine(product_b.pk, warehouse.pk, 1)])  # 4 free, 5 asked
        before = snapshot()

        with pytest.raises(InsufficientStock) as caught:
            stock_transfer_apply(transfer=transfer)

        assert sorted(caught.value.shortfalls, key=str) == [
            Shortfall("CHAI", "MAIN", requested=4, available=3),
            Shortfall("CHANG", "MAIN", requested=5, available=4),
        ]
        transfer.refresh_from_db()
        assert transfer.status == DocumentStatus.DRAFT
        assert snapshot() == before, "no empty destination levels may be left behind"

    def test_transfer_of_a_product_never_stocked_at_the_source_is_refused(self, warehouse, second_warehouse):
        product = ProductFactory(sku="GHOST")
        transfer = stock_transfer_create(from_warehouse=warehouse, to_warehouse=second_warehouse)
        StockTransferLine.objects.create(transfer=transfer, product=product, quantity=1)

        with pytest.raises(InsufficientStock) as caught:
            stock_transfer_apply(transfer=transfer)

        assert caught.value.shortfalls == [Shortfall("GHOST", "MAIN", requested=1, available=0)]
        assert not StockLevel.objects.filter(product=product).exists()

    def test_applying_twice_is_refused(self, transfer):
        stock_transfer_apply(transfer=transfer)
        before = snapshot()

        with pytest.raises(InvalidTransition):
            stock_transfer_apply(transfer=transfer)

        assert snapshot() == before

    def test_apply_without_lines_is_refused(self, warehouse, second_warehouse):
        empty = stock_transfer_create(from_warehouse=warehouse, to_warehouse=second_warehouse)

        with pytest.raises(ValidationFailed, match="no lines"):
            stock_transfer_apply(transfer=empty)

    def test_a_cancelled_transfer_cannot_be_applied(self, transfer):
        stock_document_cancel(document=transfer)
        before = snapshot()

        with pytest.raises(InvalidTransition, match="cancelled"):
            stock_transfer_apply(transfer=transfer)

        assert snapshot() == before

    def test_an_applied_transfer_cannot_be_cancelled(self, transfer):
        stock_transfer_apply(transfer=transfer)

        with pytest.raises(InvalidTransition):
            stock_document_cancel(document=transfer)


# the ledger is append-only ----------------------------------------------------------------


class TestLedgerIsImmutable:
    def test_a_movement_cannot_be_edited(self, stocked_product):
        movement = StockMovement.objects.get(product=stocked_product)
        movement.quantity = 1000

        with pytest.raises(ImmutableLedgerError):
            movement.save()

        assert StockMovement.objects.get(pk=movement.pk).quantity == 10

    def test_a_movement_cannot_be_deleted(self, stocked_product):
        movement = StockMovement.objects.get(product=stocked_product)

        with pytest.raises(ImmutableLedgerError):
            movement.delete()

        assert StockMovement.objects.filter(pk=movement.pk).exists()

    def test_bulk_update_and_delete_are_refused(self, stocked_product):
        with pytest.raises(ImmutableLedgerError):
            StockMovement.objects.filter(product=stocked_product).update(quantity=1)
        with pytest.raises(ImmutableLedgerError):
            StockMovement.objects.filter(product=stocked_product).delete()

        assert StockMovement.objects.get(product=stocked_product).quantity == 10


# query counts -----------------------------------------------------------------------------


class TestQueryCounts:
    """A service call costs a fixed number of queries, however many lines it has."""

    @pytest.fixture
    def ten_products(self, warehouse):
        products = [ProductFactory() for _ in range(10)]
        stock_receive(lines=[StockLine(p.pk, warehouse.pk, 20, Decimal("2")) for p in products])
        return products

    def test_receipt(self, ten_products, warehouse, django_assert_max_num_queries):
        with django_assert_max_num_queries(10):
            stock_receive(lines=[StockLine(p.pk, warehouse.pk, 5, Decimal("3")) for p in ten_products])

        assert set(
            Product.objects.filter(pk__in=[p.pk for p in ten_products]).values_list("average_cost", flat=True)
        ) == {Decimal("2.2000")}

    def test_allocation_and_issue(self, ten_products, warehouse, django_assert_max_num_queries):
        lines = [StockLine(p.pk, warehouse.pk, 2) for p in ten_products]

        with django_assert_max_num_queries(5):
            stock_allocate(lines=lines)
        with django_assert_max_num_queries(6):
            stock_issue(lines=lines, from_allocation=True)

        assert set(StockLevel.objects.values_list("on_hand", "allocated")) == {(18, 0)}
