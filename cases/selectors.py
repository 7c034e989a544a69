"""Reads that grew past a line or two in a view (STYLE: HackSoft selectors)."""

from collections.abc import Mapping

from django.db import models
from django.db.models import QuerySet, Value, When
from django.utils import timezone

from .deadlines import DeadlineBook
from .filters import CaseFilter
from .models import Case, Membership, Party, Role, Stage
from .permissions import CLOSED_STAGES
from .scoping import scope_for

# The stage machine's order (調査 → … → 完了, then 取下げ), for sorting by stage.
STAGE_RANK = models.Case(
    *(When(stage=stage.value, then=Value(rank)) for rank, stage in enumerate(Stage)),
    default=Value(len(Stage)),
    output_field=models.IntegerField(),
)


def case_filter(*, membership: Membership, params: Mapping) -> CaseFilter:
    """The bound filter form of the case list; `filtered_cases` gives its rows."""
    # Case.objects is tenant-scoped: this is only ever the cases the user may see.
    cases = (
        Case.objects.select_related("office", "contractor", "assignee")
        .annotate(stage_rank=STAGE_RANK)
        .order_by("-discovered_on", "-id")
    )
    return CaseFilter(
        params, queryset=cases, membership=membership, deadlines=deadline_book(membership)
    )


def deadline_book(membership: Membership) -> DeadlineBook:
    """Deadlines for every municipality this user sees, as of today."""
    ids = scope_for(membership)["municipality"]
    return DeadlineBook(ids if isinstance(ids, list) else [ids], timezone.localdate())


def filtered_cases(filterset: CaseFilter) -> QuerySet[Case]:
    # A filter that did not validate shows nothing rather than everything: the list (or an
    # export) never holds more than the user asked for. The form says what was wrong.
    if not filterset.is_valid():
        return filterset.queryset.none()
    return filterset.qs


def case_list(*, membership: Membership, params: Mapping) -> QuerySet[Case]:
    return filtered_cases(case_filter(membership=membership, params=params))


def mark_people(cases: list[Case], membership: Membership) -> list[Case]:
    """Set `.people` on each case of a list page: (label, name or ''), one query for the
    page. Names are shown as the case page shows them (cases/reveal.py), except that
    contractor staff, whose work on a closed case is over, get the labels only (A氏)."""
    rows: dict[int, list[tuple[str, str, bool]]] = {case.pk: [] for case in cases}
    parties = (
        Party.objects.filter(case_id__in=list(rows))
        .order_by("case_id", "label", "id")
        .values_list("case_id", "label", "name", "identified")
    )
    for case_id, label, name, identified in parties:
        rows[case_id].append((label, name if identified else "", identified))
    for case in cases:
        labels_only = membership.role == Role.CONTRACTOR and case.stage in CLOSED_STAGES
        case.people = [
            {"label": label, "name": "" if labels_only else name, "identified": identified}
            for label, name, identified in rows[case.pk]
        ]
    return cases


def with_parties(rows: list, case: Case, *fields: str) -> list:
    """Set each row's person (`party` or the `fields` named) from the case's own parties
    instead of joining them again: the case page holds them as prefetched
    (case.parties.all() costs no query there), so each section's query compiles without
    the join and no person's contact details are decrypted twice. A row whose person is
    not among them (none should be) is left to load it on first use."""
    parties = {party.pk: party for party in case.parties.all()}
    for name in fields or ("party",):
        attname = f"{name}_id"
        for row in rows:
            party = parties.get(getattr(row, attname))
            if party is not None:
                setattr(row, name, party)
    return rows
