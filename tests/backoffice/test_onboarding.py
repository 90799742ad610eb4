"""Onboarding (issue 10 §6): the user page with role and warehouses, the welcome e-mail and its set-password link,
and the 403 page naming the role that may open a page."""

from __future__ import annotations

import html
import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.urls import reverse
from django_q.conf import Conf

from backoffice.denied import roles_with
from backoffice.errors import ValidationFailed
from backoffice.onboarding import user_onboard
from tests.factories import WarehouseFactory

pytestmark = pytest.mark.django_db
User = get_user_model()


@pytest.fixture(autouse=True)
def sync_tasks(monkeypatch):
    monkeypatch.setattr(Conf, "SYNC", True)


def text(response) -> str:
    return " ".join(html.unescape(response.content.decode()).split())


def link_in(message) -> str:
    return re.search(r"https?://\S+/admin/welcome/\S+/", message.body).group(0)


def test_admin_adds_a_warehouse_colleague_on_one_page_and_a_welcome_email_goes_out(
    client, make_user, warehouse, django_capture_on_commit_callbacks
):
    WarehouseFactory(code="OTHER")
    client.force_login(make_user("Admin", username="ada"))
    page = client.get(reverse("admin:auth_user_add"))
    body = text(page)
    for role in ("Sales", "Purchasing", "Warehouse", "Manager", "Viewer", "Admin"):
        assert f'value="{role}"' in page.content.decode()
    assert 'name="warehouses"' in page.content.decode() and "Can log in" in body
    assert 'name="password1"' not in page.content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:auth_user_add"),
            {
                "username": "wendy",
                "first_name": "Wendy",
                "last_name": "Stock",
                "email": "wendy@example.com",
                "role": "Warehouse",
                "warehouses": [warehouse.pk],
                "is_staff": "on",
                "_save": "Save",
            },
            follow=True,
        )
    assert "A welcome e-mail with a link to choose a password goes to wendy@example.com" in text(response)
    wendy = User.objects.get(username="wendy")
    assert wendy.is_staff and not wendy.has_usable_password()
    assert list(wendy.groups.values_list("name", flat=True)) == ["Warehouse"]
    assert list(wendy.warehouses.values_list("code", flat=True)) == ["MAIN"]
    [message] = mail.outbox
    assert message.to == ["wendy@example.com"]
    assert "Username: wendy" in message.body and "Warehouse" in message.body and "MAIN" in message.body


def test_the_welcome_link_sets_the_password_once_on_a_styled_page(
    client, roles, warehouse, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        user_onboard(username="sam", email="sam@example.com", role="Sales")
    link = link_in(mail.outbox[0])
    path = link.split("://", 1)[1].split("/", 1)[1]
    page = client.get("/" + path, follow=True)
    assert page.status_code == 200
    assert "Choose your password" in text(page) and "sam" in text(page)
    form_url = page.redirect_chain[-1][0] if page.redirect_chain else "/" + path
    done = client.post(
        form_url, {"new_password1": "Tea-and-biscuits-42", "new_password2": "Tea-and-biscuits-42"}, follow=True
    )
    assert "Your password is saved" in text(done)
    sam = User.objects.get(username="sam")
    assert sam.check_password("Tea-and-biscuits-42") and sam.is_staff
    again = client.get("/" + path, follow=True)
    assert "used already or has expired" in text(again)


def test_a_role_switches_can_log_in_on_and_warehouse_users_need_a_warehouse(roles, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        viewer = user_onboard(username="vic", email="vic@example.com", role="Viewer")
    assert viewer.is_staff
    with pytest.raises(ValidationFailed, match="at least one warehouse"):
        user_onboard(username="walt", email="walt@example.com", role="Warehouse")
    with pytest.raises(ValidationFailed, match="e-mail address is required"):
        user_onboard(username="nomail", email="", role="Sales")
    assert not User.objects.filter(username__in=["walt", "nomail"]).exists()


def test_changing_the_role_and_warehouses_on_the_user_page(client, make_user, warehouse):
    other = WarehouseFactory(code="OTHER")
    colleague = make_user("Sales", username="sally")
    client.force_login(make_user("Admin", username="ada"))
    url = reverse("admin:auth_user_change", args=[colleague.pk])
    page = client.get(url)
    assert re.search(r'value="Sales"[^>]*checked|checked[^>]*value="Sales"', page.content.decode())
    response = client.post(
        url,
        {
            "username": "sally",
            "first_name": "Sally",
            "last_name": "",
            "email": "sally@example.com",
            "role": "Warehouse",
            "warehouses": [other.pk],
            "is_staff": "on",
            "is_active": "on",
            "_save": "Save",
        },
    )
    assert response.status_code == 302
    colleague.refresh_from_db()
    assert list(colleague.groups.values_list("name", flat=True)) == ["Warehouse"]
    assert list(colleague.warehouses.values_list("code", flat=True)) == ["OTHER"]


def test_managers_may_not_manage_users(client, make_user):
    client.force_login(make_user("Manager", username="maggie"))
    assert client.get(reverse("admin:auth_user_add")).status_code == 403


# 403 page ------------------------------------------------------------------------------------------


def test_403_page_is_inside_the_admin_names_the_role_and_offers_a_way_back(client, make_user):
    client.force_login(make_user("Sales", username="sally"))
    response = client.get(
        reverse("admin:orders_purchaseorder_changelist"), headers={"Referer": "http://testserver/admin/"}
    )
    assert response.status_code == 403
    body = text(response)
    assert "Not allowed" in body
    assert "Roles that may: Purchasing, Warehouse, Manager, Viewer, Admin" in body
    assert 'href="http://testserver/admin/"' in response.content.decode() and "Go back" in body
    assert "Back to the dashboard" in body
    assert 'id="nav-sidebar' in response.content.decode() or "sidebar" in response.content.decode()


def test_roles_with_a_workflow_permission():
    assert roles_with("orders.approve_credit") == ["Manager", "Admin"]
    assert roles_with("auth.add_user") == ["Admin"]
