from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from calls import api as calls_api
from crm import openapi, views

admin.site.site_header = "Lead CRM administration"
admin.site.site_title = "Lead CRM admin"

urlpatterns = [
    path("", include("leads.urls")),
    path("", include("calls.urls")),
    path("", include("hubspot_sync.urls")),
    path("", include("campaigns.urls")),
    path("api/leads/needing-action", calls_api.leads_needing_action, name="api-leads-needing-action"),
    path("api/schema/", openapi.schema, name="api-schema"),
    path("healthz/", views.healthz, name="healthz"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
]
