"""Browser tests: Playwright driving the system Chromium against pytest-django's live server.

Screenshots of each journey's end state go to ``test-artifacts/`` (override with
``TEST_ARTIFACTS_DIR``).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS_DIR", Path(__file__).resolve().parents[2] / "test-artifacts"))
PASSWORD = "pw-Secret-123"


def chromium_path() -> str | None:
    return (
        os.environ.get("CHROMIUM_PATH")
        or shutil.which("chromium")
        or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    )


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "tests/e2e/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.e2e)
            # One xdist worker runs every browser test: they share a Chromium.
            item.add_marker(pytest.mark.xdist_group("browser"))


@pytest.fixture(scope="session")
def browser():
    path = chromium_path()
    if path is None:
        pytest.fail("Chromium not found: install Debian's chromium (make test does) or set CHROMIUM_PATH.")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=path,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()


# Chromium logs every Content-Security-Policy violation on the console ("Refused to execute inline
# script because it violates the following Content Security Policy directive..."); the init script
# also logs each `securitypolicyviolation` event (directive and blocked URL) in every page and frame.
CSP_CONSOLE_MESSAGE = re.compile(r"Content Security Policy|Refused to (execute|apply|load|evaluate|frame)", re.I)
REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
    const where = `${event.sourceFile || event.documentURI}:${event.lineNumber}`;
    const what = event.blockedURI || "inline code";
    console.error(`Content Security Policy violation: ${event.effectiveDirective} blocked ${what} at ${where}`);
});
"""


def watch_csp_violations(context) -> list[str]:
    """The list every CSP violation in any page or frame of ``context`` is appended to."""
    violations: list[str] = []
    context.add_init_script(REPORT_CSP_VIOLATIONS)
    context.on(
        "console",
        lambda message: (
            violations.append(f"{message.location.get('url', '')}: {message.text}")
            if CSP_CONSOLE_MESSAGE.search(message.text)
            else None
        ),
    )
    return violations


@pytest.fixture
def page(browser, live_server):
    """A page in its own browser context; the test fails if any page of it reports a CSP violation."""
    context = browser.new_context(viewport={"width": 1400, "height": 900}, base_url=live_server.url)
    context.set_default_timeout(15_000)
    violations = watch_csp_violations(context)
    page = context.new_page()
    yield page
    context.close()
    if violations:
        pytest.fail("Content-Security-Policy violations reported by Chromium:\n" + "\n".join(violations), pytrace=False)


@pytest.fixture
def screenshot(page, request):
    """screenshot("name") saves test-artifacts/<test>-<name>.png and returns the path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def take(name: str) -> Path:
        path = ARTIFACTS / f"{request.node.name}-{name}.png"
        # Stretch the viewport to the whole page: a plain full-page capture leaves Unfold's
        # sticky save bar where the viewport ended, painted over the middle of long forms.
        viewport = page.viewport_size
        page.set_viewport_size({**viewport, "height": page.evaluate("document.documentElement.scrollHeight")})
        try:
            page.screenshot(path=str(path), full_page=True)
        finally:
            page.set_viewport_size(viewport)
        return path

    return take


@pytest.fixture
def superuser(transactional_db, django_user_model):
    from backoffice.roles import roles_setup

    roles_setup()
    return django_user_model.objects.create_superuser("admin", "admin@example.com", PASSWORD)


@pytest.fixture
def logged_in_page(page, superuser):
    """A page logged in through the real Unfold login form."""
    page.goto("/admin/login/")
    page.fill("input[name=username]", superuser.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/admin/")
    return page
