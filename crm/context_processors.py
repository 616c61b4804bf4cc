from django.conf import settings

from crm import roles


def user_roles(request):
    user = request.user
    return {
        "is_manager": roles.is_manager(user),
        "is_ops": roles.is_ops(user),
        "ai_enabled": settings.ANTHROPIC_ENABLED,
        "business_time_zone": settings.TIME_ZONE,
    }
