"""The admin works under the Content-Security-Policy, and the violation check of conftest.py works.

Every browser test fails on a CSP violation (the ``page`` fixture); this file visits the pages
the journeys do not (API docs, related-object popup, history, feedback) and proves the check
itself catches violations.
"""

from __future__ import annotations

from tests.e2e.conftest import watch_csp_violations


def test_the_violation_check_catches_inline_code(browser, live_server, superuser):
    context = browser.new_context(base_url=live_server.url)
    violations = watch_csp_violations(context)
    page = context.new_page()
    page.goto("/admin/login/")

    # What an injected <script>, style element or onclick attribute would do:
    page.evaluate(
        """() => {
            const script = document.createElement("script");
            script.textContent = "window.injected = true";
            document.body.append(script);
            const style = document.createElement("style");
            style.textContent = "body { display: none }";
            document.head.append(style);
            document.body.insertAdjacentHTML("beforeend", '<img src="x:" onerror="window.injected = true">');
        }"""
    )
    page.wait_for_timeout(300)

    assert page.evaluate("window.injected") is None
    assert page.locator("body").is_visible()
    assert any("script-src" in violation for violation in violations), violations
    assert any("style-src-elem" in violation for violation in violations), violations
    context.close()


def test_alpine_and_htmx_work_on_the_dashboard(logged_in_page):
    page = logged_in_page

    # Alpine (x-data / x-on) opens the user menu; with its expressions blocked nothing would happen.
    page.locator("[x-on\\:click*='openUserLinks']").click()
    page.get_by_role("link", name="Change password").wait_for(state="visible")
    # The theme colours (an inline <style> with the nonce) are applied: the primary colour is set.
    primary = page.evaluate("getComputedStyle(document.documentElement).getPropertyValue('--color-primary-600')")
    assert primary.strip()


def test_related_object_popup_opens_in_the_same_origin_frame(logged_in_page):
    page = logged_in_page
    page.goto("/admin/inventory/product/add/")

    page.locator("[x-ref=relatedWidgetWrappercategory]").click()  # Alpine menu
    page.locator("#add_id_category").click()
    frame = page.frame_locator("iframe.related-modal-frame")
    frame.locator("input[name=name]").wait_for(state="visible")


def test_history_and_api_docs_render_without_inline_code(logged_in_page, stocked_product):
    page = logged_in_page
    page.goto(f"/admin/inventory/product/{stocked_product.pk}/history/")
    page.locator("#change-history").wait_for()

    page.goto("/api/docs/")
    page.locator(".swagger-ui .info .title").wait_for()
    assert "Backoffice API" in page.locator(".swagger-ui .info .title").inner_text()


def test_send_feedback_with_a_screenshot_from_the_page_you_are_on(logged_in_page, screenshot, tmp_path):
    from backoffice.models import Feedback

    page = logged_in_page
    page.goto("/admin/inventory/product/")
    page.get_by_role("link", name="Send feedback").click()
    page.wait_for_url("**/feedback/send/**")
    image = tmp_path / "screen.png"
    page.screenshot(path=str(image))

    page.fill("textarea[name=message]", "The product list needs a stock column")
    page.set_input_files("input[name=screenshot]", str(image))
    page.get_by_role("button", name="Send feedback").click()

    page.wait_for_url("**/admin/inventory/product/")
    page.get_by_text("Thank you: your feedback was sent").wait_for()
    feedback = Feedback.objects.get()
    assert feedback.page == "/admin/inventory/product/"
    assert feedback.screenshot.name.endswith(".png")

    page.goto(f"/admin/backoffice/feedback/{feedback.pk}/change/")
    page.locator("img[alt=Screenshot]").wait_for()
    assert page.evaluate("document.querySelector('img[alt=Screenshot]').naturalWidth") > 0
    screenshot("triage")
