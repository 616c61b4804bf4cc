from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from crm.api import api_token_create


class Command(BaseCommand):
    help = "Create a JSON API token for a user and print it (it is shown only this once)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="API client", help="What will use the token.")

    def handle(self, *args, username: str, name: str, **options) -> None:
        try:
            user = get_user_model().objects.get(username=username, is_active=True)
        except get_user_model().DoesNotExist:
            raise CommandError(f"No active user {username!r}.") from None
        _, token = api_token_create(user=user, name=name)
        self.stdout.write(f"Token for {username} ({name}); keep it secret, it is not shown again:\n{token}")
