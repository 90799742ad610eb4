"""Every write that changes stock.

Rules held here (DESIGN.md section 5):

* every change of ``on_hand`` writes a ``StockMovement`` with the balance after it;
* the ``StockLevel`` rows touched are locked with ``select_for_update`` ordered by
  pk inside ``transaction.atomic`` before anything is checked;
* every line is checked first, and one ``InsufficientStock`` lists every
  shortfall; nothing is written when any line fails;
* counters move with ``F()`` expressions.

Callers (admin actions, API views, order services, tasks) pass ``StockLine``s.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Protocol

from django.db import connection, transaction
from django.db.models import Q, Sum
from django.utils import timezone

from backoffice.dashboard_cache import bump_version
from backoffice.errors import InsufficientStock, InvalidTransition, Shortfall, ValidationFailed
from backoffice.events import business_event
from backoffice.history import save_with_user
from backoffice.limits import MAX_QUANTITY, MAX_STOCK, check_quantity
from backoffice.numbering import next_document_number
from inventory.models import (
    DocumentStatus,
    MovementKind,
    Product,
    StockAdjustment,
    StockLevel,
    StockMovement,
    StockTransfer,
)
from inventory.signals import stock_increased

FOUR_PLACES = Decimal("0.0001")

Key = tuple[int, int]  # (product_id, warehouse_id)


@dataclass(frozen=True)
class StockLine:
    """A quantity of one product in one warehouse (``unit_cost`` for receipts)."""

    product_id: int
    warehouse_id: int
    quantity: int
    unit_cost: Decimal | None = None

    @property
    def key(self) -> Key:
        return (self.product_id, self.warehouse_id)


def _is_quantity(value) -> bool:
    """A whole number from 1 to ``MAX_QUANTITY`` (``True`` does not pass for 1)."""
    try:
        check_quantity(value)
    except ValidationFailed:
        return False
    return True


def _validate_quantities(lines: Sequence[StockLine]) -> None:
    if not lines:
        raise ValidationFailed("No lines were given.")
    bad = [line for line in lines if not _is_quantity(line.quantity)]
    if bad:
        raise ValidationFailed(
            f"Quantities must be whole numbers greater than zero and at most {MAX_QUANTITY:,}.",
            lines=[{"product_id": b.product_id, "quantity": b.quantity} for b in bad],
        )


def _totals(lines: Iterable[StockLine]) -> dict[Key, int]:
    """Quantities per stock level; two lines for the same level add up."""
    totals: dict[Key, int] = defaultdict(int)
    for line in lines:
        totals[line.key] += line.quantity
    return dict(totals)


def lock_stock_levels(keys: Iterable[Key], *, create_missing: bool = False) -> dict[Key, StockLevel]:
    """Lock the stock levels for ``keys`` (ordered by pk) and return them by key.

    Must be called inside ``transaction.atomic``. With ``create_missing``,
    absent levels are created first (receipts into a new warehouse).
    """
    keys = sorted(set(keys))
    if not keys:
        return {}
    if create_missing:
        StockLevel.objects.bulk_create(
            [StockLevel(product_id=p, warehouse_id=w) for p, w in keys], ignore_conflicts=True
        )
    by_warehouse: dict[int, list[int]] = defaultdict(list)
    for product_id, warehouse_id in keys:
        by_warehouse[warehouse_id].append(product_id)
    condition = Q()
    for warehouse_id, product_ids in by_warehouse.items():
        condition |= Q(warehouse_id=warehouse_id, product_id__in=product_ids)
    levels = (
        StockLevel.objects.select_for_update(of=("self",))
        .select_related("product", "warehouse")
        .filter(condition)
        .order_by("pk")
    )
    wanted = set(keys)
    return {key: level for level in levels if (key := (level.product_id, level.warehouse_id)) in wanted}


def _missing_level_shortfalls(keys: Iterable[Key], found: dict[Key, StockLevel], requested: dict[Key, int]):
    missing = [key for key in keys if key not in found]
    if not missing:
        return []
    products = dict(Product.objects.filter(pk__in=[p for p, _ in missing]).values_list("pk", "sku"))
    from inventory.models import Warehouse

    warehouses = dict(Warehouse.objects.filter(pk__in=[w for _, w in missing]).values_list("pk", "code"))
    return [
        Shortfall(
            sku=products.get(p, f"#{p}"), warehouse=warehouses.get(w, f"#{w}"), requested=requested[(p, w)], available=0
        )
        for p, w in missing
    ]


def _shortfall(level: StockLevel, requested: int, available: int) -> Shortfall:
    return Shortfall(sku=level.product.sku, warehouse=level.warehouse.code, requested=requested, available=available)


def _user_or_none(user):
    return user if user is not None and getattr(user, "is_authenticated", False) else None


def _write_movements(
    changes: list[tuple[StockLevel, int, Decimal]],
    *,
    kind: str,
    reference: str,
    note: str,
    user,
    allocated_delta: dict[Key, int] | None = None,
) -> list[StockMovement]:
    """Apply on-hand deltas to locked levels and append one movement each.

    Several changes may hit the same level; each movement carries the running
    balance and the level gets one relative update with the total.
    """
    movements = []
    balances: dict[int, int] = {}
    totals: dict[int, int] = defaultdict(int)
    by_pk: dict[int, StockLevel] = {}
    for level, delta, unit_cost in changes:
        balance_after = balances.get(level.pk, level.on_hand) + delta
        if balance_after > MAX_STOCK:
            raise ValidationFailed(
                f"{level.product.sku} @ {level.warehouse.code} may hold at most {MAX_STOCK:,} on hand "
                f"({level.on_hand:,} now, {delta:+,} would make {balance_after:,}).",
                sku=level.product.sku,
                warehouse=level.warehouse.code,
                maximum=MAX_STOCK,
            )
        balances[level.pk] = balance_after
        totals[level.pk] += delta
        by_pk[level.pk] = level
        movements.append(
            StockMovement(
                product_id=level.product_id,
                warehouse_id=level.warehouse_id,
                kind=kind,
                quantity=delta,
                unit_cost=unit_cost,
                balance_after=balance_after,
                reference=reference[:40],
                note=note[:255],
                user=_user_or_none(user),
            )
        )
    allocated_delta = allocated_delta or {}
    deltas = {
        pk: (totals[pk], allocated_delta.get((level.product_id, level.warehouse_id), 0)) for pk, level in by_pk.items()
    }
    _add_to_counters(deltas)
    for pk, level in by_pk.items():
        level.on_hand = balances[pk]
        level.allocated += deltas[pk][1]
    return StockMovement.objects.bulk_create(movements)


def _announce_increase(keys: Iterable[Key]) -> None:
    keys = sorted(set(keys))
    if keys:
        transaction.on_commit(lambda: stock_increased.send(sender=StockLevel, keys=keys))


def _update_average_costs(lines: Sequence[StockLine], levels: dict[Key, StockLevel]) -> None:
    """Moving-average cost per product over all warehouses, before this receipt."""
    per_product: dict[int, list[StockLine]] = defaultdict(list)
    for line in lines:
        if line.unit_cost is not None:
            per_product[line.product_id].append(line)
    if not per_product:
        return
    # FOR NO KEY UPDATE: the cost is not a key, and a plain FOR UPDATE would also block the foreign-key
    # checks of concurrent issues inserting movements of this product (a deadlock seen on PostgreSQL).
    products = Product.objects.select_for_update(no_key=True).filter(pk__in=per_product).order_by("pk")
    on_hand = dict(
        StockLevel.objects.filter(product_id__in=per_product)
        .order_by()
        .values("product_id")
        .annotate(total=Sum("on_hand"))
        .values_list("product_id", "total")
    )
    changed = []
    for product in products:
        quantity = on_hand.get(product.pk) or 0
        value = product.average_cost * quantity
        for line in per_product[product.pk]:
            value += line.unit_cost * line.quantity
            quantity += line.quantity
        if quantity > 0:
            product.average_cost = (value / quantity).quantize(FOUR_PLACES, rounding=ROUND_HALF_UP)
            changed.append(product)
    # One UPDATE for the whole receipt, not one per product.
    Product.objects.bulk_update(changed, ["average_cost"])


@transaction.atomic
def stock_receive(
    *,
    lines: Sequence[StockLine],
    kind: str = MovementKind.RECEIPT,
    reference: str = "",
    note: str = "",
    user=None,
    update_average_cost: bool = True,
) -> list[StockMovement]:
    """Add stock (receipt, opening balance, return): on-hand up, one movement per level."""
    _validate_quantities(lines)
    if kind not in MovementKind.inbound():
        raise ValidationFailed(f"'{kind}' is not an inbound movement.")
    if any(line.unit_cost is not None and line.unit_cost < 0 for line in lines):
        raise ValidationFailed("Unit cost cannot be negative.")
    levels = lock_stock_levels((line.key for line in lines), create_missing=True)
    if update_average_cost:
        _update_average_costs(lines, levels)
    changes = [
        (
            levels[line.key],
            line.quantity,
            line.unit_cost if line.unit_cost is not None else levels[line.key].product.average_cost,
        )
        for line in lines
    ]
    movements = _write_movements(changes, kind=kind, reference=reference, note=note, user=user)
    _announce_increase(line.key for line in lines)
    return movements


@transaction.atomic
def stock_issue(
    *,
    lines: Sequence[StockLine],
    kind: str = MovementKind.SHIPMENT,
    reference: str = "",
    note: str = "",
    user=None,
    from_allocation: bool = False,
) -> list[StockMovement]:
    """Take stock out. With ``from_allocation`` the quantities must be reserved
    and the reservation is consumed; otherwise only unreserved stock may go."""
    _validate_quantities(lines)
    requested = _totals(lines)
    levels = lock_stock_levels(requested)
    shortfalls = _missing_level_shortfalls(requested, levels, requested)
    for key, quantity in requested.items():
        level = levels.get(key)
        if level is None:
            continue
        limit = level.allocated if from_allocation else level.available
        if quantity > limit:
            shortfalls.append(_shortfall(level, quantity, limit))
    if shortfalls:
        raise InsufficientStock(shortfalls, action="issue stock" if not from_allocation else "ship reserved stock")
    changes = [(levels[key], -quantity, levels[key].product.average_cost) for key, quantity in requested.items()]
    allocated_delta = {key: -q for key, q in requested.items()} if from_allocation else None
    return _write_movements(
        changes, kind=kind, reference=reference, note=note, user=user, allocated_delta=allocated_delta
    )


def stock_allocate(*, lines: Sequence[StockLine], allow_partial: bool = False) -> list[int]:
    """Reserve stock for lines; returns the quantity reserved for each line.

    All-or-nothing by default (one ``InsufficientStock`` with every shortfall).
    With ``allow_partial`` each line gets what is available, in the order
    given, and the rest stays for the caller to backorder.
    """
    _validate_quantities(lines)
    # A partial allocation refuses nothing once its input is valid, so when nested it needs no
    # savepoint of its own (two round trips saved per order confirmation).
    with transaction.atomic(savepoint=not allow_partial):
        return _allocate(lines, allow_partial)


def _allocate(lines: Sequence[StockLine], allow_partial: bool) -> list[int]:
    levels = lock_stock_levels(line.key for line in lines)
    remaining = {key: level.available for key, level in levels.items()}
    if not allow_partial:
        requested = _totals(lines)
        shortfalls = _missing_level_shortfalls(requested, levels, requested)
        shortfalls += [
            _shortfall(levels[key], quantity, remaining[key])
            for key, quantity in requested.items()
            if key in levels and quantity > remaining[key]
        ]
        if shortfalls:
            raise InsufficientStock(shortfalls, action="reserve stock")
    reserved = []
    delta: dict[Key, int] = defaultdict(int)
    for line in lines:
        quantity = min(line.quantity, remaining.get(line.key, 0))
        reserved.append(quantity)
        if quantity:
            remaining[line.key] -= quantity
            delta[line.key] += quantity
    _bump_allocated(levels, delta)
    return reserved


@transaction.atomic
def stock_release(*, lines: Sequence[StockLine]) -> None:
    """Give reserved stock back (order cancelled, line reduced)."""
    _validate_quantities(lines)
    requested = _totals(lines)
    levels = lock_stock_levels(requested)
    shortfalls = _missing_level_shortfalls(requested, levels, requested)
    shortfalls += [
        _shortfall(levels[key], quantity, levels[key].allocated)
        for key, quantity in requested.items()
        if key in levels and quantity > levels[key].allocated
    ]
    if shortfalls:
        raise InsufficientStock(shortfalls, action="release more than is reserved")
    _bump_allocated(levels, {key: -q for key, q in requested.items()})


def _bump_allocated(levels: dict[Key, StockLevel], delta: dict[Key, int]) -> None:
    changed = {levels[key]: quantity for key, quantity in delta.items() if quantity}
    if not changed:
        return
    _add_to_counters({level.pk: (0, quantity) for level, quantity in changed.items()})
    for level, quantity in changed.items():
        level.allocated += quantity


def _add_to_counters(deltas: dict[int, tuple[int, int]]) -> None:
    """Add ``(on_hand, allocated)`` deltas to stock levels by pk in one UPDATE.

    The rows are locked by the caller; the counters still move relative to the
    stored value (``SET x = x + delta``), never from a value read earlier, and
    the database's check constraints still apply. One statement with a VALUES
    list costs a fraction of ``bulk_update``'s CASE expressions on this hot
    path (confirm-and-reserve); it runs on PostgreSQL and SQLite alike.
    """
    if not deltas:
        return
    # The start page's cached stock figures are obsolete now. Bumped at once (a rollback only costs a
    # recomputation); the documents saved in the same transaction bump it again on commit
    # (backoffice.dashboard_cache), so a figure computed before the commit is not kept.
    bump_version()
    table = connection.ops.quote_name(StockLevel._meta.db_table)
    rows = ", ".join(["(%s, %s, %s)"] * len(deltas))
    params = [value for pk, (on_hand, allocated) in deltas.items() for value in (pk, on_hand, allocated)]
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH delta(level_id, on_hand, allocated) AS (VALUES {rows}) "
            f"UPDATE {table} SET "
            f"on_hand = on_hand + (SELECT delta.on_hand FROM delta WHERE delta.level_id = {table}.id), "
            f"allocated = allocated + (SELECT delta.allocated FROM delta WHERE delta.level_id = {table}.id) "
            f"WHERE id IN (SELECT level_id FROM delta)",
            params,
        )


@dataclass(frozen=True)
class Count:
    """A counted quantity of one product in one warehouse (``note``: why it differs, for its ledger entry)."""

    product_id: int
    warehouse_id: int
    counted: int
    note: str = ""

    @property
    def key(self) -> Key:
        return (self.product_id, self.warehouse_id)


@dataclass(frozen=True)
class ReleasedReservation:
    """Reserved stock a count took back from a document (a sales order line): it waits on backorder again."""

    product_id: int
    warehouse_id: int
    quantity: int
    document: str

    @property
    def key(self) -> Key:
        return (self.product_id, self.warehouse_id)


class ReservationHolder(Protocol):
    """An app holding reservations (orders) that lets a count below them release the newest ones.

    ``lock(keys)`` locks the documents holding reservations of those stock levels; it is called *before* the
    levels are locked (documents before stock levels: the locking order of ``orders.services``).
    ``release(shortfalls, user=, reference=)`` takes ``shortfalls[key]`` reserved units off its newest documents
    (stock levels locked: what is reserved cannot move meanwhile), updates them and tells their owners after the
    commit; the caller lowers ``allocated`` to match. Returns what was released from which document.
    """

    def lock(self, keys: Collection[Key]) -> None: ...

    def release(self, shortfalls: dict[Key, int], *, user, reference: str) -> list[ReleasedReservation]: ...


_reservation_holders: list[ReservationHolder] = []


def register_reservation_holder(holder: ReservationHolder) -> None:
    """Let an app (orders) give back reservations when a count finds less stock than they hold."""
    if holder not in _reservation_holders:
        _reservation_holders.append(holder)


def _release_reservations(
    shortfalls: dict[Key, int], levels: dict[Key, StockLevel], *, user, reference: str
) -> list[ReleasedReservation]:
    released: list[ReleasedReservation] = []
    for holder in _reservation_holders:
        wanted = {key: quantity for key, quantity in shortfalls.items() if quantity > 0}
        if not wanted:
            break
        for item in holder.release(wanted, user=user, reference=reference):
            shortfalls[item.key] -= item.quantity
            released.append(item)
    missing = [
        _shortfall(levels[key], levels[key].allocated, levels[key].allocated - quantity)
        for key, quantity in shortfalls.items()
        if quantity > 0
    ]
    if missing:
        # Reservations nobody registered as releasable: refuse rather than break allocated = reservations.
        raise InsufficientStock(
            missing,
            action="count below reserved quantity",
            describe=lambda s: (
                f"{s.sku} @ {s.warehouse}: {s.requested - s.available} reserved units could not be released"
            ),
        )
    return released


@transaction.atomic
def stock_count_apply(
    *, counts: Sequence[Count], reason: str, reference: str = "", note: str = "", user=None
) -> tuple[list[StockMovement], dict[Key, int]]:
    """Set on-hand to counted quantities. Returns the movements and the previous on-hand of every counted level
    (``stock_adjustment_apply`` also records the reservations released: ``_count_apply``)."""
    movements, previous, _released = _count_apply(
        counts=counts, reason=reason, reference=reference, note=note, user=user
    )
    return movements, previous


def _count_apply(
    *, counts: Sequence[Count], reason: str, reference: str, note: str, user
) -> tuple[list[StockMovement], dict[Key, int], list[ReleasedReservation]]:
    """``stock_count_apply``, also returning the reservations released (inside the caller's transaction).

    A count below what is reserved for orders is a real shortage and is accepted: the shortfall is released from
    the newest reservations (``ReservationHolder``), whose lines go back on backorder and whose owners are told;
    ``allocated`` drops with it, so stock never goes negative and allocated stays ≤ on hand.
    """
    if not counts:
        raise ValidationFailed("No counted lines were given.")
    if not reason:
        raise ValidationFailed("A reason is required for a stock adjustment.")
    for count in counts:
        check_quantity(count.counted, "A counted quantity", allow_zero=True)
    if len({c.key for c in counts}) != len(counts):
        raise ValidationFailed("A product is counted twice in the same warehouse.")
    counted = {c.key: c.counted for c in counts}
    # Documents before stock levels: lock the orders holding reservations the count may take back (read without
    # a lock first; a holder re-checks under the level locks and refuses what it could not lock).
    at_risk = _below_reserved_keys(counted)
    for holder in _reservation_holders:
        if at_risk:
            holder.lock(at_risk)
    levels = lock_stock_levels((c.key for c in counts), create_missing=True)
    shortfalls = {c.key: levels[c.key].allocated - c.counted for c in counts if c.counted < levels[c.key].allocated}
    released = (
        _release_reservations(dict(shortfalls), levels, user=user, reference=reference or "count") if shortfalls else []
    )
    previous = {c.key: levels[c.key].on_hand for c in counts}
    movements = []
    changes_by_note: dict[str, list[tuple[StockLevel, int, Decimal]]] = defaultdict(list)
    for c in counts:
        level = levels[c.key]
        if c.counted != level.on_hand:
            changes_by_note[c.note or note or reason].append(
                (level, c.counted - level.on_hand, level.product.average_cost)
            )
    for line_note, changes in changes_by_note.items():
        movements += _write_movements(
            changes,
            kind=MovementKind.ADJUSTMENT,
            reference=reference,
            note=line_note,
            user=user,
            allocated_delta={
                key: -shortfalls[key]
                for level, _, _ in changes
                if (key := (level.product_id, level.warehouse_id)) in shortfalls
            },
        )
    all_changes = [change for changes in changes_by_note.values() for change in changes]
    _announce_increase((level.product_id, level.warehouse_id) for level, delta, _ in all_changes if delta > 0)
    business_event(
        "stock.adjusted",
        reference=reference,
        reason=reason,
        levels_counted=len(counts),
        levels_changed=len(all_changes),
        net_change=sum(delta for _, delta, _ in all_changes),
        reservations_released=sum(item.quantity for item in released),
        by_user_id=getattr(user, "pk", None),
    )
    return movements, previous, released


def _below_reserved_keys(counted: dict[Key, int]) -> set[Key]:
    """Counted keys whose count is below what is reserved now (an unlocked read: a hint for locking)."""
    condition = Q()
    for product_id, warehouse_id in counted:
        condition |= Q(product_id=product_id, warehouse_id=warehouse_id)
    rows = StockLevel.objects.filter(condition, allocated__gt=0).values_list("product_id", "warehouse_id", "allocated")
    return {(p, w) for p, w, allocated in rows if counted[(p, w)] < allocated}


@transaction.atomic
def stock_adjustment_create(
    *, warehouse, reason: str, note: str = "", blind_count: bool = False, user=None
) -> StockAdjustment:
    """A new draft adjustment with its number (``blind_count``: expected quantities hidden until review)."""
    adjustment = StockAdjustment(
        number=next_document_number("ADJ"),
        warehouse=warehouse,
        reason=reason,
        note=note,
        blind_count=blind_count,
        created_by=_user_or_none(user),
    )
    adjustment.full_clean()
    save_with_user(adjustment, user)
    return adjustment


@transaction.atomic
def stock_adjustment_apply(*, adjustment: StockAdjustment, user=None) -> list[StockMovement]:
    """Apply a draft adjustment: on-hand of each line becomes the counted quantity."""
    adjustment = StockAdjustment.objects.select_for_update().get(pk=adjustment.pk)
    if adjustment.status != DocumentStatus.DRAFT:
        raise InvalidTransition(f"{adjustment.number} is {adjustment.get_status_display().lower()}, not a draft.")
    lines = list(adjustment.lines.select_related("product"))
    if not lines:
        raise ValidationFailed(f"{adjustment.number} has no lines to apply.")
    movements, previous, released = _count_apply(
        counts=[
            Count(
                line.product_id,
                adjustment.warehouse_id,
                line.counted_quantity,
                note=line.get_reason_display() if line.reason else "",
            )
            for line in lines
        ],
        reason=adjustment.reason,
        reference=adjustment.number,
        note=adjustment.get_reason_display(),
        user=user,
    )
    released_by_key: dict[Key, int] = defaultdict(int)
    for item in released:
        released_by_key[item.key] += item.quantity
    for line in lines:
        key = (line.product_id, adjustment.warehouse_id)
        line.previous_quantity = previous[key]
        line.unit_cost = line.product.average_cost
        line.released_quantity = released_by_key.get(key, 0)
        save_with_user(line, user, update_fields=["previous_quantity", "unit_cost", "released_quantity"])
    adjustment.status = DocumentStatus.APPLIED
    adjustment.applied_at = timezone.now()
    save_with_user(adjustment, user, update_fields=["status", "applied_at", "updated_at"])
    return movements


@transaction.atomic
def stock_transfer_create(*, from_warehouse, to_warehouse, note: str = "", user=None) -> StockTransfer:
    """A new draft transfer with its number."""
    if from_warehouse is not None and from_warehouse == to_warehouse:
        raise ValidationFailed("Choose a destination warehouse other than the source.")
    transfer = StockTransfer(
        number=next_document_number("TR"),
        from_warehouse=from_warehouse,
        to_warehouse=to_warehouse,
        note=note,
        created_by=_user_or_none(user),
    )
    transfer.full_clean()
    save_with_user(transfer, user)
    return transfer


@transaction.atomic
def stock_transfer_apply(*, transfer: StockTransfer, user=None) -> list[StockMovement]:
    """Move every line's quantity out of the source and into the destination."""
    transfer = StockTransfer.objects.select_for_update().get(pk=transfer.pk)
    if transfer.status != DocumentStatus.DRAFT:
        raise InvalidTransition(f"{transfer.number} is {transfer.get_status_display().lower()}, not a draft.")
    if transfer.from_warehouse_id == transfer.to_warehouse_id:
        raise ValidationFailed("A transfer needs two different warehouses.")
    lines = list(transfer.lines.all())
    if not lines:
        raise ValidationFailed(f"{transfer.number} has no lines to apply.")
    out_lines = [StockLine(line.product_id, transfer.from_warehouse_id, line.quantity) for line in lines]
    in_lines = [StockLine(line.product_id, transfer.to_warehouse_id, line.quantity) for line in lines]
    requested = _totals(out_lines)
    levels = lock_stock_levels([*requested, *(line.key for line in in_lines)], create_missing=True)
    shortfalls = [
        _shortfall(levels[key], quantity, levels[key].available)
        for key, quantity in requested.items()
        if quantity > levels[key].available
    ]
    if shortfalls:
        raise InsufficientStock(shortfalls, action=f"transfer {transfer.number}")
    note = f"{transfer.from_warehouse.code} → {transfer.to_warehouse.code}"
    movements = _write_movements(
        [(levels[line.key], -line.quantity, levels[line.key].product.average_cost) for line in out_lines],
        kind=MovementKind.TRANSFER_OUT,
        reference=transfer.number,
        note=note,
        user=user,
    )
    movements += _write_movements(
        [(levels[line.key], line.quantity, levels[line.key].product.average_cost) for line in in_lines],
        kind=MovementKind.TRANSFER_IN,
        reference=transfer.number,
        note=note,
        user=user,
    )
    transfer.status = DocumentStatus.APPLIED
    transfer.applied_at = timezone.now()
    save_with_user(transfer, user, update_fields=["status", "applied_at", "updated_at"])
    _announce_increase(line.key for line in in_lines)
    return movements


@transaction.atomic
def stock_document_cancel(*, document: StockAdjustment | StockTransfer, user=None) -> None:
    """Cancel a draft adjustment or transfer (applied ones are history)."""
    document = type(document).objects.select_for_update().get(pk=document.pk)
    if document.status != DocumentStatus.DRAFT:
        raise InvalidTransition(
            f"{document.number} is {document.get_status_display().lower()}; only drafts can be cancelled."
        )
    document.status = DocumentStatus.CANCELLED
    save_with_user(document, user, update_fields=["status", "updated_at"])


# Suppliers ----------------------------------------------------------------------------------------
# The bank account (encrypted at rest) is seen in full and changed only with this permission (Manager, Admin):
# the admin shows it masked and read-only to others, exports leave it out, imports refuse a change by row.
SUPPLIER_BANK_ACCOUNT_PERM = "inventory.change_supplier_bank_account"
SUPPLIER_PROTECTED_FIELDS = {"bank_account": SUPPLIER_BANK_ACCOUNT_PERM}
