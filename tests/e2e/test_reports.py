"""Reports in a real browser: open a report from the Reports list, filter it, see the chart drawn,
export XLSX and read the downloaded file back."""

from __future__ import annotations

import re

from openpyxl import load_workbook
from playwright.sync_api import expect

from tests.reports.report_data import build_world


def test_open_filter_chart_and_export_a_report(logged_in_page, screenshot, superuser, tmp_path):
    build_world(superuser)
    page = logged_in_page

    screenshot("dashboard")
    page.locator("#nav-sidebar-apps h2", has_text="Reports").click()  # open the collapsed sidebar group
    page.get_by_role("link", name="All reports").first.click()
    expect(page).to_have_url(re.compile(r"/admin/report/$"))
    expect(page.locator("[data-testid=report-list]")).to_contain_text("Stock valuation")
    screenshot("list")

    page.locator("a.report-card", has_text="Sales summary").click()
    expect(page.locator("h1, h2").filter(has_text="Sales summary").first).to_be_visible()
    page.select_option("select[name=group_by]", "quarter")
    page.fill("input[name=date_from]", "2026-01-01")
    page.fill("input[name=date_to]", "2026-12-31")
    page.get_by_role("button", name="Run report").click()
    expect(page).to_have_url(re.compile(r"group_by=quarter"))

    rows = page.locator("#report-table tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("2026-Q3")
    expect(rows.nth(1)).to_contain_text("104.95")
    expect(page.locator("#totals-row")).to_contain_text("163.65")

    canvas = page.locator("canvas.chart")
    expect(canvas).to_be_visible()
    drawn = page.evaluate(
        """() => {
            const canvas = document.querySelector("canvas.chart");
            const chart = window.Chart && Chart.getChart(canvas);
            return chart ? {type: chart.config.type, labels: chart.data.labels, height: canvas.height} : null;
        }"""
    )
    assert drawn is not None and drawn["type"] == "line"
    assert drawn["labels"] == ["2026-Q3", "2026-Q4"] and drawn["height"] > 0
    screenshot("sales-by-quarter")

    with page.expect_download() as download_info:
        page.locator("a[data-export=xlsx]").click()
    download = download_info.value
    assert download.suggested_filename == "sales-summary_2026.xlsx"
    target = tmp_path / download.suggested_filename
    download.save_as(target)
    rows = list(load_workbook(target).active.iter_rows(values_only=True))
    assert rows[0][:4] == ("period", "orders", "units", "net_amount")
    assert rows[1:] == [
        ("2026-Q3", 1, 6, 47, 6.7, 5, 58.7),
        ("2026-Q4", 2, 14, 93.05, 9.4, 2.5, 104.95),
        ("Total", 3, 20, 140.05, 16.1, 7.5, 163.65),
    ]

    page.goto("/admin/report/stock-valuation/")
    expect(page.locator("#totals-row")).to_contain_text("81.18")  # 10 × 4.1234 + 5 × 4.1234 + 7 × 2.3333 + 3 × 1
    assert page.evaluate("() => Chart.getChart(document.querySelector('canvas.chart')).config.type") == "bar"
    screenshot("stock-valuation")
