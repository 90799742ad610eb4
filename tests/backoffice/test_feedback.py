"""Staff feedback: any staff user sends it from any admin page; admins triage it and get an e-mail."""

from __future__ import annotations

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from backoffice.models import Feedback

SEND = reverse("admin:backoffice_feedback_send")
CHANGELIST = reverse("admin:backoffice_feedback_changelist")
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 64
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) Chrome/140.0"


@pytest.fixture(autouse=True)
def admins(settings):
    settings.ADMINS = [("Ops", "ops@example.com")]


@pytest.fixture
def sales_client(client, make_user):
    client.force_login(make_user("Sales"))
    return client


def send(client, *, message="The stock tab is slow", next="/admin/inventory/product/?q=chai", **extra):
    data = {"message": message, "next": next, **extra}
    return client.post(SEND, data, HTTP_USER_AGENT=BROWSER)


def test_every_admin_page_links_to_the_feedback_form_with_the_page_it_is_on(sales_client):
    page = sales_client.get(reverse("admin:inventory_product_changelist") + "?q=tea").content.decode()

    assert f'{SEND}?next=%2Fadmin%2Finventory%2Fproduct%2F%3Fq%3Dtea"' in page


def test_the_form_shows_the_page_it_was_opened_from(sales_client):
    response = sales_client.get(SEND, {"next": "/admin/orders/salesorder/"})

    assert response.status_code == 200
    assert 'name="next" value="/admin/orders/salesorder/"' in response.content.decode()


def test_sending_feedback_records_page_user_browser_and_time(sales_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = send(sales_client)

    feedback = Feedback.objects.get()
    assert response.status_code == 302
    assert response["Location"] == "/admin/inventory/product/?q=chai"
    assert feedback.message == "The stock tab is slow"
    assert feedback.page == "/admin/inventory/product/?q=chai"
    assert feedback.user.username == "sales"
    assert feedback.user_agent == BROWSER
    assert feedback.created_at is not None
    assert feedback.status == Feedback.Status.NEW
    assert not feedback.screenshot


def test_each_new_item_is_e_mailed_to_the_admins_after_commit(sales_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        send(sales_client)

    feedback = Feedback.objects.get()
    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.to == ["ops@example.com"]
    assert f"Feedback #{feedback.pk} from sales" in email.subject
    assert "The stock tab is slow" in email.body
    assert "/admin/inventory/product/?q=chai" in email.body
    assert reverse("admin:backoffice_feedback_change", args=[feedback.pk]) in email.body


def test_no_e_mail_when_nothing_was_committed(sales_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        send(sales_client, message="")

    assert mail.outbox == []


def test_a_screenshot_is_stored_under_our_own_name_and_shown_to_admins(
    sales_client, admin_client, django_capture_on_commit_callbacks
):
    upload = SimpleUploadedFile("My Screen <1>.html", PNG, content_type="text/html")
    with django_capture_on_commit_callbacks(execute=True):
        send(sales_client, screenshot=upload)

    feedback = Feedback.objects.get()
    assert feedback.screenshot.name.startswith("feedback/")
    assert feedback.screenshot.name.endswith(".png")  # from the bytes, not the client's name
    assert "My Screen" not in feedback.screenshot.name
    assert "Screenshot: yes" in mail.outbox[0].body

    image = admin_client.get(reverse("admin:backoffice_feedback_screenshot", args=[feedback.pk]))
    assert image.status_code == 200
    assert image["Content-Type"] == "image/png"
    assert image["X-Content-Type-Options"] == "nosniff"
    assert b"".join(image.streaming_content) == PNG


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("screenshot.png", b"<html><script>alert(1)</script></html>"),  # a page renamed .png
        ("drawing.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'),
        ("report.pdf", b"%PDF-1.7\n"),
        ("empty.png", b""),
    ],
)
def test_a_file_that_is_not_an_image_is_refused_and_nothing_is_written(sales_client, tmp_path, name, content):
    response = send(sales_client, screenshot=SimpleUploadedFile(name, content, content_type="image/png"))

    assert response.status_code == 200
    page = response.content.decode()
    assert "PNG, JPEG, GIF or WebP" in page or "The submitted file is empty." in page
    assert Feedback.objects.count() == 0
    assert mail.outbox == []
    assert not (tmp_path / "media" / "feedback").exists()


def test_a_screenshot_over_the_size_limit_is_refused_with_the_limit_named(sales_client, settings, tmp_path):
    settings.FEEDBACK_SCREENSHOT_MAX_BYTES = 1024

    response = send(sales_client, screenshot=SimpleUploadedFile("big.png", PNG + b"\x00" * 2000))

    assert response.status_code == 200
    assert "the limit is 1 KB" in response.content.decode()
    assert Feedback.objects.count() == 0
    assert not (tmp_path / "media" / "feedback").exists()


@pytest.mark.parametrize(
    "next_page",
    ["https://evil.example/phish", "//evil.example/phish", "javascript:alert(1)", "http://testserver.evil/x"],
)
def test_an_off_site_next_is_neither_recorded_nor_followed(sales_client, next_page):
    response = send(sales_client, next=next_page)

    assert response.status_code == 302
    assert response["Location"] == reverse("admin:index")
    assert Feedback.objects.get().page == ""


def test_without_next_the_referring_admin_page_is_recorded(sales_client):
    form = sales_client.get(SEND, HTTP_REFERER="http://testserver/admin/orders/customer/")

    assert 'name="next" value="/admin/orders/customer/"' in form.content.decode()


def test_a_message_is_required(sales_client):
    response = send(sales_client, message="   ")

    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    assert Feedback.objects.count() == 0


def test_sending_needs_a_staff_login(client, django_user_model):
    assert send(client).status_code == 302  # to the login page
    client.force_login(django_user_model.objects.create_user("customer", password="pw-Secret-123"))
    assert send(client).status_code == 302
    assert Feedback.objects.count() == 0


@pytest.mark.parametrize("role", ["Manager", "Sales", "Purchasing", "Warehouse", "Viewer"])
def test_only_admins_see_and_triage_feedback(client, make_user, role):
    feedback = Feedback.objects.create(message="Please add a CSV export")
    client.force_login(make_user(role))

    assert send(client).status_code == 302  # every role may send
    assert client.get(CHANGELIST).status_code == 403
    assert client.get(reverse("admin:backoffice_feedback_change", args=[feedback.pk])).status_code == 403
    assert client.get(reverse("admin:backoffice_feedback_screenshot", args=[feedback.pk])).status_code == 404
    assert f'href="{CHANGELIST}"' not in client.get(reverse("admin:index")).content.decode()


def test_an_admin_lists_filters_and_changes_the_status(client, make_user):
    client.force_login(make_user("Admin"))
    new = Feedback.objects.create(message="Slow stock tab", page="/admin/inventory/product/")
    Feedback.objects.create(message="Done already", status=Feedback.Status.DONE)

    assert f'href="{CHANGELIST}"' in client.get(reverse("admin:index")).content.decode()
    listing = client.get(CHANGELIST, {"status__exact": "new"}).content.decode()
    assert "Slow stock tab" in listing and "Done already" not in listing

    change = reverse("admin:backoffice_feedback_change", args=[new.pk])
    response = client.post(change, {"status": "planned", "message": "tampered"})

    assert response.status_code == 302
    new.refresh_from_db()
    assert new.status == Feedback.Status.PLANNED
    assert new.message == "Slow stock tab"  # read-only in the admin
    assert client.get(reverse("admin:backoffice_feedback_add")).status_code == 403


def test_the_service_itself_refuses_a_file_that_is_not_an_image(make_user, tmp_path):
    from django.core.exceptions import ValidationError

    from backoffice.feedback import feedback_submit

    with pytest.raises(ValidationError, match="PNG, JPEG, GIF or WebP"):
        feedback_submit(
            user=make_user("Sales"),
            message="Broken",
            page="/admin/",
            user_agent=BROWSER,
            screenshot=SimpleUploadedFile("shot.png", b"MZ\x90\x00 a Windows program"),
        )

    assert Feedback.objects.count() == 0
    assert not (tmp_path / "media" / "feedback").exists()
