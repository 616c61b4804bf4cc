from django.urls import path

from calls import views

urlpatterns = [
    path("queue/", views.queue, name="queue"),
    path("queue/<int:contact_id>/called/", views.mark_called, name="queue-mark-called"),
    path("queue/<int:contact_id>/snooze/", views.snooze, name="queue-snooze"),
    path("queue/<int:contact_id>/draft/", views.draft, name="queue-draft"),
    path("interventions/generate/", views.interventions_generate, name="interventions-generate"),
    path(
        "interventions/<int:intervention_id>/outcome/",
        views.intervention_outcome,
        name="intervention-outcome",
    ),
]
