from django.urls import path

from leads import views

urlpatterns = [
    path("", views.home, name="home"),
    path("follow-up/", views.follow_up, name="follow-up"),
    path("follow-up/reassign/", views.follow_up_reassign, name="follow-up-reassign"),
    path("follow-up/reassignments/<int:job_id>/", views.reassignment_job, name="reassignment-job"),
    path("follow-up/<int:contact_id>/", views.follow_up_row, name="follow-up-row"),
]
