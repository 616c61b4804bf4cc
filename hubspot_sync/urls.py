from django.urls import path

from hubspot_sync import views

urlpatterns = [
    path("hooks/hubspot/", views.hubspot_webhook, name="hubspot-webhook"),
]
