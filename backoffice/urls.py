"""URLs: the admin is the product; the API serves integrations."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from backoffice import health, metrics, signin_views, welcome

admin.site.site_header = "Backoffice"
admin.site.site_title = "Backoffice"
admin.site.index_title = "Dashboard"

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("admin/two-factor/", include(signin_views.urls)),
    # The welcome e-mail's set-password link (backoffice/onboarding.py), before the admin's catch-all URLs.
    path("admin/welcome/", include(welcome.urls)),
    # Report pages (reports/urls.py) before the admin's catch-all URLs.
    path("admin/report/", include("reports.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("backoffice.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start-up script from a URL, not inline (Content-Security-Policy).
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
]

# 403 inside the admin's frame, naming the role that may open the page (backoffice/denied.py).
handler403 = "backoffice.denied.permission_denied"
