"""Onboarding (issue 10 §6): one page to create a colleague with a role and warehouses; a welcome e-mail with a
link to choose a password (Django's password-reset tokens: valid once, for ``PASSWORD_RESET_TIMEOUT``).

``user_onboard`` / ``user_set_access`` are the services the user admin calls; ``welcome_link`` builds the link,
served by ``backoffice.denied``'s neighbour views in ``backoffice/welcome.py``.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.tokens import default_token_generator
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from backoffice.errors import ValidationFailed
from backoffice.mail import send_email_later
from backoffice.roles import ADMIN, MANAGER, PURCHASING, SALES, VIEWER, WAREHOUSE

#: the six roles of DESIGN.md section 1, in the order the role picker shows them
ROLES = (SALES, PURCHASING, WAREHOUSE, MANAGER, VIEWER, ADMIN)
ROLE_HELP = {
    SALES: "customers, sales orders, shipments",
    PURCHASING: "suppliers, purchase orders, reordering",
    WAREHOUSE: "receive, pick, pack, ship, count — in their warehouses only",
    MANAGER: "approves orders and credit, adjusts stock, all reports",
    VIEWER: "reads and downloads reports, changes nothing",
    ADMIN: "everything, including users and roles",
}


def welcome_link(user) -> str:
    """The absolute set-password link of ``user`` (invalid once a password is set)."""
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    return f"{settings.SITE_URL}{reverse('welcome_set_password', args=[uid, token])}"


def send_welcome_email(user, *, invited_by=None) -> None:
    """Queue the welcome e-mail (after the commit): the username, the role and the set-password link."""
    if not user.email:
        raise ValidationFailed(f"{user.username} has no e-mail address: the welcome e-mail cannot be sent.")
    role = user_role(user)
    text = render_to_string(
        "registration/welcome_email.txt",
        {
            "user": user,
            "role": role,
            "role_help": ROLE_HELP.get(role, ""),
            "warehouses": list(user.warehouses.order_by("code")),
            "link": welcome_link(user),
            "login_url": f"{settings.SITE_URL}{reverse('admin:login')}",
            "invited_by": invited_by,
            "days": settings.PASSWORD_RESET_TIMEOUT // 86400,
        },
    )
    send_email_later("Welcome to the back office: choose your password", [user.email], text)


def user_role(user) -> str:
    """The user's role (the first of ``ROLES`` among its groups), or ""."""
    names = set(user.groups.values_list("name", flat=True)) if user.pk else set()
    return next((role for role in ROLES if role in names), "")


def _check(email: str, role: str, warehouses, is_staff: bool | None) -> bool:
    if role and role not in ROLES:
        raise ValidationFailed(f"Unknown role {role!r}.")
    if role == WAREHOUSE and not list(warehouses):
        raise ValidationFailed("A Warehouse user needs at least one warehouse to work in.")
    # "Can log in" is on for anyone given a role unless explicitly turned off.
    return bool(role) if is_staff is None else is_staff


@transaction.atomic
def user_set_access(*, user, role: str, warehouses: Iterable, is_staff: bool | None = None, by=None):
    """Give ``user`` exactly one role (or none) and the warehouses they staff; ``is_staff`` defaults on with a role."""
    warehouses = list(warehouses)
    user.is_staff = _check(user.email, role, warehouses, is_staff)
    user.save(update_fields=["is_staff"])
    others = Group.objects.filter(name__in=ROLES).exclude(name=role)
    user.groups.remove(*others)
    if role:
        user.groups.add(Group.objects.get(name=role))
    user.warehouses.set(warehouses)
    return user


@transaction.atomic
def user_onboard(
    *,
    username: str,
    email: str,
    first_name: str = "",
    last_name: str = "",
    role: str = "",
    warehouses: Iterable = (),
    is_staff: bool | None = None,
    by=None,
):
    """A new colleague: no password yet (unusable), the role and warehouses, and the welcome e-mail."""
    User = get_user_model()
    username = (username or "").strip()
    email = (email or "").strip()
    if not username:
        raise ValidationFailed("A username is required.")
    if not email:
        raise ValidationFailed("An e-mail address is required: the welcome e-mail carries the set-password link.")
    if User.objects.filter(username__iexact=username).exists():
        raise ValidationFailed(f"The username {username} is taken.")
    warehouses = list(warehouses)
    staff = _check(email, role, warehouses, is_staff)
    user = User(username=username, email=email, first_name=first_name, last_name=last_name, is_staff=staff)
    user.set_unusable_password()
    user.save()
    user_set_access(user=user, role=role, warehouses=warehouses, is_staff=staff, by=by)
    send_welcome_email(user, invited_by=by)
    return user
