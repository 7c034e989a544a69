"""Documents: one module per kind, each with build() (freeze the data) and Renderer."""

from importlib import import_module

from ..models import DocumentKind

MODULES = {
    DocumentKind.APOLOGY: "apology",
}


def module_for(kind: str):
    return import_module(f"{__name__}.{MODULES[kind]}")
