"""How the signed-in user is loaded."""

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend


class UserWithOwnerBackend(ModelBackend):
    """Django's model backend, except that each request's user is loaded together with their
    Owner: a setter's every page is scoped by it, so this saves each page a query."""

    def get_user(self, user_id):
        users = get_user_model()._default_manager.select_related("owner")
        try:
            user = users.get(pk=user_id)
        except get_user_model().DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None
