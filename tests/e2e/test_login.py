"""Journey: a new user logs in and lands on the dashboard."""

from playwright.sync_api import expect


def test_login_shows_dashboard_with_live_figures(logged_in_page, screenshot):
    page = logged_in_page
    expect(page.locator("body")).to_contain_text("Backoffice")
    expect(page.locator("body")).to_contain_text("Stock value")
    screenshot("dashboard")


def test_wrong_password_is_refused_with_a_message(page, superuser):
    page.goto("/admin/login/")
    page.fill("input[name=username]", superuser.username)
    page.fill("input[name=password]", "wrong-password")
    page.click("button[type=submit]")
    expect(page.locator("body")).to_contain_text("Please enter the correct username and password")
    assert "/admin/login/" in page.url
