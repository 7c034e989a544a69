from django.urls import path

from . import link_views, views
from .attachments import views as attachments

app_name = "cases"

urlpatterns = [
    path("", views.case_list, name="list"),
    path("new/", views.case_new, name="new"),
    path("<str:ref>/", views.case_detail, name="detail"),
    path("<str:ref>/edit/", views.case_edit, name="edit"),
    path("<str:ref>/take/", views.case_take, name="take"),
    path("<str:ref>/parties/new/", views.party_new, name="party_new"),
    path("<str:ref>/parties/<int:party_id>/edit/", views.party_edit, name="party_edit"),
    path("<str:ref>/parties/<int:party_id>/reveal/", views.party_reveal, name="party_reveal"),
    path("<str:ref>/links/new/", views.link_new, name="link_new"),
    path("<str:ref>/links/<int:link_id>/correct/", link_views.link_correct, name="link_correct"),
    path("<str:ref>/links/<int:link_id>/excuse/", link_views.link_excuse, name="link_excuse"),
    path("<str:ref>/timeline/", views.case_timeline, name="timeline"),
    path("<str:ref>/timeline/new/", views.timeline_new, name="timeline_new"),
    path(
        "<str:ref>/timeline/<int:event_id>/publish/",
        views.timeline_publish,
        name="timeline_publish",
    ),
    # Attachments (cases/attachments/views.py): upload, and the only way a stored file goes out.
    path("<str:ref>/attachments/new/", attachments.attachment_new, name="attachment_new"),
    path(
        "<str:ref>/attachments/<int:attachment_id>/",
        attachments.attachment_download,
        name="attachment_download",
    ),
]
