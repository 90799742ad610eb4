"""REST endpoints for customers, carriers, sales orders, purchase orders, receipts and shipments.

Thin: input is validated by ``orders.serializers``, every write goes through ``orders.services``
(the same functions the admin calls), so the API enforces the same rules. Rows are scoped by
warehouse (``ScopedQuerysetMixin``); workflow actions need the admin's workflow permissions
(``action_permissions``); documents carry an ``ETag`` and honour ``If-Match`` (``ETagMixin``).
"""

from __future__ import annotations

import django_filters
from django.db import transaction
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action

from backoffice.api import error_body
from backoffice.api_base import ApiViewSet, CatalogueViewSet, ETagMixin, ListMixin
from backoffice.api_filters import IsoDateTimeFilter, UpdatedSinceFilterSet
from backoffice.api_schema import ErrorSerializer, crud_schema
from inventory.filters import visible_warehouses
from orders import services
from orders.models import (
    Carrier,
    Customer,
    PurchaseOrder,
    PurchaseOrderLine,
    Receipt,
    SalesOrder,
    SalesOrderLine,
    Shipment,
)
from orders.serializers import (
    SALES_ORDER_EXAMPLE,
    ApprovalRequestInput,
    CarrierSerializer,
    ConfirmInput,
    CreditDecisionInput,
    CustomerSerializer,
    DocumentInput,
    MarkShippedInput,
    PurchaseOrderInput,
    PurchaseOrderSerializer,
    ReasonInput,
    ReceiptSerializer,
    ReceiveInput,
    SalesOrderInput,
    SalesOrderSerializer,
    ShipInput,
    ShipmentSerializer,
)

DOCUMENT = ["get", "post", "put", "patch", "head", "options"]


# Customers and carriers ---------------------------------------------------------------------------


class CustomerFilter(UpdatedSinceFilterSet):
    code = django_filters.CharFilter(lookup_expr="iexact")

    class Meta:
        model = Customer
        fields = {"is_active": ["exact"], "country": ["exact"], "tax_exempt": ["exact"]}


@extend_schema_view(**crud_schema("customer", "customers", CustomerSerializer))
class CustomerViewSet(CatalogueViewSet):
    """Customers, written through ``customer_create``/``customer_update`` (field rights on credit and VAT)."""

    queryset = Customer.objects.order_by("code")
    serializer_class = CustomerSerializer
    filterset_class = CustomerFilter
    search_fields = ["code", "name", "email", "contact_name"]
    ordering_fields = ["code", "name", "updated_at", "id"]

    def perform_create(self, serializer):
        serializer.instance = services.customer_create(user=self.request.user, **serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = services.customer_update(
            customer=serializer.instance, user=self.request.user, **serializer.validated_data
        )


class CarrierFilter(UpdatedSinceFilterSet):
    class Meta:
        model = Carrier
        fields = {"is_active": ["exact"], "name": ["exact", "icontains"]}


@extend_schema_view(**crud_schema("carrier", "carriers", CarrierSerializer))
class CarrierViewSet(CatalogueViewSet):
    queryset = Carrier.objects.order_by("name")
    serializer_class = CarrierSerializer
    filterset_class = CarrierFilter
    search_fields = ["name"]
    ordering_fields = ["name", "updated_at", "id"]


# Documents ----------------------------------------------------------------------------------------


def _status_in(queryset, name, value):
    return queryset.filter(status__in=[part.strip() for part in value.split(",") if part.strip()])


def status_filter():
    return django_filters.CharFilter(method=_status_in, help_text="One status or several, comma-separated.")


class DocumentFilter(UpdatedSinceFilterSet):
    """Sales and purchase orders: status, dates, warehouse, number, and the orders with a line of a product
    (``line_model``: the document's line model)."""

    line_model = None

    status = status_filter()
    order_date_from = django_filters.DateFilter(field_name="order_date", lookup_expr="gte")
    order_date_to = django_filters.DateFilter(field_name="order_date", lookup_expr="lte")
    warehouse = django_filters.ModelChoiceFilter(queryset=visible_warehouses)
    warehouse_code = django_filters.CharFilter(field_name="warehouse__code", lookup_expr="iexact")
    number = django_filters.CharFilter(lookup_expr="iexact")
    product = django_filters.NumberFilter(method="filter_product")
    sku = django_filters.CharFilter(method="filter_sku")

    def filter_product(self, queryset, name, value):
        return queryset.filter(pk__in=self.line_model.objects.filter(product_id=value).values("order_id"))

    def filter_sku(self, queryset, name, value):
        return queryset.filter(pk__in=self.line_model.objects.filter(product__sku__iexact=value).values("order_id"))


class SalesOrderFilter(DocumentFilter):
    line_model = SalesOrderLine
    customer_code = django_filters.CharFilter(field_name="customer__code", lookup_expr="iexact")
    backordered = django_filters.BooleanFilter(method="filter_backordered")

    class Meta:
        model = SalesOrder
        fields = ["customer", "customer_reference"]

    def filter_backordered(self, queryset, name, value):
        return queryset.filter(backordered_quantity__gt=0) if value else queryset.filter(backordered_quantity=0)


def document_schema(name: str, input_class, serializer) -> dict:
    """Summaries, input and answer of a document viewset's standard actions."""
    return {
        "list": extend_schema(summary=f"List {name}s", responses={200: serializer}),
        "retrieve": extend_schema(summary=f"Read a {name} (with its ETag)", responses={200: serializer}),
        "create": extend_schema(
            summary=f"Create a draft {name} with its lines", request=input_class, responses={201: serializer}
        ),
        "update": extend_schema(
            summary=f"Replace a draft {name}'s header and lines", request=input_class, responses={200: serializer}
        ),
        "partial_update": extend_schema(
            summary=f"Change a draft {name} (lines given = the new lines)",
            request=input_class,
            responses={200: serializer},
        ),
    }


class DocumentViewSet(
    ETagMixin,
    ListMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    ApiViewSet,
):
    """Sales and purchase orders: create with lines in one request, change header and lines while draft.

    ``input_class`` validates the body (``orders.serializers.DocumentInput``); the writes are the services
    ``<service_prefix>_create``, ``_update``, ``_line_add``, ``_line_update`` and ``_line_remove`` (the admin's),
    and ``add_lines`` (several new lines at once), all in one transaction.
    """

    input_class: type[DocumentInput]
    service_prefix = ""
    http_method_names = DOCUMENT

    def service(self, name: str):
        return getattr(services, f"{self.service_prefix}_{name}")

    def add_lines(self, order, lines, user):
        self.service("lines_add")(order=order, lines=lines, user=user)

    def validated_input(self, *args, **kwargs) -> dict:
        data = self.input_class(*args, context=self.get_serializer_context(), **kwargs)
        data.is_valid(raise_exception=True)
        return data.validated_data

    def create(self, request, *args, **kwargs):
        values = self.validated_input(data=request.data)
        party = self.input_class.PARTY
        with transaction.atomic():
            order = self.service("create")(
                **{party: values[party]},
                warehouse=values["warehouse"],
                user=request.user,
                **self.input_class.header(values),
            )
            self.add_lines(order, values["lines"], request.user)
        return self.respond_with(order, status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        order = self.get_object()
        values = self.validated_input(order, data=request.data, partial=kwargs.get("partial", False))
        with transaction.atomic():
            order = self.service("update")(order=order, user=request.user, **self.input_class.header(values))
            if "lines" in values:
                self.replace_lines(order, values["lines"], request.user)
        return self.respond_with(order)

    def replace_lines(self, order, lines, user):
        services.document_lines_replace(
            order,
            lines,
            user=user,
            line_add=self.service("line_add"),
            line_update=self.service("line_update"),
            line_remove=self.service("line_remove"),
        )


def action_errors(status_code: int, description: str, *errors: tuple[str, str, str, dict]) -> OpenApiResponse:
    """An error response of one action with its own examples (``(title, code, detail, fields)``), in the one
    error shape; the errors an action does not name are ``ApiAutoSchema``'s general ones."""
    return OpenApiResponse(
        ErrorSerializer,
        description=description,
        examples=[
            OpenApiExample(
                f"{status_code} {code}: {title}",
                value=error_body(code, detail, fields),
                response_only=True,
                status_codes=[str(status_code)],
            )
            for title, code, detail, fields in errors
        ],
    )


def order_example(name: str, **changes) -> OpenApiExample:
    return OpenApiExample(name, value={**SALES_ORDER_EXAMPLE, **changes}, response_only=True, status_codes=["200"])


_UNRESERVED_LINES = [{**line, "quantity_reserved": 0} for line in SALES_ORDER_EXAMPLE["lines"]]
_SENT = {
    "confirmed_at": None,
    "lines": _UNRESERVED_LINES,
    "approval_requested_at": "2026-01-31T10:02:00+01:00",
    "approval_request_note": "Long-standing customer; pays within 30 days.",
}
_DECIDED_AT = {"approval_decided_at": "2026-01-31T11:15:00+01:00", "updated_at": "2026-01-31T11:15:00+01:00"}
_REASON_MISSING = (
    "no reason",
    "invalid",
    "Invalid input: reason: This field is required.",
    {"reason": ["This field is required."]},
)
_NOT_AWAITING = "SO-000017 is {status}, not awaiting credit approval."


@extend_schema_view(**document_schema("sales order", SalesOrderInput, SalesOrderSerializer))
class SalesOrderViewSet(DocumentViewSet):
    """Sales orders: create with lines, change while draft (409 ``invalid_transition`` after),
    ``confirm/`` (credit check, reservation, backorders), ``cancel/``, ``ship/``; credit approval:
    ``send-for-approval/``, ``approve/``, ``reject/``."""

    queryset = (
        SalesOrder.objects.select_related("customer", "warehouse")
        .prefetch_related("lines__product", "lines__order")
        .order_by("-order_date", "-id")
    )
    serializer_class = SalesOrderSerializer
    filterset_class = SalesOrderFilter
    search_fields = ["number", "customer_reference", "customer__code", "customer__name"]
    ordering_fields = ["order_date", "required_date", "total", "status", "updated_at", "created_at", "id"]
    action_permissions = {
        "confirm": ["orders.confirm_salesorder"],
        "cancel": ["orders.confirm_salesorder"],
        "ship": ["orders.ship_shipment", "orders.add_shipment"],
        # The admin's Confirm page sends an over-limit order for approval; its Approve/Reject credit pages
        # need the approval permission (the services check it again).
        "send_for_approval": ["orders.confirm_salesorder"],
        "approve": [services.APPROVE_CREDIT_PERM],
        "reject": [services.APPROVE_CREDIT_PERM],
    }

    input_class = SalesOrderInput
    service_prefix = "sales_order"

    @extend_schema(
        summary="Confirm a draft sales order",
        description="Checks the credit limit (409 credit_limit_exceeded unless a permitted user gives "
        "credit_override_reason), reserves stock; what is short is backordered (see quantity_backordered).",
        request=ConfirmInput,
        responses={200: SalesOrderSerializer},
    )
    @action(detail=True, methods=["post"])
    def confirm(self, request, pk=None):
        order = self.get_object()
        data = ConfirmInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.sales_order_confirm(order=order, user=request.user, **data.validated_data)
        return self.respond_with(order)

    @extend_schema(
        summary="Cancel a sales order",
        description="Draft or confirmed with nothing shipped; reservations go back to stock.",
        request=ReasonInput,
        responses={200: SalesOrderSerializer},
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        order = self.get_object()
        data = ReasonInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.sales_order_cancel(order=order, user=request.user, reason=data.validated_data["reason"])
        return self.respond_with(order)

    @extend_schema(
        summary="Send a draft over its customer's credit limit for a Manager's approval",
        description="For an order that confirm/ refuses with 409 credit_limit_exceeded. The order becomes "
        "awaiting_approval: read-only, nothing reserved, until a Manager approves (it is then confirmed) or "
        "rejects it (back to draft, with the reason). The Managers are e-mailed with the optional note. Refused "
        "(400 validation_failed) for an order within the limit (confirm it) or one that could not be confirmed "
        "anyway (no lines, inactive products...).",
        request=ApprovalRequestInput,
        responses={
            200: SalesOrderSerializer,
            400: action_errors(
                400,
                "Invalid input, or the order does not need (or could not get) approval (validation_failed).",
                (
                    "within the limit",
                    "validation_failed",
                    "SO-000017 is within its customer's credit limit: confirm it directly.",
                    {},
                ),
                ("no lines", "validation_failed", "SO-000017 cannot be confirmed: it has no lines.", {}),
                (
                    "note too long",
                    "invalid",
                    "Invalid input: note: Ensure this field has no more than 2000 characters.",
                    {"note": ["Ensure this field has no more than 2000 characters."]},
                ),
            ),
            409: action_errors(
                409,
                "invalid_transition: the order is not a draft (already sent, confirmed, cancelled...).",
                (
                    "not a draft",
                    "invalid_transition",
                    "SO-000017 is awaiting approval; only a draft can be sent for approval.",
                    {},
                ),
            ),
        },
        examples=[
            OpenApiExample("Send for approval", value={"note": _SENT["approval_request_note"]}, request_only=True),
            order_example("Awaiting approval", status="awaiting_approval", **_SENT),
        ],
    )
    @action(detail=True, methods=["post"], url_path="send-for-approval", url_name="send-for-approval")
    def send_for_approval(self, request, pk=None):
        order = self.get_object()
        data = ApprovalRequestInput(data=request.data)
        data.is_valid(raise_exception=True)
        order, _check = services.sales_order_request_approval(
            order=order, user=request.user, note=data.validated_data["note"]
        )
        return self.respond_with(order)

    @extend_schema(
        summary="Approve an order awaiting credit approval (it is confirmed)",
        description="Managers (orders.approve_credit). The order is confirmed as confirm/ would (stock reserved, "
        "the rest backordered, webhook sales_order.confirmed); the reason is recorded as its credit override and "
        "the Sales user who asked is e-mailed.",
        request=CreditDecisionInput,
        responses={
            200: SalesOrderSerializer,
            400: action_errors(
                400,
                "No reason, or the order can no longer be confirmed (validation_failed).",
                _REASON_MISSING,
                (
                    "cannot be confirmed",
                    "validation_failed",
                    "SO-000017 cannot be confirmed: inactive products: CHAI.",
                    {},
                ),
            ),
            409: action_errors(
                409,
                "invalid_transition: the order is not awaiting credit approval.",
                ("not awaiting approval", "invalid_transition", _NOT_AWAITING.format(status="draft"), {}),
            ),
        },
        examples=[
            OpenApiExample("Approve", value={"reason": "Paid their last 12 invoices on time."}, request_only=True),
            order_example(
                "Approved and confirmed",
                **{**_SENT, "confirmed_at": "2026-01-31T11:15:00+01:00", "lines": SALES_ORDER_EXAMPLE["lines"]},
                **_DECIDED_AT,
                credit_override_reason="Paid their last 12 invoices on time.",
            ),
        ],
    )
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        order = self.get_object()
        data = CreditDecisionInput(data=request.data)
        data.is_valid(raise_exception=True)
        order = services.sales_order_approve_credit(
            order=order, user=request.user, reason=data.validated_data["reason"]
        )
        return self.respond_with(order)

    @extend_schema(
        summary="Reject an order awaiting credit approval (back to draft)",
        description="Managers (orders.approve_credit). The order goes back to draft with the reason "
        "(approval_rejection_reason); the Sales user who asked is e-mailed. Sales may change it and send it "
        "again, or cancel it.",
        request=CreditDecisionInput,
        responses={
            200: SalesOrderSerializer,
            400: action_errors(400, "No reason given.", _REASON_MISSING),
            409: action_errors(
                409,
                "invalid_transition: the order is not awaiting credit approval.",
                ("not awaiting approval", "invalid_transition", _NOT_AWAITING.format(status="confirmed"), {}),
            ),
        },
        examples=[
            OpenApiExample("Reject", value={"reason": "Two invoices overdue: ask for prepayment."}, request_only=True),
            order_example(
                "Rejected, back to draft",
                status="draft",
                **_SENT,
                **_DECIDED_AT,
                approval_rejection_reason="Two invoices overdue: ask for prepayment.",
            ),
        ],
    )
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        order = self.get_object()
        data = CreditDecisionInput(data=request.data)
        data.is_valid(raise_exception=True)
        order = services.sales_order_reject_credit(order=order, user=request.user, reason=data.validated_data["reason"])
        return self.respond_with(order)

    @extend_schema(
        summary="Create a shipment for a confirmed order",
        description="For the given lines and quantities, or (no lines) everything reserved and not yet on a "
        "shipment. Returns the new pending shipment.",
        request=ShipInput,
        responses={201: ShipmentSerializer},
    )
    @action(detail=True, methods=["post"])
    def ship(self, request, pk=None):
        order = self.get_object()
        data = ShipInput(data=request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        values = data.validated_data
        lines = [(line["line"], line["quantity"]) for line in values["lines"]] if "lines" in values else None
        shipment = services.shipment_create(
            sales_order=order,
            lines=lines,
            user=request.user,
            carrier=values.get("carrier"),
            tracking_number=values.get("tracking_number", ""),
        )
        return self.respond_with(
            shipment, status.HTTP_201_CREATED, serializer_class=ShipmentSerializer, queryset=ShipmentViewSet.queryset
        )


class PurchaseOrderFilter(DocumentFilter):
    line_model = PurchaseOrderLine
    supplier_code = django_filters.CharFilter(field_name="supplier__code", lookup_expr="iexact")

    class Meta:
        model = PurchaseOrder
        fields = ["supplier", "supplier_reference"]


@extend_schema_view(**document_schema("purchase order", PurchaseOrderInput, PurchaseOrderSerializer))
class PurchaseOrderViewSet(DocumentViewSet):
    """Purchase orders: create with lines, change while draft, ``send/``, ``receive/``, ``cancel/``, ``close/``."""

    queryset = (
        PurchaseOrder.objects.select_related("supplier", "warehouse")
        .prefetch_related("lines__product")
        .order_by("-order_date", "-id")
    )
    serializer_class = PurchaseOrderSerializer
    filterset_class = PurchaseOrderFilter
    search_fields = ["number", "supplier_reference", "supplier__code", "supplier__name"]
    ordering_fields = ["order_date", "expected_date", "total", "status", "updated_at", "created_at", "id"]
    action_permissions = {
        "send": ["orders.send_purchaseorder"],
        "cancel": ["orders.change_purchaseorder"],
        "close": ["orders.change_purchaseorder"],
        "receive": ["orders.receive_purchaseorder", "orders.add_receipt"],
    }

    input_class = PurchaseOrderInput
    service_prefix = "purchase_order"

    def add_lines(self, order, lines, user):
        services.purchase_order_lines_add(
            order=order,
            lines=[(line["product"], line["quantity"], line.get("unit_cost")) for line in lines],
            user=user,
        )

    @extend_schema(
        summary="Send a draft purchase order to the supplier",
        request=None,
        responses={200: PurchaseOrderSerializer},
    )
    @action(detail=True, methods=["post"])
    def send(self, request, pk=None):
        order = self.get_object()
        services.purchase_order_send(order=order, user=request.user)
        return self.respond_with(order)

    @extend_schema(
        summary="Receive goods on a sent purchase order",
        description="Per-line quantities (never more than outstanding); books receipt movements. Returns the receipt.",
        request=ReceiveInput,
        responses={201: ReceiptSerializer},
    )
    @action(detail=True, methods=["post"])
    def receive(self, request, pk=None):
        order = self.get_object()
        data = ReceiveInput(data=request.data)
        data.is_valid(raise_exception=True)
        receipt = services.receipt_create(
            purchase_order=order,
            lines=[(line["line"], line["quantity"]) for line in data.validated_data["lines"]],
            user=request.user,
            delivery_note=data.validated_data["delivery_note"],
        )
        return self.respond_with(
            receipt, status.HTTP_201_CREATED, serializer_class=ReceiptSerializer, queryset=ReceiptViewSet.queryset
        )

    @extend_schema(
        summary="Cancel a purchase order",
        request=ReasonInput,
        responses={200: PurchaseOrderSerializer},
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        order = self.get_object()
        data = ReasonInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.purchase_order_cancel(order=order, user=request.user, reason=data.validated_data["reason"])
        return self.respond_with(order)

    @extend_schema(
        summary="Close a partially received purchase order",
        request=ReasonInput,
        responses={200: PurchaseOrderSerializer},
    )
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        order = self.get_object()
        data = ReasonInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.purchase_order_close(order=order, user=request.user, reason=data.validated_data["reason"])
        return self.respond_with(order)


class ReceiptFilter(UpdatedSinceFilterSet):
    purchase_order = django_filters.NumberFilter()
    received_from = IsoDateTimeFilter(field_name="received_at", lookup_expr="gte")
    received_to = IsoDateTimeFilter(field_name="received_at", lookup_expr="lt")
    warehouse = django_filters.ModelChoiceFilter(queryset=visible_warehouses, field_name="purchase_order__warehouse")
    supplier = django_filters.NumberFilter(field_name="purchase_order__supplier")

    class Meta:
        model = Receipt
        fields = ["purchase_order", "delivery_note"]


@extend_schema_view(
    list=extend_schema(summary="List receipts", responses={200: ReceiptSerializer}),
    retrieve=extend_schema(summary="Read a receipt", responses={200: ReceiptSerializer}),
)
class ReceiptViewSet(ListMixin, mixins.RetrieveModelMixin, ApiViewSet):
    """Goods received (read-only: receive through ``purchase-orders/{id}/receive/``)."""

    queryset = (
        Receipt.objects.select_related("purchase_order")
        .prefetch_related("lines__purchase_order_line__product")
        .order_by("-received_at", "-id")
    )
    serializer_class = ReceiptSerializer
    filterset_class = ReceiptFilter
    search_fields = ["number", "delivery_note", "purchase_order__number"]
    ordering_fields = ["received_at", "updated_at", "id"]


class ShipmentFilter(UpdatedSinceFilterSet):
    status = status_filter()
    sales_order = django_filters.NumberFilter()
    customer = django_filters.NumberFilter(field_name="sales_order__customer")
    warehouse = django_filters.ModelChoiceFilter(queryset=visible_warehouses, field_name="sales_order__warehouse")
    shipped_from = IsoDateTimeFilter(field_name="shipped_at", lookup_expr="gte")
    shipped_to = IsoDateTimeFilter(field_name="shipped_at", lookup_expr="lt")

    class Meta:
        model = Shipment
        fields = ["carrier", "tracking_number"]


@extend_schema_view(
    list=extend_schema(summary="List shipments", responses={200: ShipmentSerializer}),
    retrieve=extend_schema(summary="Read a shipment", responses={200: ShipmentSerializer}),
)
class ShipmentViewSet(ETagMixin, ListMixin, mixins.RetrieveModelMixin, ApiViewSet):
    """Shipments (created by ``sales-orders/{id}/ship/``): ``pack/``, ``mark-shipped/``, ``mark-delivered/``,
    ``return/``; each needs ``orders.ship_shipment``."""

    queryset = (
        Shipment.objects.select_related("sales_order", "carrier")
        .prefetch_related("lines__sales_order_line__product")
        .order_by("-created_at", "-id")
    )
    serializer_class = ShipmentSerializer
    filterset_class = ShipmentFilter
    search_fields = ["number", "tracking_number", "sales_order__number"]
    ordering_fields = ["created_at", "shipped_at", "updated_at", "id"]
    action_permissions = {
        name: ["orders.ship_shipment", "orders.change_shipment"]
        for name in ("pack", "mark_shipped", "mark_delivered", "return_")
    }

    @extend_schema(
        summary="Pack a pending shipment",
        request=None,
        responses={200: ShipmentSerializer},
    )
    @action(detail=True, methods=["post"])
    def pack(self, request, pk=None):
        return self.respond_with(services.shipment_pack(shipment=self.get_object(), user=request.user))

    @extend_schema(
        summary="Mark a shipment shipped (issues the stock)",
        request=MarkShippedInput,
        responses={200: ShipmentSerializer},
    )
    @action(detail=True, methods=["post"], url_path="mark-shipped")
    def mark_shipped(self, request, pk=None):
        shipment = self.get_object()
        data = MarkShippedInput(data=request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        return self.respond_with(services.shipment_ship(shipment=shipment, user=request.user, **data.validated_data))

    @extend_schema(
        summary="Mark a shipped shipment delivered",
        request=None,
        responses={200: ShipmentSerializer},
    )
    @action(detail=True, methods=["post"], url_path="mark-delivered")
    def mark_delivered(self, request, pk=None):
        return self.respond_with(services.shipment_deliver(shipment=self.get_object(), user=request.user))

    @extend_schema(
        summary="Record a shipment as returned",
        request=None,
        responses={200: ShipmentSerializer},
    )
    @action(detail=True, methods=["post"], url_path="return", url_name="return")
    def return_(self, request, pk=None):
        return self.respond_with(services.shipment_return(shipment=self.get_object(), user=request.user))


def register(router) -> None:
    router.register("customers", CustomerViewSet)
    router.register("carriers", CarrierViewSet)
    router.register("sales-orders", SalesOrderViewSet)
    router.register("purchase-orders", PurchaseOrderViewSet)
    router.register("receipts", ReceiptViewSet)
    router.register("shipments", ShipmentViewSet)
