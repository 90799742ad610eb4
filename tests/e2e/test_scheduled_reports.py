"""Scheduled reports in a real browser: create one in the admin, press Send now, see the run sent."""

from django.core import mail
from playwright.sync_api import expect

from reports.models import ReportRun, RunStatus, ScheduledReport


def test_create_a_scheduled_report_and_send_it_now(logged_in_page, screenshot, superuser, stocked_product):
    page = logged_in_page
    page.goto("/admin/reports/scheduledreport/add/")
    page.fill("input[name=name]", "Monday stock movements")
    page.select_option("select[name=report]", value="stock-movements")
    page.fill("textarea[name=params]", '{"date_range": "last_7_days"}')
    page.select_option("select[name=format]", value="xlsx")
    page.select_option("select[name=frequency]", value="weekly")
    page.select_option("select[name=weekday]", value="0")
    page.fill("input[name=send_time]", "08:00")
    page.fill("textarea[name=recipients]", "ann@example.com")
    page.click("button[name=_continue]")
    expect(page.locator("body")).to_contain_text("was added successfully")
    expect(page.locator("body")).to_contain_text("covering")  # the next send time and its period
    screenshot("schedule-saved")
    schedule = ScheduledReport.objects.get()
    assert schedule.owner == superuser

    page.get_by_role("link", name="Send now").click()
    page.get_by_role("button", name="Send now").last.click()
    expect(page.locator("body")).to_contain_text("Sent ")
    screenshot("sent")
    run = ReportRun.objects.get()
    assert run.status == RunStatus.SENT and run.recipients == "ann@example.com"
    assert [m.to for m in mail.outbox] == [["ann@example.com"]]
    assert mail.outbox[0].attachments[0][0].endswith(".xlsx")

    page.goto(f"/admin/reports/reportrun/{run.pk}/change/")
    expect(page.locator("body")).to_contain_text("ann@example.com")
    screenshot("run")
