"""Sales orders give back reservations when a stock count finds less than they hold (issue 10 §6, counts).

``inventory.services.stock_count_apply`` accepts a count below what is reserved: it asks the registered
``ReservationHolder`` (this module's ``SALES_ORDER_RESERVATIONS``, registered in ``orders.apps``) to release the
shortfall from the newest reservations. Those lines go back on backorder (reserved again, oldest order first, when
stock arrives: ``backorders_reserve``) and whoever created each order is told by e-mail after the commit.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection

from django.db import DatabaseError
from django.db.models import F, Q
from django.template.loader import render_to_string
from simple_history.utils import bulk_update_with_history

from backoffice.errors import ValidationFailed
from backoffice.events import business_event
from backoffice.mail import send_email_later
from inventory.services import Key, ReleasedReservation
from orders.models import SalesOrder, SalesOrderLine, SalesOrderStatus
from orders.services._common import _user_or_none
from orders.services.sales import sales_orders_refresh_counters


def _reserved_lines(keys: Collection[Key]):
    condition = Q()
    for product_id, warehouse_id in keys:
        condition |= Q(product_id=product_id, order__warehouse_id=warehouse_id)
    return SalesOrderLine.objects.filter(condition, order__status__in=SalesOrderStatus.OPEN, quantity_reserved__gt=0)


class SalesOrderReservations:
    """The ``inventory.services.ReservationHolder`` of open sales orders."""

    def lock(self, keys: Collection[Key]) -> None:
        order_ids = set(_reserved_lines(keys).values_list("order_id", flat=True))
        if order_ids:
            list(SalesOrder.objects.select_for_update().filter(pk__in=order_ids).order_by("pk").values_list("pk"))

    def release(self, shortfalls: dict[Key, int], *, user, reference: str) -> list[ReleasedReservation]:
        """Take ``shortfalls[key]`` reserved units off the newest orders first (latest confirmation, then order and
        line number, newest first); the stock levels are locked by the caller."""
        lines = list(
            _reserved_lines(shortfalls)
            .select_related("order", "order__created_by", "order__customer", "order__warehouse", "product")
            .order_by(F("order__confirmed_at").desc(nulls_last=True), "-order_id", "-id")
        )
        remaining = dict(shortfalls)
        taken: list[tuple[SalesOrderLine, int]] = []
        for line in lines:
            key = (line.product_id, line.order.warehouse_id)
            quantity = min(line.quantity_reserved, remaining.get(key, 0))
            if quantity:
                remaining[key] -= quantity
                taken.append((line, quantity))
        if not taken:
            return []
        order_ids = sorted({line.order_id for line, _ in taken})
        try:
            # Usually locked already by ``lock``; an order confirmed since then must not be waited for while we
            # hold the stock levels (documents are locked before stock levels everywhere else).
            list(
                SalesOrder.objects.select_for_update(nowait=True)
                .filter(pk__in=order_ids)
                .order_by("pk")
                .values_list("pk")
            )
        except DatabaseError as error:
            raise ValidationFailed(
                "Orders holding this stock are being changed by someone else right now: apply the count again."
            ) from error
        for line, quantity in taken:
            line.quantity_reserved -= quantity
        bulk_update_with_history(
            [line for line, _ in taken], SalesOrderLine, ["quantity_reserved"], default_user=_user_or_none(user)
        )
        sales_orders_refresh_counters(order_ids=order_ids)
        _tell_owners(taken, reference)
        business_event(
            "sales_order.reservations_released",
            reference=reference,
            orders=len(order_ids),
            quantity=sum(quantity for _, quantity in taken),
            by_user_id=getattr(user, "pk", None),
        )
        return [
            ReleasedReservation(line.product_id, line.order.warehouse_id, quantity, line.order.number)
            for line, quantity in taken
        ]


def _tell_owners(taken: list[tuple[SalesOrderLine, int]], reference: str) -> None:
    """One e-mail per owner (who created the order) listing their lines put back on backorder."""
    by_owner: dict[str, list[tuple[SalesOrderLine, int]]] = defaultdict(list)
    for line, quantity in taken:
        owner = line.order.created_by
        if owner is not None and owner.is_active and owner.email:
            by_owner[owner.email].append((line, quantity))
    for address, items in by_owner.items():
        numbers = sorted({line.order.number for line, _ in items})
        send_email_later(
            f"Back on backorder after stock count {reference}: {', '.join(numbers)}",
            [address],
            render_to_string("orders/email/reservations_released.txt", {"items": items, "reference": reference}),
        )


SALES_ORDER_RESERVATIONS = SalesOrderReservations()
