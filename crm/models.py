from django.db import models


class TimeStampedModel(models.Model):
    """When this row was created and last changed here (not in HubSpot: see hs_* fields)."""

    created_at = models.DateTimeField(auto_now_add=True, db_index=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
