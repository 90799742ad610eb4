"""Find any record from the Ctrl+K command palette (Unfold's ``COMMAND["search_callback"]``).

One search over the records people look for by name, code or number: products (SKU, barcode, name),
customers and suppliers (code, name), and the documents by number (sales and purchase orders,
shipments, receipts, stock adjustments and transfers; a shipment also by tracking number). Each hit
opens the record's page directly.

Rules:

* a kind is searched only for users with its ``view`` permission (and a registered admin); rows of
  warehouse-bound documents are narrowed by ``backoffice.scoping.scope_queryset`` — what the hit opens
  is exactly what the user may open;
* every lookup is indexed at 100,000 products: exact codes, SKUs, barcodes and numbers through their
  unique B-tree indexes; prefixes and words of names through the trigram indexes of
  ``inventory/migrations/0004`` and ``orders/migrations/0005`` (``UPPER(col) LIKE …``, which is how
  Django's ``istartswith``/``icontains`` query on PostgreSQL); names only for words of 3 characters
  or more (shorter ones cannot use a trigram index);
* at most ``PER_KIND`` rows per kind, no count: when a kind has more, a last "More …" entry opens its
  list filtered by the same words. One query per kind (products two), whatever the table sizes.

Unfold's own model search (``COMMAND["search_models"]``) stays off: it reads every row each admin's
search matches, with no limit.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import reduce
from operator import and_
from urllib.parse import urlencode

from django.contrib import admin
from django.db.models import Model, Q, QuerySet
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from backoffice.admin_bounds import bounded_search_term
from backoffice.numbering import format_document_number
from backoffice.scoping import scope_queryset

#: rows shown per kind (one more is read to know whether to offer "More …")
PER_KIND = 5
#: matches read per kind before sorting (see ``_find``)
CANDIDATES = 50
#: words shorter than this are not searched in names (a trigram index needs 3 characters)
NAME_MIN_LENGTH = 3
#: the shortest term searched at all
TERM_MIN_LENGTH = 2

_NUMBER = re.compile(r"^(?P<prefix>[A-Za-z]{2,3})?-?(?P<digits>\d{1,12})$")


@dataclass(frozen=True)
class Hit:
    """One record found: what the palette shows and where it leads."""

    title: str
    description: str
    link: str
    icon: str


@dataclass(frozen=True)
class Kind:
    """A searchable model: how to find it, how to show a hit."""

    label: str  # "app.Model"
    noun: str
    icon: str
    condition: Callable[[str, list[str]], Q | None]
    title: Callable[[Model], str] = str
    describe: Callable[[Model], str] = lambda obj: ""
    select_related: tuple[str, ...] = ()
    order_by: tuple[str, ...] = ("-pk",)
    exact: Callable[[str], Q | None] | None = None  # looked up first (products: SKU / barcode)

    @property
    def model(self) -> type[Model]:
        from django.apps import apps

        return apps.get_model(self.label)


def _variants(term: str) -> list[str]:
    """The term as typed, upper- and lower-cased (codes and SKUs are stored as entered, mostly upper)."""
    return sorted({term, term.upper(), term.lower()})


def _name_words(words: list[str], *fields: str) -> Q | None:
    """Every word of ``NAME_MIN_LENGTH`` or more in one of ``fields`` (shorter words are left out: no
    trigram index serves them); None when no word is long enough."""
    long_words = [word for word in words if len(word) >= NAME_MIN_LENGTH]
    if not long_words:
        return None
    return reduce(and_, (reduce(lambda a, b: a | b, (Q(**{f"{f}__icontains": w}) for f in fields)) for w in long_words))


def _any(*conditions: Q | None) -> Q | None:
    present = [condition for condition in conditions if condition is not None]
    return reduce(lambda a, b: a | b, present) if present else None


def document_numbers(term: str, prefix: str) -> list[str]:
    """Whole numbers ``term`` may mean for documents numbered ``<prefix>-000123``: "SO-000123",
    "so-123", "SO123" and "123" all mean SO-000123 (a bare number means that number of every kind)."""
    match = _NUMBER.match(term.strip())
    if not match:
        return []
    typed = (match["prefix"] or "").upper()
    if typed and typed != prefix:
        return []
    digits = match["digits"]
    return sorted({format_document_number(prefix, int(digits)), f"{prefix}-{digits}"})


def _number_condition(prefix: str, extra: Callable[[str], Q | None] | None = None):
    def condition(term: str, words: list[str]) -> Q | None:
        numbers = document_numbers(term, prefix)
        exact = Q(number__in=numbers) if numbers else None
        # A partly typed number ("SO-0001…"): a prefix of the upper-cased number (trigram index).
        partial = Q(number__istartswith=term) if term.upper().startswith(f"{prefix}-") and len(words) == 1 else None
        return _any(exact, partial, extra(term) if extra else None)

    return condition


def _product_exact(term: str) -> Q | None:
    return Q(sku__in=_variants(term)) | Q(barcode__in=_variants(term))


def _product_condition(term: str, words: list[str]) -> Q | None:
    return _any(
        Q(sku__istartswith=term) if len(words) == 1 else None,
        _name_words(words, "name"),
    )


def _party_condition(term: str, words: list[str]) -> Q | None:
    return _any(
        Q(code__in=_variants(term)) if len(words) == 1 else None,
        Q(code__istartswith=term) if len(words) == 1 else None,
        _name_words(words, "name"),
    )


def _product_description(product) -> str:
    parts = [_("Product")]
    if product.category_id:
        parts.append(str(product.category))
    if product.barcode:
        parts.append(_("barcode %(barcode)s") % {"barcode": product.barcode})
    if not product.is_active:
        parts.append(_("inactive"))
    return " · ".join(parts)


def _party_description(noun: str):
    def describe(party) -> str:
        parts = [str(noun), party.code]
        if not party.is_active:
            parts.append(_("inactive"))
        return " · ".join(parts)

    return describe


def _status(obj) -> str:
    return obj.get_status_display()


KINDS: tuple[Kind, ...] = (
    Kind(
        "inventory.Product",
        gettext_lazy("Products"),
        "inventory_2",
        _product_condition,
        title=lambda p: f"{p.sku} · {p.name}",
        describe=_product_description,
        select_related=("category",),
        order_by=("name", "sku"),
        exact=_product_exact,
    ),
    Kind(
        "orders.Customer",
        gettext_lazy("Customers"),
        "groups",
        _party_condition,
        title=lambda c: c.name,
        describe=_party_description(gettext_lazy("Customer")),
        order_by=("name", "pk"),
    ),
    Kind(
        "inventory.Supplier",
        gettext_lazy("Suppliers"),
        "factory",
        _party_condition,
        title=lambda s: s.name,
        describe=_party_description(gettext_lazy("Supplier")),
        order_by=("name", "pk"),
    ),
    Kind(
        "orders.SalesOrder",
        gettext_lazy("Sales orders"),
        "shopping_cart",
        _number_condition("SO"),
        describe=lambda o: " · ".join([_("Sales order"), o.customer.name, _status(o), o.warehouse.code]),
        select_related=("customer", "warehouse"),
    ),
    Kind(
        "orders.PurchaseOrder",
        gettext_lazy("Purchase orders"),
        "shopping_bag",
        _number_condition("PO"),
        describe=lambda o: " · ".join([_("Purchase order"), o.supplier.name, _status(o), o.warehouse.code]),
        select_related=("supplier", "warehouse"),
    ),
    Kind(
        "orders.Shipment",
        gettext_lazy("Shipments"),
        "local_shipping",
        _number_condition("SH", lambda term: Q(tracking_number__in=_variants(term)) if " " not in term else None),
        describe=lambda s: " · ".join(
            [_("Shipment"), s.sales_order.number, s.sales_order.customer.name, _status(s)]
            + ([_("tracking %(number)s") % {"number": s.tracking_number}] if s.tracking_number else [])
        ),
        select_related=("sales_order__customer",),
    ),
    Kind(
        "orders.Receipt",
        gettext_lazy("Receipts"),
        "inventory",
        _number_condition("RC"),
        describe=lambda r: " · ".join([_("Receipt"), r.purchase_order.number, r.purchase_order.supplier.name]),
        select_related=("purchase_order__supplier",),
    ),
    Kind(
        "inventory.StockAdjustment",
        gettext_lazy("Stock adjustments"),
        "rule",
        _number_condition("ADJ"),
        describe=lambda a: " · ".join([_("Stock adjustment"), a.warehouse.code, _status(a)]),
        select_related=("warehouse",),
    ),
    Kind(
        "inventory.StockTransfer",
        gettext_lazy("Stock transfers"),
        "swap_horiz",
        _number_condition("TR"),
        describe=lambda t: " · ".join(
            [_("Stock transfer"), f"{t.from_warehouse.code} → {t.to_warehouse.code}", _status(t)]
        ),
        select_related=("from_warehouse", "to_warehouse"),
    ),
)


def searchable_kinds(user) -> list[Kind]:
    """The kinds ``user`` may open: a registered admin and the model's view permission."""
    kinds = []
    for kind in KINDS:
        model = kind.model
        opts = model._meta
        if admin.site.is_registered(model) and user.has_perm(f"{opts.app_label}.view_{opts.model_name}"):
            kinds.append(kind)
    return kinds


def _visible(user, kind: Kind) -> QuerySet:
    queryset = kind.model._default_manager.all()
    if kind.select_related:
        queryset = queryset.select_related(*kind.select_related)
    return scope_queryset(user, queryset)


def _change_url(obj) -> str:
    opts = obj._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=(obj.pk,))


def _more_url(kind: Kind, term: str) -> str:
    opts = kind.model._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist") + "?" + urlencode({"q": term})


def _sorted(rows: list[Model], order_by: tuple[str, ...]) -> list[Model]:
    """``rows`` in the kind's order, sorted here (stable sorts, last key first)."""
    for name in reversed(order_by):
        attribute = name.lstrip("-")
        rows = sorted(rows, key=lambda row: getattr(row, attribute), reverse=name.startswith("-"))
    return rows


def _find(user, kind: Kind, term: str, words: list[str]) -> tuple[list[Model], bool]:
    """Up to ``PER_KIND`` visible rows of ``kind`` matching, exact matches first; True when there are more.

    The matches are read unordered, at most ``CANDIDATES`` of them, and sorted here: with an ORDER BY
    the planner may walk a whole sort index filtering every row (a whole SKU typed at 100,000 products
    took 250 ms that way) where the trigram or unique index finds the few matches at once.
    """
    found: list[Model] = []
    if kind.exact is not None and len(words) == 1 and (exact := kind.exact(term)) is not None:
        found = _sorted(list(_visible(user, kind).filter(exact).order_by()[:PER_KIND]), kind.order_by)
    condition = kind.condition(term, words)
    if condition is None:
        return found, False
    rest = _visible(user, kind).filter(condition).order_by()
    if found:
        rest = rest.exclude(pk__in=[obj.pk for obj in found])
    wanted = PER_KIND - len(found)
    candidates = _sorted(list(rest[:CANDIDATES]), kind.order_by)
    return found + candidates[:wanted], len(candidates) > wanted


def search_records(user, term: str) -> list[Hit]:
    """The records ``user`` may open that ``term`` names, grouped by kind (products first)."""
    term, _cut = bounded_search_term(" ".join((term or "").split()))
    words = term.split()
    if len(term) < TERM_MIN_LENGTH or not user.is_active or not user.is_staff:
        return []
    hits: list[Hit] = []
    for kind in searchable_kinds(user):
        rows, more = _find(user, kind, term, words)
        for obj in rows:
            hits.append(Hit(kind.title(obj), kind.describe(obj), _change_url(obj), kind.icon))
        if more:
            hits.append(
                Hit(
                    _("More %(kind)s matching “%(term)s”") % {"kind": str(kind.noun).lower(), "term": term},
                    _("Open the list of %(kind)s filtered by this search") % {"kind": str(kind.noun).lower()},
                    _more_url(kind, term),
                    "search",
                )
            )
    return hits


def command_search(request, search_term: str):
    """Unfold's ``COMMAND["search_callback"]``: the hits as Unfold ``SearchResult`` rows."""
    from unfold.dataclasses import SearchResult

    return [
        SearchResult(title=hit.title, description=hit.description, link=hit.link, icon=hit.icon)
        for hit in search_records(request.user, search_term)
    ]


# ---------------------------------------------------------------------------
# Document numbers → pages (the stock ledger's references)

#: number prefix → the document kind it numbers (``backoffice.numbering``)
NUMBER_PREFIXES = {
    "SO": "orders.SalesOrder",
    "PO": "orders.PurchaseOrder",
    "SH": "orders.Shipment",
    "RC": "orders.Receipt",
    "ADJ": "inventory.StockAdjustment",
    "TR": "inventory.StockTransfer",
}


def document_links(user, references) -> dict[str, str]:
    """``{reference: change page}`` for the references that are numbers of documents ``user`` may open.

    One query per kind of document among the references (at most six), whatever their number: a
    ledger page of 100 entries links its references without a query per row. A number the user may
    not open (permission, warehouse scope) or that names nothing stays without a link.
    """
    by_kind: dict[str, set[str]] = {}
    for reference in references:
        prefix = (reference or "").split("-", 1)[0]
        if prefix in NUMBER_PREFIXES and "-" in reference:
            by_kind.setdefault(NUMBER_PREFIXES[prefix], set()).add(reference)
    links: dict[str, str] = {}
    if not by_kind:
        return links
    from django.apps import apps

    for label, numbers in by_kind.items():
        model = apps.get_model(label)
        opts = model._meta
        if not (admin.site.is_registered(model) and user.has_perm(f"{opts.app_label}.view_{opts.model_name}")):
            continue
        rows = scope_queryset(user, model._default_manager.filter(number__in=numbers)).values_list("number", "pk")
        for number, pk in rows:
            links[number] = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=(pk,))
    return links
