from django.urls import path

from . import views

app_name = "cases"

urlpatterns = [
    path("", views.case_list, name="list"),
    path("new/", views.case_new, name="new"),
    path("<str:ref>/", views.case_detail, name="detail"),
    path("<str:ref>/edit/", views.case_edit, name="edit"),
    path("<str:ref>/take/", views.case_take, name="take"),
    path("<str:ref>/parties/new/", views.party_new, name="party_new"),
    path("<str:ref>/parties/<int:party_id>/edit/", views.party_edit, name="party_edit"),
    path("<str:ref>/links/new/", views.link_new, name="link_new"),
    path("<str:ref>/timeline/new/", views.timeline_new, name="timeline_new"),
]
