"""A small, hand-computable world for the sales and stock report tests (built through the services).

Sales orders (all confirmed unless said otherwise):

=====  ========  =====  ==========  ========  ==============================================  =====  =====  =====
order  customer  whse   date        shipping  lines                                           net    tax    total
=====  ========  =====  ==========  ========  ==============================================  =====  =====  =====
O1     ALFKI     MAIN   2026-09-30  5.00      TEA 2 × 10.00; COF 4 × 7.50 −10 %               47.00  6.70   58.70
O2     EVIL      EAST   2026-10-01  0.00      order −5 %: BRD 3 × 3.3333 −10 % (8.55, tax 0);  18.05  1.90   19.95
                                              TEA 1 × 10.00 (9.50, tax 1.90)
O3     ALFKI     EAST   2026-12-31  2.50      COF 10 × 7.50                                   75.00  7.50   85.00
O6     ALFKI     MAIN   2027-01-04  0.00      TEA 1 × 10.00                                   10.00  2.00   12.00
O4     ALFKI     MAIN   2026-10-05  —         draft: TEA 100 (not counted)
O5     EVIL      MAIN   2026-10-06  —         cancelled: TEA 50 (not counted)
=====  ========  =====  ==========  ========  ==============================================  =====  =====  =====

TEA and COF are in "Drinks" (tax 20 % and 10 %), BRD in "Food" (tax 0). EVIL's
name is a spreadsheet formula. Totals: 4 orders, 21 units, net 150.05, tax
18.10, shipping 7.50, total 175.65.

Stock (opening balances): TEA 10 @ 4.1234 in MAIN and 5 @ 4.1234 in EAST; COF
7 @ 2.3333 in MAIN; BRD 3 @ 1.0000 in EAST; a level of COF in EAST with nothing
on hand. Confirmed orders reserve what they can (see ``allocated`` in the tests).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from inventory.models import MovementKind, StockLevel
from inventory.services import StockLine, stock_receive
from orders import services
from tests.factories import CategoryFactory, CustomerFactory, ProductFactory, WarehouseFactory

D = Decimal
EVIL_NAME = '=HYPERLINK("http://evil.example/","Click me")'


@dataclass
class World:
    main: object
    east: object
    tea: object
    cof: object
    brd: object
    alfki: object
    evil: object
    orders: dict


def build_world(user) -> World:
    main = WarehouseFactory(code="MAIN", name="Main warehouse")
    east = WarehouseFactory(code="EAST", name="East warehouse")
    drinks, food = CategoryFactory(name="Drinks"), CategoryFactory(name="Food")
    tea = ProductFactory(sku="TEA", name="Tea", category=drinks, sale_price=D("10.0000"), tax_rate=D("20.00"))
    cof = ProductFactory(sku="COF", name="Coffee", category=drinks, sale_price=D("7.5000"), tax_rate=D("10.00"))
    brd = ProductFactory(sku="BRD", name="Bread", category=food, sale_price=D("3.3333"), tax_rate=D("0.00"))
    stock_receive(
        lines=[
            StockLine(tea.pk, main.pk, 10, D("4.1234")),
            StockLine(tea.pk, east.pk, 5, D("4.1234")),
            StockLine(cof.pk, main.pk, 7, D("2.3333")),
            StockLine(brd.pk, east.pk, 3, D("1.0000")),
        ],
        kind=MovementKind.OPENING,
        reference="OPENING",
    )
    alfki = CustomerFactory(code="ALFKI", name="Alfreds Futterkiste")
    evil = CustomerFactory(code="EVIL", name=EVIL_NAME)

    def order(customer, warehouse, day, lines, *, shipping="0.00", discount="0.00", status="confirm"):
        created = services.sales_order_create(
            customer=customer,
            warehouse=warehouse,
            user=user,
            order_date=day,
            shipping_charge=D(shipping),
            discount_percent=D(discount),
        )
        for product, quantity, line_discount in lines:
            services.sales_order_line_add(
                order=created, product=product, quantity=quantity, discount_percent=D(line_discount), user=user
            )
        if status in ("confirm", "cancel"):
            created = services.sales_order_confirm(order=created, user=user)
        if status == "cancel":
            created = services.sales_order_cancel(order=created, user=user, reason="test")
        created.refresh_from_db()
        return created

    orders = {
        "O1": order(alfki, main, dt.date(2026, 9, 30), [(tea, 2, "0"), (cof, 4, "10")], shipping="5.00"),
        "O2": order(evil, east, dt.date(2026, 10, 1), [(brd, 3, "10"), (tea, 1, "0")], discount="5"),
        "O3": order(alfki, east, dt.date(2026, 12, 31), [(cof, 10, "0")], shipping="2.50"),
        "O6": order(alfki, main, dt.date(2027, 1, 4), [(tea, 1, "0")]),
        "O4": order(alfki, main, dt.date(2026, 10, 5), [(tea, 100, "0")], status="draft"),
        "O5": order(evil, main, dt.date(2026, 10, 6), [(tea, 50, "0")], status="cancel"),
    }
    # A stock level with nothing on hand (a product once stocked there).
    StockLevel.objects.get_or_create(product=cof, warehouse=east)
    return World(main, east, tea, cof, brd, alfki, evil, orders)
