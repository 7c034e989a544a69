from django.urls import path

from . import views
from .documents import views as document_views

app_name = "remedies"

# Mounted under cases/<ref>/ (config/urls.py).
urlpatterns = [
    path("contacts/new/", views.contact_new, name="contact_new"),
    path("contacts/<int:contact_id>/answer/", views.contact_answer, name="contact_answer"),
    path("agreements/new/", views.agreement_new, name="agreement_new"),
    path("visits/new/", views.visit_new, name="visit_new"),
    path("letters/<int:letter_id>/sent/", views.letter_delivery, name="letter_delivery"),
    path("ledger/<str:kind>/new/", views.ledger_new, name="ledger_new"),
    path("ledger/<int:entry_id>/reverse/", views.ledger_reverse, name="ledger_reverse"),
    path("plans/new/", views.plan_new, name="plan_new"),
    path("stage/<str:step>/", views.transition, name="transition"),
    path("documents/new/", document_views.case_document, name="document_new"),
]
