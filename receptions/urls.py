from django.urls import path

from . import views

app_name = "receptions"

urlpatterns = [
    path("", views.index, name="index"),
    path("import/", views.sheet_upload, name="upload"),
    path("import/preview/", views.sheet_preview, name="preview"),
    path("sheets/<int:sheet_id>/", views.sheet_detail, name="sheet"),
    path("<int:reception_id>/checklist/", views.checklist, name="checklist"),
    path("case/<str:ref>/search/", views.reception_search, name="search"),
    path(
        "case/<str:ref>/counterpart/<int:reception_id>/",
        views.counterpart_add,
        name="counterpart_add",
    ),
]
