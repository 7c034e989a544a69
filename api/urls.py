from django.urls import path
from drf_spectacular.views import SpectacularAPIView

from . import views
from .docs import DocsView

app_name = "api"

urlpatterns = [
    path("v1/me/", views.MeView.as_view(), name="me"),
    path("v1/cases/", views.CaseListView.as_view(), name="cases"),
    path("v1/cases/<str:ref>/", views.CaseView.as_view(), name="case"),
    path("v1/cases/<str:ref>/timeline/", views.TimelineView.as_view(), name="timeline"),
    path("v1/cases/<str:ref>/visits/", views.VisitsView.as_view(), name="visits"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", DocsView.as_view(url_name="api:schema"), name="docs"),
]
