from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView

from api import token_views
from cases import audit_views, setup_views
from cases import views as case_views
from config.health import healthz

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="overview:queues", permanent=False), name="home"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("language/", case_views.set_language, name="set_language"),
    path("cases/", include("cases.urls")),
    path("cases/<str:ref>/", include("remedies.urls")),
    path("documents/", include("remedies.documents.urls")),
    path("receptions/", include("receptions.urls")),
    path("", include("overview.urls")),
    path("audit/", audit_views.audit_list, name="audit_list"),
    path("audit/export/", audit_views.audit_export, name="audit_export"),
    path("setup/municipality/", setup_views.municipality_setup, name="municipality_setup"),
    path(
        "setup/municipality/done/",
        setup_views.municipality_setup_done,
        name="municipality_setup_done",
    ),
    path("jobs/", include("jobs.urls")),
    path("api/", include("api.urls")),
    path("api-tokens/", token_views.token_list, name="api_tokens"),
    path(
        "api-tokens/<int:token_id>/revoke/",
        token_views.token_revoke_view,
        name="api_token_revoke",
    ),
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
]
