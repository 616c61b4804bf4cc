from django.contrib import admin

from crm.models import ApiToken


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are created with `manage.py create_api_token` (the token is shown once); here ops
    see who has one, when it was last used, and revoke it."""

    list_display = ["name", "user", "prefix", "created_at", "last_used_at", "is_revoked"]
    list_filter = ["is_revoked"]
    list_select_related = ["user"]
    readonly_fields = ["user", "name", "prefix", "created_at", "last_used_at"]
    fields = ["user", "name", "prefix", "created_at", "last_used_at", "is_revoked"]

    def has_add_permission(self, request) -> bool:
        return False
