"""The demo logins `make run` advertises: manager / demo, setter / demo, ops / demo."""

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, Group
from django.db import transaction

from crm.roles import MANAGER, OPS, SETTER

DEMO_PASSWORD = "demo"
# username, group, is_staff (managers and ops use the admin's read and repair views)
DEMO_LOGINS = (("manager", MANAGER, True), ("setter", SETTER, False), ("ops", OPS, True))


@dataclass(frozen=True)
class DemoLogins:
    users: dict[str, AbstractBaseUser]
    created: list[str]


@transaction.atomic
def demo_logins_ensure() -> DemoLogins:
    """Create the demo users that are missing, with password "demo", and put every demo user in
    its group. Existing users keep their password: re-seeding never resets a changed one."""
    User = get_user_model()
    users, created = {}, []
    for username, group_name, is_staff in DEMO_LOGINS:
        user = User.objects.filter(username=username).first()
        if user is None:
            user = User(username=username, first_name=username.title(), is_staff=is_staff)
            user.set_password(DEMO_PASSWORD)
            user.save()
            created.append(username)
        user.groups.add(Group.objects.get(name=group_name))
        users[username] = user
    return DemoLogins(users=users, created=created)
