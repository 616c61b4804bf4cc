"""The Celery app. Configuration comes from Django settings (CELERY_* names); schedules live
in the database (django-celery-beat) so ops can see, pause and change them in the admin."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")

app = Celery("crm")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
