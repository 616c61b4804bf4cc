import uuid

from django import template

register = template.Library()


@register.simple_tag
def idempotency_key() -> str:
    """A fresh one-time key for an action form (crm.idempotency); a new one at every render."""
    return uuid.uuid4().hex
