"""Create the first admin account once and print how to log in.

Uses Django's DJANGO_SUPERUSER_USERNAME / _PASSWORD / _EMAIL when set; otherwise
``admin`` with a generated password, kept in ``.local/admin-credentials`` (mode
600, git-ignored) so that re-running prints the same login. An existing
account is never changed.
"""

import os
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand

from backoffice.roles import ADMIN

CREDENTIALS_FILE = Path(settings.BASE_DIR) / ".local" / "admin-credentials"


class Command(BaseCommand):
    help = "Create the admin account if missing and print the login."

    def add_arguments(self, parser):
        parser.add_argument("--url", default="http://localhost:8000/admin/", help="Admin URL to print.")

    def handle(self, *args, url, **options):
        User = get_user_model()
        username = os.environ.get("DJANGO_SUPERUSER_USERNAME") or "admin"
        email = os.environ.get("DJANGO_SUPERUSER_EMAIL") or f"{username}@example.com"
        password = os.environ.get("DJANGO_SUPERUSER_PASSWORD")
        user = User.objects.filter(username=username).first()
        if user is None:
            if not password:
                password = secrets.token_urlsafe(12)
                CREDENTIALS_FILE.parent.mkdir(exist_ok=True)
                CREDENTIALS_FILE.write_text(f"{username}\n{password}\n")
                CREDENTIALS_FILE.chmod(0o600)
            user = User.objects.create_superuser(username=username, email=email, password=password)
            state = "created"
        else:
            state = "already exists (password unchanged)"
            if password and not user.check_password(password):
                password = None
            if not password and CREDENTIALS_FILE.exists():
                saved_user, _, saved_password = CREDENTIALS_FILE.read_text().partition("\n")
                if saved_user == username:
                    password = saved_password.strip()
        group = Group.objects.filter(name=ADMIN).first()
        if group:
            user.groups.add(group)
        shown = password or "(the one you set earlier)"
        bar = "=" * 60
        self.stdout.write(
            f"\n{bar}\n Backoffice admin {state}\n URL:      {url}\n Username: {username}\n Password: {shown}\n{bar}\n"
        )
