from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView

from . import views, views_documents, views_more, views_receptions
from .docs import DocsView

app_name = "api"

urlpatterns = [
    path("v1/me/", views.MeView.as_view(), name="me"),
    path("v1/cases/", views.CaseListView.as_view(), name="cases"),
    # Before <ref>: a search is posted, its words never in the URL.
    path("v1/cases/search/", views.CaseSearchView.as_view(), name="case_search"),
    path("v1/cases/<str:ref>/", views.CaseView.as_view(), name="case"),
    path("v1/cases/<str:ref>/timeline/", views.TimelineView.as_view(), name="timeline"),
    path("v1/cases/<str:ref>/visits/", views.VisitsView.as_view(), name="visits"),
    path("v1/cases/<str:ref>/parties/", views_more.PartiesView.as_view(), name="parties"),
    path(
        "v1/cases/<str:ref>/parties/<int:party_id>/reveal/",
        views_more.PartyRevealView.as_view(),
        name="party_reveal",
    ),
    path("v1/cases/<str:ref>/links/", views_more.LinksView.as_view(), name="links"),
    path("v1/cases/<str:ref>/contacts/", views_more.ContactsView.as_view(), name="contacts"),
    path(
        "v1/cases/<str:ref>/contacts/<int:contact_id>/answer/",
        views_more.ContactAnswerView.as_view(),
        name="contact_answer",
    ),
    path("v1/cases/<str:ref>/stage/", views_more.StageView.as_view(), name="stage"),
    path("v1/cases/<str:ref>/stage/<str:step>/", views_more.StepView.as_view(), name="step"),
    path("v1/cases/<str:ref>/ledger/", views_more.LedgerView.as_view(), name="ledger"),
    path(
        "v1/cases/<str:ref>/ledger/payments/",
        views_more.PaymentView.as_view(),
        name="ledger_payments",
    ),
    path(
        "v1/cases/<str:ref>/ledger/collections/",
        views_more.CollectionView.as_view(),
        name="ledger_collections",
    ),
    path(
        "v1/cases/<str:ref>/documents/",
        views_documents.DocumentsView.as_view(),
        name="documents",
    ),
    path(
        "v1/cases/<str:ref>/documents/<int:document_id>/download/",
        views_documents.DocumentDownloadView.as_view(),
        name="document_download",
    ),
    path(
        "v1/reception-sheets/",
        views_receptions.ReceptionSheetsView.as_view(),
        name="reception_sheets",
    ),
    path("v1/jobs/", views_more.JobsView.as_view(), name="jobs"),
    path("v1/jobs/<int:job_id>/", views_more.JobView.as_view(), name="job"),
    # Last of v1: any other address answers a problem document (404), not an HTML page.
    re_path(r"^v1/", views.NotFoundView.as_view(), name="not_found"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", DocsView.as_view(url_name="api:schema"), name="docs"),
]
