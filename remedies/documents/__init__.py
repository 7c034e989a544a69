"""Documents: one module per kind, each with build() (freeze the data) and Renderer."""

from importlib import import_module

from ..models import DocumentKind

MODULES = {
    DocumentKind.APOLOGY: "apology",
    DocumentKind.RECEIPT: "receipt",
    DocumentKind.SETTLEMENT: "settlement",
    DocumentKind.REPAYMENT_REQUEST: "repayment",
    DocumentKind.REPAYMENT_REMINDER: "reminder",
    DocumentKind.CHECKLIST: "checklist",
    DocumentKind.REPORT: "report",
    DocumentKind.PRESS_RELEASE: "press_release",
}


def module_for(kind: str):
    return import_module(f"{__name__}.{MODULES[kind]}")
