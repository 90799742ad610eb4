"""Browser security headers: Content-Security-Policy, Permissions-Policy, Referrer-Policy, COOP.

The browser tests (tests/e2e) prove that the admin works under this policy: they fail on any
violation Chromium reports. These tests pin the policy itself, in development and production mode.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from tests.backoffice.test_settings import PRODUCTION_KEY, django_env, run_python

UNFOLD_TEMPLATES = Path(__import__("unfold").__file__).parent / "templates"


def directives(response) -> dict[str, list[str]]:
    policy = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in (p.strip() for p in policy.split(";")) if part}


@pytest.fixture
def dashboard(admin_client):
    return admin_client.get(reverse("admin:index"))


def test_admin_pages_send_a_strict_content_security_policy(dashboard):
    policy = directives(dashboard)

    assert policy["default-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"]
    assert policy["form-action"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["img-src"] == ["'self'", "data:"]
    assert "'unsafe-inline'" not in policy["script-src"]
    assert "'unsafe-inline'" not in policy["style-src-elem"]


def test_the_page_nonce_is_in_the_policy_and_on_unfolds_inline_style(dashboard):
    nonce = dashboard.wsgi_request.csp_nonce
    page = dashboard.content.decode()
    policy = directives(dashboard)

    assert f"'nonce-{nonce}'" in policy["script-src"]
    assert f"'nonce-{nonce}'" in policy["style-src-elem"]
    assert f'<style id="unfold-theme-colors" nonce="{nonce}">' in page
    # allowEval off: with 'unsafe-eval' in the policy for Alpine, htmx must not evaluate attribute code too.
    assert json.loads(re.search(r"<meta name=\"htmx-config\" content='([^']*)'>", page).group(1)) == {
        "inlineStyleNonce": nonce,
        "allowEval": False,
    }


def test_each_response_gets_its_own_nonce(admin_client):
    first = admin_client.get(reverse("admin:index")).wsgi_request.csp_nonce
    second = admin_client.get(reverse("admin:index")).wsgi_request.csp_nonce

    assert first != second


def test_unfold_popup_views_may_be_framed_by_the_site_itself_only(admin_client):
    """Unfold opens the related-object popups in a same-origin iframe (X-Frame-Options: SAMEORIGIN)."""
    response = admin_client.get(reverse("admin:inventory_product_add") + "?_popup=1")

    assert response["X-Frame-Options"] == "SAMEORIGIN"
    assert directives(response)["frame-ancestors"] == ["'self'"]


def test_other_browser_headers(dashboard):
    assert "camera=()" in dashboard["Permissions-Policy"]
    assert "microphone=()" in dashboard["Permissions-Policy"]
    assert "geolocation=()" in dashboard["Permissions-Policy"]
    assert "payment=()" in dashboard["Permissions-Policy"]
    assert dashboard["Referrer-Policy"] == "same-origin"
    assert dashboard["Cross-Origin-Opener-Policy"] == "same-origin"
    assert dashboard["X-Frame-Options"] == "DENY"
    assert dashboard["X-Content-Type-Options"] == "nosniff"


def test_login_page_and_api_docs_are_covered_too(client, admin_client):
    login = client.get(reverse("admin:login"))
    docs = admin_client.get(reverse("api-docs"))

    assert "'unsafe-inline'" not in directives(login)["script-src"]
    assert "Permissions-Policy" in login
    assert "'unsafe-inline'" not in directives(docs)["script-src"]


def test_api_docs_load_their_start_up_script_from_a_url(admin_client):
    page = admin_client.get(reverse("api-docs")).content.decode()
    script = admin_client.get(reverse("api-docs") + "?script=")

    assert "<script>" not in page and "<style>" not in page
    assert '<script src="/api/docs/?script="' in page
    assert script["Content-Type"].startswith("application/javascript")
    assert b"SwaggerUIBundle" in script.content


def test_our_templates_have_no_inline_scripts_styles_or_handlers():
    """Every script and style is a static file; the few inline elements carry the request's nonce."""
    inline = re.compile(
        r"<script(?![^>]*\b(src|nonce)=)(?![^>]*type=\"application/json\")[^>]*>"
        r"|<style(?![^>]*\bnonce=)[^>]*>|\sstyle=|\son[a-z]+=|javascript:",
        re.IGNORECASE,
    )
    comment = re.compile(r"\{% comment %\}.*?\{% endcomment %\}|\{#.*?#\}", re.DOTALL)
    base = Path(settings.BASE_DIR)
    templates = [*base.glob("templates/**/*.html"), *base.glob("*/templates/**/*.html")]

    offenders = [
        f"{path.relative_to(base)}: {match.group(0)}"
        for path in templates
        if ".venv" not in path.parts
        for match in inline.finditer(comment.sub("", path.read_text()))
    ]

    assert len(templates) > 10
    assert offenders == []


def test_the_browsable_api_puts_the_nonce_on_its_code_style(admin_client):
    response = admin_client.get("/api/v1/", HTTP_ACCEPT="text/html")
    nonce = response.wsgi_request.csp_nonce

    assert response.status_code == 200
    assert "<style>" not in response.content.decode()
    if f'<style nonce="{nonce}">' in response.content.decode():  # only with Pygments installed
        assert f"'nonce-{nonce}'" in directives(response)["style-src-elem"]


def test_the_skeleton_override_differs_from_unfolds_only_by_the_nonces():
    """An Unfold upgrade that changes its skeleton fails here: re-copy it and re-add the two nonces."""
    ours = (Path(settings.BASE_DIR) / "templates/unfold/layouts/skeleton.html").read_text()
    ours = re.sub(r"\{% comment %\}.*?\{% endcomment %\}\n", "", ours, count=1, flags=re.DOTALL)
    ours = ours.replace(
        "        <meta name=\"htmx-config\" content='"
        '{"inlineStyleNonce": "{{ request.csp_nonce }}", "allowEval": false}\'>\n',
        "",
    )
    ours = ours.replace(' nonce="{{ request.csp_nonce }}"', "")

    assert ours == (UNFOLD_TEMPLATES / "unfold/layouts/skeleton.html").read_text()


PRODUCTION_HEADERS = """
import django; django.setup()
from django.test import Client
c = Client()
r = c.get("/admin/login/", secure=True, HTTP_HOST="backoffice.example.com")
print(r.status_code)
for name in ("Content-Security-Policy", "Permissions-Policy", "Referrer-Policy", "Cross-Origin-Opener-Policy"):
    print(name + ": " + r.headers.get(name, "MISSING"))
"""


def test_production_mode_sends_the_same_headers(tmp_path):
    env = django_env(
        tmp_path,
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY=PRODUCTION_KEY,
        DJANGO_ALLOWED_HOSTS="backoffice.example.com",
        DJANGO_MANIFEST_STATIC="false",  # no collectstatic here; the headers do not depend on it
    )
    migrate = run_python(env, "manage.py", "migrate", "--noinput")
    assert migrate.returncode == 0, migrate.stderr

    result = run_python(env, "-c", PRODUCTION_HEADERS)

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    headers = dict(line.split(": ", 1) for line in lines[1:])
    assert lines[0] == "200"
    assert "MISSING" not in headers.values(), headers
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert "'unsafe-inline'" not in headers["Content-Security-Policy"].split("script-src")[1].split(";")[0]
    assert "camera=()" in headers["Permissions-Policy"]
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
