"""Reads: finding receptions, ranking the counterpart, checklist completion rates.

`rank` is pure (no queries, no writes): given the affected person's reception and the
receptions before it at the same terminal, it says who most likely left a session open,
and why. The other functions run inside the caller's tenant scope with a bounded number of
queries, whatever the number of rows.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncMonth
from django.utils import timezone
from django.utils.translation import gettext as _

from cases.search import MAX_QUERY, normalise

from .models import UNFINISHED, Outcome, Reception

# Weights of the ranking: an unfinished procedure is the typical open session; a missing
# signature or leader check makes it likelier; the nearest earlier reception comes first.
UNFINISHED_WEIGHT = 4
NO_CHECKLIST_WEIGHT = 2
NO_LEADER_WEIGHT = 2
STILL_OPEN_WEIGHT = 1
NEAREST_WEIGHTS = (3, 2, 1)


@dataclass
class Candidate:
    reception: Reception
    rank: int
    score: int
    reasons: list[str] = field(default_factory=list)


def rank(affected: Reception, same_day: Iterable[Reception]) -> list[Candidate]:
    """Rank the receptions that could have shared a session with the affected person's.

    Only the same desk and terminal on the same (local) day count. Before it: a citizen
    whose session was left open (the reference case 3: C's points went into D's session).
    After it, when the affected reception itself was left unfinished: the next citizen's
    procedure may have run in the affected person's session (case 1: A's portal got B's
    account)."""
    day = timezone.localtime(affected.started_at).date()
    same_desk = [
        r
        for r in same_day
        if r.pk != affected.pk
        and r.office_id == affected.office_id
        and r.terminal == affected.terminal
        and timezone.localtime(r.started_at).date() == day
    ]
    earlier = sorted(
        (r for r in same_desk if r.started_at < affected.started_at),
        key=lambda r: r.started_at,
        reverse=True,  # nearest first
    )
    later = sorted(
        (r for r in same_desk if r.started_at >= affected.started_at), key=lambda r: r.started_at
    )
    scored = [(*_before(affected, r, position), r) for position, r in enumerate(earlier)]
    if affected.unfinished or not affected.checklist_signed:
        scored += [(*_after(affected, r, position), r) for position, r in enumerate(later)]
    scored.sort(key=lambda s: (-s[0], s[1]))
    return [
        Candidate(reception=r, rank=i, score=score, reasons=reasons)
        for i, (score, _distance, reasons, r) in enumerate(scored, start=1)
    ]


def _nearness(position: int) -> int:
    return NEAREST_WEIGHTS[position] if position < len(NEAREST_WEIGHTS) else 0


def _before(affected: Reception, r: Reception, position: int) -> tuple[int, int, list[str]]:
    minutes = int((affected.started_at - r.started_at).total_seconds() // 60)
    reasons = [_("Same desk and same terminal (%(terminal)s).") % {"terminal": r.terminal}]
    score = _nearness(position)
    if position == 0:
        reasons.append(
            _("The reception just before, started %(minutes)s minutes earlier.")
            % {"minutes": minutes}
        )
    else:
        reasons.append(
            _("%(count)s receptions before, started %(minutes)s minutes earlier.")
            % {"count": position + 1, "minutes": minutes}
        )
    if r.outcome == Outcome.SUSPENDED:
        score += UNFINISHED_WEIGHT
        reasons.append(_("The procedure was suspended."))
    elif r.outcome == Outcome.LEFT:
        score += UNFINISHED_WEIGHT
        reasons.append(_("The citizen left mid-way."))
    if not r.checklist_signed:
        score += NO_CHECKLIST_WEIGHT
        reasons.append(_("The completion checklist was not signed."))
    if not r.leader_checked:
        score += NO_LEADER_WEIGHT
        reasons.append(_("No leader check was made."))
    if r.ended_at is None:
        score += STILL_OPEN_WEIGHT
        reasons.append(_("No end time was recorded."))
    elif r.ended_at > affected.started_at:
        score += STILL_OPEN_WEIGHT
        reasons.append(_("It ended after the affected reception had started."))
    return score, position, reasons


def _after(affected: Reception, r: Reception, position: int) -> tuple[int, int, list[str]]:
    minutes = int((r.started_at - affected.started_at).total_seconds() // 60)
    reasons = [
        _("Same desk and same terminal (%(terminal)s).") % {"terminal": r.terminal},
        _("Started %(minutes)s minutes after the affected reception.") % {"minutes": minutes},
    ]
    score = _nearness(position)
    if affected.unfinished:
        score += UNFINISHED_WEIGHT
        reasons.append(
            _("The affected reception itself was not finished: its session may have stayed open.")
        )
    if not affected.checklist_signed:
        score += NO_CHECKLIST_WEIGHT
        reasons.append(_("The affected reception's checklist was not signed."))
    # After the earlier ones at equal score: the typical error is the session left before.
    return score, 100 + position, reasons


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    start = timezone.make_aware(datetime.combine(day, time.min))
    return start, start + timedelta(days=1)


def counterpart_candidates(affected: Reception) -> list[Candidate]:
    """One query: the same terminal's receptions of that day, ranked."""
    start, end = _day_bounds(timezone.localtime(affected.started_at).date())
    same_day = Reception.objects.filter(
        office_id=affected.office_id,
        terminal=affected.terminal,
        started_at__gte=start,
        started_at__lt=end,
    ).select_related("office")
    return rank(affected, same_day)


def find_receptions(
    *, q: str = "", on: date | None = None, office_id: int | None = None, limit: int = 50
) -> QuerySet[Reception]:
    """Receptions by name (kanji, hiragana, katakana or half-width kana), date and office."""
    found = Reception.objects.select_related("office")
    if q.strip():
        found = found.filter(search_key__contains=normalise(q[:MAX_QUERY]))
    if on is not None:
        start, end = _day_bounds(on)
        found = found.filter(started_at__gte=start, started_at__lt=end)
    if office_id is not None:
        found = found.filter(office_id=office_id)
    return found.order_by("started_at", "id")[:limit]


@dataclass
class OfficeMonth:
    office: str
    month: date
    total: int
    complete: int
    unchecked: int  # suspended or left mid-way, without a leader check

    @property
    def rate(self) -> float:
        return round(100 * self.complete / self.total, 1) if self.total else 0.0


@dataclass
class CompletionPanel:
    rows: list[OfficeMonth]
    unchecked: list[Reception]  # the newest few, for follow-up
    unchecked_count: int


def completion_rates(
    *, since: date | None = None, until: date | None = None, limit: int = 20
) -> CompletionPanel:
    """Share of receptions with a complete checklist, per office and month, and the
    unfinished receptions nobody's leader checked. Two queries, aggregated in the database (one
    when every unfinished reception was checked)."""
    receptions = Reception.objects.all()
    if since is not None:
        receptions = receptions.filter(started_at__gte=_day_bounds(since)[0])
    if until is not None:
        receptions = receptions.filter(started_at__lt=_day_bounds(until)[1])
    unchecked = Q(outcome__in=UNFINISHED, leader_checked=False)
    grouped = (
        receptions.annotate(month=TruncMonth("started_at"))
        .values("office__name", "month")
        .annotate(
            total=Count("id"),
            complete=Count("id", filter=Q(checklist_signed=True)),
            unchecked=Count("id", filter=unchecked),
        )
        .order_by("office__name", "month")
    )
    rows = [
        OfficeMonth(
            office=g["office__name"],
            month=timezone.localtime(g["month"]).date()
            if isinstance(g["month"], datetime)
            else g["month"],
            total=g["total"],
            complete=g["complete"],
            unchecked=g["unchecked"],
        )
        for g in grouped
    ]
    unchecked_count = sum(r.unchecked for r in rows)
    # The newest few are read only when the count says there are some.
    newest = (
        list(
            receptions.filter(unchecked)
            .select_related("office")
            .order_by("-started_at", "-id")[:limit]
        )
        if unchecked_count
        else []
    )
    return CompletionPanel(rows=rows, unchecked=newest, unchecked_count=unchecked_count)
