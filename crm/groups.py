"""Groups and what each may do in the admin. Called from migrations (safe to re-run), so a later
app's migration calls `groups_sync` again to grant its new models to the right groups."""

from crm.roles import MANAGER, OPS, SETTER

# Ops run the admin: every permission on these apps ("axes": unlocking a locked-out sign-in).
OPS_APPS = ("crm", "leads", "calls", "campaigns", "scoring", "hubspot_sync", "django_celery_beat", "axes")
# Managers read everything and correct records, but delete nothing.
MANAGER_APPS = ("leads", "calls", "campaigns", "scoring", "hubspot_sync")
MANAGER_ACTIONS = ("view", "change")


def groups_sync(apps, schema_editor=None) -> None:
    from django.contrib.auth.management import create_permissions

    # Permissions are normally created after all migrations ran; create them now for the apps
    # migrated so far, so a fresh database gets its groups filled in one `migrate`.
    for app_config in apps.get_app_configs():
        # Historical app configs have no models_module, which create_permissions requires; set
        # one for the call and put back what was there (also safe on the real app registry).
        original = getattr(app_config, "models_module", None)
        app_config.models_module = original or True
        create_permissions(app_config, verbosity=0, apps=apps)
        app_config.models_module = original

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    Group.objects.get_or_create(name=SETTER)
    ops, _ = Group.objects.get_or_create(name=OPS)
    ops.permissions.set(Permission.objects.filter(content_type__app_label__in=OPS_APPS))
    manager, _ = Group.objects.get_or_create(name=MANAGER)
    manager.permissions.set(
        [
            p
            for p in Permission.objects.filter(content_type__app_label__in=MANAGER_APPS)
            if p.codename.split("_", 1)[0] in MANAGER_ACTIONS
        ]
    )
