"""Extension points of the case page.

cases/ must not import remedies/ (DESIGN.md, Boundaries), yet the case page shows the
stage buttons, agency contacts, visits and the ledger. Other apps register a section
here at start-up (AppConfig.ready); the case view renders whatever is registered, in order.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.http import HttpRequest

from .models import Case


@dataclass(frozen=True)
class Section:
    slot: str  # "top" (under the overview) or "bottom" (after the press-release sections)
    template: str
    context: Callable[[HttpRequest, Case], dict]
    # Place within the slot, lowest first; equal orders keep the order of registration
    # (apps register in INSTALLED_APPS order, which would put cases/ before remedies/).
    order: int = 0


_SECTIONS: list[Section] = []


def register(section: Section) -> None:
    if section not in _SECTIONS:
        _SECTIONS.append(section)


def render_context(request: HttpRequest, case: Case) -> dict[str, list[tuple[str, dict]]]:
    slots: dict[str, list[tuple[str, dict]]] = {"top": [], "bottom": []}
    for section in sorted(_SECTIONS, key=lambda s: s.order):
        slots[section.slot].append((section.template, section.context(request, case)))
    return slots
