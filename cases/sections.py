"""Extension points of the case page.

cases/ must not import remedies/ (DESIGN.md, Boundaries), yet the case page shows the
stage buttons, agency contacts, visits and the ledger. Other apps register a section
here at start-up (AppConfig.ready); the case view renders whatever is registered, in order.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass

from django.http import HttpRequest

from .models import Case


@dataclass(frozen=True)
class Section:
    # "head" (right under the title: the one thing a role comes to do, e.g. record a visit),
    # "top" (under the overview) or "bottom" (after the press-release sections)
    slot: str
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
    slots: dict[str, list[tuple[str, dict]]] = {"head": [], "top": [], "bottom": []}
    for section in sorted(_SECTIONS, key=lambda s: s.order):
        slots[section.slot].append((section.template, section.context(request, case)))
    return slots


# A section's heading (<h2 id="h-…">), as every section template writes it: the page's index
# is read from the page itself, so that it lists exactly the sections shown to this user.
_HEADING = re.compile(r'<h2 id="(h-[\w-]+)"[^>]*>\s*(?:\d+\s+)?(.*?)\s*</h2>', re.S)
_TAG = re.compile(r"<[^>]+>")


def index_of(html: str) -> list[tuple[str, str]]:
    """(anchor, title) of each section in the rendered case page, in page order."""
    return [(anchor, _TAG.sub("", title).strip()) for anchor, title in _HEADING.findall(html)]
