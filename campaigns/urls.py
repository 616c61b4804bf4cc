from django.urls import path

from campaigns import views

urlpatterns = [
    path("replenishment/", views.replenishment, name="replenishment"),
    path("replenishment/run/", views.replenishment_run_now, name="replenishment-run"),
    path("replenishment/dry-run/", views.replenishment_dry_run, name="replenishment-dry-run"),
    path("replenishment/assign/", views.assign_waiting_now, name="replenishment-assign"),
]
