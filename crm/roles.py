"""Who may see and do what.

Three groups, created by a migration: Setter (own leads and queue), Manager (every lead, can
reassign), Ops (the admin). A superuser counts as Manager and Ops. Selectors call these helpers
to scope their querysets; templates receive the booleans.
"""

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

SETTER = "Setter"
MANAGER = "Manager"
OPS = "Ops"
GROUPS = (SETTER, MANAGER, OPS)

User = AbstractBaseUser | AnonymousUser


def _group_names(user: User) -> set[str]:
    # Cached on the user object: several checks per request must not each hit the database.
    if not hasattr(user, "_crm_group_names"):
        user._crm_group_names = (
            set(user.groups.values_list("name", flat=True)) if user.is_authenticated else set()
        )
    return user._crm_group_names


def is_manager(user: User) -> bool:
    """Sees every lead and every setter; may reassign."""
    return user.is_authenticated and (user.is_superuser or bool(_group_names(user) & {MANAGER, OPS}))


def is_ops(user: User) -> bool:
    return user.is_authenticated and (user.is_superuser or OPS in _group_names(user))
