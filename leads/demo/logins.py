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
    kept: list[str]  # users of a demo name that already existed, left exactly as they were


@transaction.atomic
def demo_logins_ensure() -> DemoLogins:
    """Create the demo users that are missing, with password "demo", each in its group.

    A user that already has a demo name is never touched: not its password, groups or staff
    flag. It may be a real person called "manager", and a seed must not hand out their access
    or change what they can do."""
    User = get_user_model()
    users, created, kept = {}, [], []
    for username, group_name, is_staff in DEMO_LOGINS:
        user = User.objects.filter(username=username).first()
        if user is None:
            user = User(username=username, first_name=username.title(), is_staff=is_staff)
            user.set_password(DEMO_PASSWORD)
            user.save()
            user.groups.add(Group.objects.get(name=group_name))
            created.append(username)
        else:
            kept.append(username)
        users[username] = user
    return DemoLogins(users=users, created=created, kept=kept)
