"""Extension point: what other apps must do, inside case_update's transaction, when a case
changes contractor.

cases/ must not import remedies/ (DESIGN.md, Boundaries), yet the city's money totals are
kept per contractor of the case (remedies.models.CityLedgerTotal) and must move with it.
As with the case page's sections (sections.py), remedies/ registers its handler at start-up
(AppConfig.ready) and cases/ calls whatever is registered.

Handlers run after case_update has locked the case row, saved the new contractor and
written the audit entry (which takes the audit head lock), so a handler that locks further
rows takes them after the head, as every ledger posting does: no two writers wait on each
other in a ring. A handler must lock its own rows in a fixed order.
"""

from collections.abc import Callable

from .models import Case

# handler(case, was=<former contractor id or None>)
ContractorChanged = Callable[..., None]

_ON_CONTRACTOR_CHANGED: list[ContractorChanged] = []


def on_contractor_changed(handler: ContractorChanged) -> ContractorChanged:
    """Register `handler` (once, however often ready() runs)."""
    if handler not in _ON_CONTRACTOR_CHANGED:
        _ON_CONTRACTOR_CHANGED.append(handler)
    return handler


def contractor_changed(case: Case, *, was: int | None) -> None:
    """Called by cases.services.case_update, in its transaction, under its lock of the case."""
    for handler in _ON_CONTRACTOR_CHANGED:
        handler(case, was=was)
