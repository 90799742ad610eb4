"""Signals other apps listen to.

``stock_increased`` is sent after the transaction that added stock commits,
with ``keys``: a sorted list of ``(product_id, warehouse_id)``. The orders app
uses it to reserve waiting backorders.
"""

from django.dispatch import Signal

stock_increased = Signal()
