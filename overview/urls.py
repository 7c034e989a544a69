from django.urls import path

from . import views

app_name = "overview"

urlpatterns = [
    path("dashboard/", views.dashboard, name="dashboard"),
    path("dashboard/deadlines/", views.deadlines, name="deadlines"),
    path("dashboard/deadlines/closed/new/", views.closed_day_new, name="closed_day_new"),
    path(
        "dashboard/deadlines/closed/<int:day_id>/delete/",
        views.closed_day_delete,
        name="closed_day_delete",
    ),
    path("queues/", views.queues, name="queues"),
]
