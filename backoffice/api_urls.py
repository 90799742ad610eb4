"""The /api/v1/ root: one router collecting every app's viewsets; anything else is a JSON 404."""

from django.urls import path, re_path
from rest_framework.routers import DefaultRouter

from backoffice.api import api_not_found
from backoffice.api_reports import ReportViewSet
from inventory.api import register as register_inventory
from orders.api import register as register_orders

router = DefaultRouter()
register_inventory(router)
register_orders(router)

# Reports are not model resources (no row per report): mounted beside the router.
report_urls = [
    path("reports/", ReportViewSet.as_view({"get": "list"}), name="report-list"),
    path("reports/<slug:name>/", ReportViewSet.as_view({"get": "retrieve"}), name="report-detail"),
]

urlpatterns = [*router.urls, *report_urls, re_path(r"^.*$", api_not_found)]
