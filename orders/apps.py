import logging

from django.apps import AppConfig
from django.db import DatabaseError

from backoffice.errors import BusinessError

logger = logging.getLogger(__name__)


def reserve_backorders_on_stock_increase(sender, keys, **kwargs) -> None:
    """Stock went up (receipt, count, transfer in, return) and that transaction committed:
    serve waiting backorders of those products and warehouses, oldest order first.

    ``inventory`` sends ``stock_increased`` from ``transaction.on_commit``, so
    this runs after the stock is visible and in its own transaction. A failure
    here must not turn the already-committed receipt into an error page: it is
    logged, and the next increase of the same stock serves the backorders.
    """
    from orders.services import backorders_reserve

    try:
        backorders_reserve(keys=keys)
    except (BusinessError, DatabaseError):
        logger.exception("Reserving backorders for %s failed", keys)


class OrdersConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "orders"

    def ready(self) -> None:
        from inventory.selectors import register_allocation_source
        from inventory.services import register_reservation_holder
        from inventory.signals import stock_increased
        from orders.selectors import reserved_by_open_orders
        from orders.services.reservations import SALES_ORDER_RESERVATIONS

        register_allocation_source(reserved_by_open_orders)
        # A stock count below what orders reserved releases the newest reservations (inventory.services).
        register_reservation_holder(SALES_ORDER_RESERVATIONS)
        stock_increased.connect(reserve_backorders_on_stock_increase, dispatch_uid="orders.reserve_backorders")
