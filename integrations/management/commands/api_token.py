"""manage.py api_token create USERNAME [--name N] [--expires-days D] | revoke ID_OR_NAME [--user U] | list."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from backoffice.errors import BusinessError
from integrations import tokens
from integrations.models import ApiToken


class Command(BaseCommand):
    help = "Create (prints the token once), revoke or list personal API tokens."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="Create a token; the token is printed once on its own line.")
        create.add_argument("username")
        create.add_argument("--name", default="command line")
        create.add_argument("--expires-days", type=int, default=None, help="Default: API_TOKEN_DAYS (90).")
        revoke = sub.add_parser("revoke", help="Revoke tokens by id (the first characters shown by list) or name.")
        revoke.add_argument("identifier")
        revoke.add_argument("--user", default=None, help="Only this user's tokens.")
        listing = sub.add_parser("list", help="List tokens (never the token itself).")
        listing.add_argument("--user", default=None)

    def _user(self, username):
        if username is None:
            return None
        try:
            return get_user_model().objects.get(username=username)
        except get_user_model().DoesNotExist:
            raise CommandError(f"No user named {username!r}.") from None

    def handle(self, *args, action, **options):
        if action == "create":
            try:
                token, secret = tokens.api_token_create(
                    user=self._user(options["username"]), name=options["name"], expires_days=options["expires_days"]
                )
            except BusinessError as error:
                raise CommandError(str(error)) from None
            self.stderr.write(
                f"Token {token.token_key} ({token.name!r}) for {token.user.get_username()}, "
                f"expires {token.expiry:%Y-%m-%d %H:%M %Z}. It is shown only now:"
            )
            self.stdout.write(secret)
        elif action == "revoke":
            matching = tokens.api_tokens_matching(options["identifier"], user=self._user(options["user"]))
            count = tokens.api_token_revoke(matching)
            if not count:
                raise CommandError(f"No token with id or name {options['identifier']!r}.")
            self.stdout.write(f"{count} token(s) revoked.")
        else:
            queryset = ApiToken.objects.select_related("user").order_by("user__username", "created")
            user = self._user(options["user"])
            if user is not None:
                queryset = queryset.filter(user=user)
            for token in queryset:
                state = "expired" if token.is_expired else "active"
                used = f"{token.last_used_at:%Y-%m-%d %H:%M}" if token.last_used_at else "never"
                self.stdout.write(
                    f"{token.token_key}\t{token.user.get_username()}\t{token.name}\t"
                    f"expires {token.expiry:%Y-%m-%d}\tlast used {used}\t{state}"
                )
