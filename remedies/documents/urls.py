from django.urls import path

from . import views

app_name = "documents"

urlpatterns = [
    path("", views.document_list, name="list"),
    path("new/<str:kind>/", views.municipal_document, name="municipal"),
    path("<int:document_id>/download/", views.document_download, name="download"),
    path("<int:document_id>/approve/", views.document_approve, name="approve"),
    path("<int:document_id>/reissue/", views.document_reissue, name="reissue"),
]
