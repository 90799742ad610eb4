"""Report pages, mounted at ``/admin/report/`` (``backoffice/urls.py``, before the admin's own URLs).

Names (namespace ``reports``): ``list``, ``detail`` (args: the report's name) and
whatever each report's ``Report.urls()`` adds (e.g. the reorder report's
"Create draft purchase orders"). Every view is wrapped in
``admin.site.admin_view``: staff only, CSRF-protected, never cached.
"""

from __future__ import annotations

from django.contrib import admin
from django.urls import URLPattern, URLResolver, path

from reports import views
from reports.registry import all_reports

app_name = "reports"


def _in_admin(pattern):
    """``pattern`` with its view behind the admin's login (an ``include()`` is mounted as it is: its views
    must check for themselves)."""
    if isinstance(pattern, URLResolver):
        return pattern
    return URLPattern(pattern.pattern, admin.site.admin_view(pattern.callback), pattern.default_args, pattern.name)


def _report_urls() -> list:
    return [_in_admin(pattern) for report in all_reports() for pattern in report.urls()]


urlpatterns = [
    path("", admin.site.admin_view(views.report_list), name="list"),
    *_report_urls(),
    path("<slug:name>/", admin.site.admin_view(views.report_detail), name="detail"),
]
