"""The ledger: who is owed, who holds an excess, and who bore the cost.

Balances are never stored: they are sums of append-only entries. A misallocation of X
from C to D posts +X to C (owed) and −X to D (holds an excess); a payment to C posts −X;
a collection from D posts +X; points re-granted by the national system post −X; a
correction by the national system (points taken back from D and given to C) posts +X to D
and −X to C and costs nobody; a write-off (manager, with a reason) brings a balance to zero;
a reversal negates an entry.
"""

import uuid
from dataclasses import dataclass
from datetime import date

from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.db.models import BooleanField, Count, F, Max, Q, Sum
from django.db.models.expressions import RawSQL
from django.utils import translation
from django.utils.translation import gettext as _

from cases import permissions
from cases.audit import audit_log
from cases.issuer import words as issuer_words
from cases.labels import is_choice
from cases.models import Case, CaseKind, DataKind, Party, User
from cases.services import (
    actor_of,
    add_timeline,
    check_event_date,
    japanese,
    lock_for_edit,
    require_member,
)
from cases.wareki import wareki, yen

from .errors import RemedyError
from .models import (
    MAX_AMOUNT,
    CityLedgerTotal,
    EntryKind,
    LedgerEntry,
    LedgerTotal,
    Method,
    Side,
    Visit,
)

# ---- reads -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Balance:
    party: Party
    amount: int

    @property
    def status(self) -> str:
        if self.amount > 0:
            return "owed"
        if self.amount < 0:
            return "excess"
        return "settled"


def balances(case: Case) -> list[Balance]:
    """Every party of the case with its balance, in one query for the sums."""
    return balances_by_case([case])[case.pk]


def balances_by_case(cases: list[Case]) -> dict[int, list[Balance]]:
    """balances() of several cases in two queries (documents issued in bulk)."""
    ids = [c.pk for c in cases]
    sums = dict(
        LedgerEntry.objects.filter(case_id__in=ids)
        .values_list("party")
        .annotate(total=Sum("delta"))
        .values_list("party", "total")
    )
    result: dict[int, list[Balance]] = {pk: [] for pk in ids}
    for p in Party.objects.filter(case_id__in=ids):
        result[p.case_id].append(Balance(p, sums.get(p.pk, 0)))
    return result


def balances_from_entries(case: Case, entries: list[LedgerEntry]) -> list[Balance]:
    """balances(), from the case's whole ledger already read (the case page); the parties
    from case.parties.all(), prefetched by the case page."""
    sums: dict[int, int] = {}
    for entry in entries:
        sums[entry.party_id] = sums.get(entry.party_id, 0) + entry.delta
    return [Balance(p, sums.get(p.pk, 0)) for p in case.parties.all()]


def balance_of(party: Party) -> int:
    return LedgerEntry.objects.filter(party=party).aggregate(t=Sum("delta"))["t"] or 0


def costs(case: Case) -> dict[str, int]:
    """Cost borne per side: what it paid out, less what it collected back."""
    return costs_by_case([case])[case.pk]


def costs_by_case(cases: list[Case]) -> dict[int, dict[str, int]]:
    """costs() of several cases in one query (documents issued in bulk)."""
    ids = [c.pk for c in cases]
    rows = LedgerEntry.objects.filter(case_id__in=ids).exclude(side="")
    totals = rows.values("case", "side").annotate(
        paid=Sum("delta", filter=Q(kind__in=[EntryKind.PAYMENT, EntryKind.REGRANT])),
        collected=Sum("delta", filter=Q(kind=EntryKind.COLLECTION)),
        reversed_=Sum("delta", filter=Q(kind=EntryKind.REVERSAL)),
    )
    result = {pk: {side: 0 for side in Side.values} for pk in ids}
    for row in totals:
        # Payments carry negative deltas, collections positive; a reversal carries the side
        # of what it reverses, so it cancels it.
        result[row["case"]][row["side"]] = -(
            (row["paid"] or 0) + (row["collected"] or 0) + (row["reversed_"] or 0)
        )
    return result


def costs_from_entries(entries: list[LedgerEntry]) -> dict[str, int]:
    """costs(), from the case's whole ledger already read (the case page): the same sums
    as costs_by_case, per side."""
    result = {side: 0 for side in Side.values}
    counted = (EntryKind.PAYMENT, EntryKind.REGRANT, EntryKind.COLLECTION, EntryKind.REVERSAL)
    for entry in entries:
        if entry.side and entry.kind in counted:
            result[entry.side] -= entry.delta
    return result


def points_involved(case: Case) -> bool:
    """Whether points of the national programme went astray in this case (a cashless link
    error, or a cashless account registered into someone's record): only then can the
    national points system correct it."""
    if case.kind == CaseKind.CASHLESS_LINK:
        return True
    prefetched = getattr(case, "_prefetched_objects_cache", {}).get("misregistrations")
    if prefetched is not None:  # the case page has read the links already
        return any(link.data_kind == DataKind.CASHLESS_ACCOUNT for link in prefetched)
    return case.misregistrations.filter(data_kind=DataKind.CASHLESS_ACCOUNT).exists()


def not_points_message() -> str:
    """Why a case cannot take a national correction: said on the form and on saving."""
    return _(
        "Only a case where points were granted to the wrong person can be corrected "
        "by the national points system."
    )


def national_corrections(municipality_id: int) -> tuple[int, int]:
    """(yen, cases): the points the national system has moved back to the people owed in
    the municipality's cases, less what was reversed; one query on a small partial index.
    Corrections are no one's cost, so the dashboard shows them apart from the costs."""
    # The corrections are picked from their partial index first (a subquery), then kept
    # to the municipality's cases: asked together, SQLite walks every case of the city
    # and its ledger when the index is empty (it then has no statistics for it). Written as
    # SQL inside a query of the scoped manager (fixed text, the kind a parameter): the
    # dashboard asks it afresh after every change in the city, and the ORM's subquery and
    # join to the reversals cost more to build than the query to run.
    table = connection.ops.quote_name(LedgerEntry._meta.db_table)
    picked = (
        f"{table}.id IN (SELECT c.id FROM {table} c WHERE c.kind = %s AND c.delta < 0)"  # noqa: S608  # nosec B608
        f" AND NOT EXISTS (SELECT 1 FROM {table} r WHERE r.reverses_id = {table}.id)"
    )  # not reversed
    kind = [EntryKind.NATIONAL_CORRECTION.value]
    restored = LedgerEntry.objects.filter(
        RawSQL(picked, kind, output_field=BooleanField()),  # noqa: S611  # nosec B611
        case__municipality_id=municipality_id,
    ).aggregate(total=Sum("delta"), cases=Count("case_id", distinct=True))
    return -(restored["total"] or 0), restored["cases"]


def ledger_head(case: Case) -> int:
    """The newest entry's id: forms carry it, so a stale form cannot post twice."""
    return LedgerEntry.objects.filter(case=case).aggregate(h=Max("id"))["h"] or 0


# ---- writes ------------------------------------------------------------------------------


def _check_amount(amount: int | None, field: str = "amount") -> int:
    if amount is None or isinstance(amount, bool) or not isinstance(amount, int):
        raise RemedyError(_("Enter the amount in whole yen."), field=field)
    if amount <= 0:
        raise RemedyError(_("Enter an amount of at least 1 yen."), field=field)
    if amount > MAX_AMOUNT:
        raise RemedyError(
            _("An amount over %(max)s cannot be recorded in one entry.") % {"max": yen(MAX_AMOUNT)},
            field=field,
        )
    return amount


def _check_party(case: Case, party: Party, field: str = "party") -> None:
    if party is None or party.case_id != case.pk:
        raise RemedyError(_("Choose a person of this case."), field=field)


def _begin(case: Case, by: User, expected_head: int | None, on: date | None) -> Case:
    case = lock_for_edit(case, by)
    if expected_head is not None and ledger_head(case) != expected_head:
        raise RemedyError(
            _("This case was changed by someone else. Reload the page and check the ledger."),
            conflict=True,
        )
    if on is None:
        raise RemedyError(_("Enter the date."), field="on")
    check_event_date(case, on, "on")
    return case


def _post(
    case: Case,
    party: Party,
    kind: str,
    delta: int,
    *,
    on: date,
    by: User,
    side: str = "",
    method: str = "",
    note: str = "",
    group=None,
    reverses=None,
    visit: Visit | None = None,
    approved_by: User | None = None,
) -> LedgerEntry:
    before = balance_of(party)
    entry = LedgerEntry.objects.create(
        case=case,
        party=party,
        kind=kind,
        delta=delta,
        side=side,
        method=method,
        on=on,
        note=note,
        group=group,
        reverses=reverses,
        visit=visit,
        approved_by=approved_by,
        created_by=by,
    )
    audit_log(
        f"tadasu.ledger.{kind}",
        by=by,
        case=case,
        obj=entry,
        data={"party": party.label, "delta": delta, "side": side, "method": method},
    )
    # After the audit entry: every path takes the audit head before a city's total row
    # (an import holds the head throughout and posts), so none waits on the other in a ring.
    _keep_total(case, kind=kind, side=side, delta=delta, before=before)
    return entry


# Kinds whose entries are a side's cost: what it paid out, less what it collected back (a
# reversal carries the side of the entry it reverses, so it cancels that entry's cost).
COST_KINDS = (EntryKind.PAYMENT, EntryKind.REGRANT, EntryKind.COLLECTION, EntryKind.REVERSAL)
COST_FIELDS = {
    Side.MUNICIPALITY: "cost_municipality",
    Side.CONTRACTOR: "cost_contractor",
    Side.NATIONAL: "cost_national",
}


def _keep_total(case: Case, *, kind: str, side: str, delta: int, before: int) -> None:
    """Move the case's LedgerTotal by one entry. The caller holds the case row's lock, so
    no other posting to this case (or its parties) runs between reading and writing."""
    after = before + delta
    changes = {
        "owed": max(after, 0) - max(before, 0),
        "held": max(-after, 0) - max(-before, 0),
    }
    if side and kind in COST_KINDS:
        changes[COST_FIELDS[side]] = -delta
    LedgerTotal.objects.get_or_create(case=case)
    changes = {name: change for name, change in changes.items() if change}
    if changes:
        LedgerTotal.objects.filter(case=case).update(
            **{name: F(name) + change for name, change in changes.items()}
        )
        _move_city_total(case.municipality_id, case.contractor_id, changes)


def _move_city_total(municipality_id: int, contractor_id: int | None, changes: dict) -> None:
    """Add `changes` ({field: amount}) to the municipality's CityLedgerTotal row of the
    contractor. Two postings of one city run through this row one after the other (the
    UPDATE locks it): the price of a dashboard that reads a row per contractor."""
    rows = CityLedgerTotal.objects.filter(
        municipality_id=municipality_id, contractor_id=contractor_id
    )
    if not rows.update(**{name: F(name) + change for name, change in changes.items()}):
        # The first entry of this city and contractor. get_or_create, not create: a
        # concurrent first posting may have inserted the row (its unique constraint waits
        # for that transaction, then the row is read); the update then adds ours.
        CityLedgerTotal.objects.get_or_create(
            municipality_id=municipality_id, contractor_id=contractor_id
        )
        rows.update(**{name: F(name) + change for name, change in changes.items()})


def case_contractor_changed(case: Case, was: int | None) -> None:
    """Move the case's ledger totals from the city's row of its former contractor (`was`)
    to that of its new one. Called by cases.services.case_update, in its transaction and
    under its lock of the case row, so no posting to the case runs in between."""
    if case.contractor_id == was:
        return
    total = LedgerTotal.objects.filter(case=case).values(*TOTAL_FIELDS).first()
    if total is None:
        return
    amounts = {name: value for name, value in total.items() if value}
    if not amounts:
        return
    moves = [(was, {k: -v for k, v in amounts.items()}), (case.contractor_id, amounts)]
    # Rows locked in one order (no contractor first, then by id): two cases handed between
    # the same two contractors in opposite directions must not wait on each other.
    for contractor_id, changes in sorted(moves, key=lambda m: (m[0] is not None, m[0] or 0)):
        _move_city_total(case.municipality_id, contractor_id, changes)


TOTAL_FIELDS = ("owed", "held", *COST_FIELDS.values())


def derived_city_totals() -> dict[tuple[int, int | None], dict[str, int]]:
    """What every CityLedgerTotal row must hold, summed from the per-case totals in one
    GROUP BY: {(municipality_id, contractor_id): {field: amount}}. Maintenance only (checks,
    rebuilds, bulk loads): it reads every case; run it with scopes disabled."""
    rows = (
        LedgerTotal.objects.values_list("case__municipality_id", "case__contractor_id")
        .annotate(*(Sum(name) for name in TOTAL_FIELDS))
        .order_by()
    )
    return {(m, c): dict(zip(TOTAL_FIELDS, sums, strict=True)) for m, c, *sums in rows}


def rebuild_city_totals() -> int:
    """Replace every CityLedgerTotal row with what the per-case totals say; the number of
    rows written. Maintenance only, with scopes disabled, inside the caller's transaction."""
    derived = derived_city_totals()
    CityLedgerTotal.objects.all().delete()
    CityLedgerTotal.objects.bulk_create(
        CityLedgerTotal(municipality_id=m, contractor_id=c, **values)
        for (m, c), values in derived.items()
    )
    return len(derived)


def totals_from_rows(rows) -> dict[int, dict[str, int]]:
    """LedgerTotal values per case from (case_id, party_id, kind, side, delta) rows: what
    `_keep_total` arrives at entry by entry, computed in one pass (rebuilds, bulk loads)."""
    totals: dict[int, dict[str, int]] = {}
    balances: dict[tuple[int, int], int] = {}
    for case_id, party_id, kind, side, delta in rows:
        total = totals.setdefault(
            case_id, {"owed": 0, "held": 0, **dict.fromkeys(COST_FIELDS.values(), 0)}
        )
        balances[case_id, party_id] = balances.get((case_id, party_id), 0) + delta
        if side and kind in COST_KINDS:
            total[COST_FIELDS[side]] -= delta
    for (case_id, _party), balance in balances.items():
        totals[case_id]["owed"] += max(balance, 0)
        totals[case_id]["held"] += max(-balance, 0)
    return totals


def derived_total(case: Case) -> dict[str, int]:
    """What the case's LedgerTotal must hold, computed from its entries."""
    sums = LedgerEntry.objects.filter(case=case).values("party").annotate(b=Sum("delta")).order_by()
    balances = [row["b"] for row in sums]
    costs_ = costs(case)
    return {
        "owed": sum(b for b in balances if b > 0),
        "held": -sum(b for b in balances if b < 0),
        **{COST_FIELDS[side]: costs_.get(side, 0) for side in COST_FIELDS},
    }


def side_word(side: str, municipality) -> str:
    """Who bore or acted, as a stored 経過 line names it: the issuer's unit (市, 町, 県…)
    for the municipality's side, the side's own label otherwise."""
    if side == Side.MUNICIPALITY:
        return issuer_words(municipality).unit
    return str(Side(side).label)


def _record(
    case: Case, on: date, text: str, action: str, by: User, note: str = "", in_story: bool = True
) -> None:
    """The posting's own 経過 line, and the clerk's note as a line of its own: a note never
    replaces the standard line, and both are internal until staff publish them."""
    actor = actor_of(by)
    add_timeline(case, on=on, actor=actor, text=text, action=action, by=by, in_story=in_story)
    if note.strip():
        add_timeline(case, on=on, actor=actor, text=note.strip(), action="note." + action, by=by)


# The 経過 lines of the postings (the import's compiled path writes them too).


def misallocation_text(amount: int, *, owed: Party, holder: Party) -> str:
    with japanese():
        return _("%(amount)s meant for %(owed)s went to %(holder)s.") % {
            "amount": yen(amount),
            "owed": owed.label,
            "holder": holder.label,
        }


def payment_text(case: Case, amount: int, *, party: Party, method: str, side: str) -> str:
    with japanese():
        return _("Paid %(amount)s to %(party)s (%(method)s, borne by the %(side)s).") % {
            "amount": yen(amount),
            "party": party.label,
            "method": Method(method).label,
            "side": side_word(side, case.municipality),
        }


def collection_text(amount: int, *, party: Party, method: str) -> str:
    with japanese():
        return _("Collected %(amount)s from %(party)s (%(method)s).") % {
            "amount": yen(amount),
            "party": party.label,
            "method": Method(method).label,
        }


def regrant_text(amount: int, *, party: Party) -> str:
    with japanese():
        return _("The national system re-granted %(amount)s in points to %(party)s.") % {
            "amount": yen(amount),
            "party": party.label,
        }


def national_correction_text(amount: int, *, holder: Party, owed: Party) -> str:
    with japanese():
        return _(
            "The national points system corrected the error: %(amount)s in points was "
            "withdrawn from %(holder)s and granted to %(owed)s."
        ) % {"amount": yen(amount), "holder": holder.label, "owed": owed.label}


def write_off_text(party: Party, *, balance: int, reason: str) -> str:
    with japanese():
        return _("Wrote off the balance of %(party)s, %(amount)s (reason: %(reason)s).") % {
            "party": party.label,
            "amount": yen(abs(balance)),
            "reason": reason.strip(),
        }


def _party_display(party: Party) -> str:
    return party.label


@transaction.atomic
def ledger_post_misallocation(
    *,
    case: Case,
    owed: Party,
    holder: Party,
    amount: int,
    on: date,
    by: User,
    note: str = "",
    expected_head: int | None = None,
) -> list[LedgerEntry]:
    """What was meant for `owed` went to `holder`: +amount to owed, −amount to holder."""
    case = _begin(case, by, expected_head, on)
    _check_party(case, owed, "owed")
    _check_party(case, holder, "holder")
    if owed.pk == holder.pk:
        raise RemedyError(_("Choose two different people."), field="holder")
    amount = _check_amount(amount)
    group = uuid.uuid4()
    entries = [
        _post(case, owed, EntryKind.MISALLOCATION, amount, on=on, by=by, note=note, group=group),
        _post(case, holder, EntryKind.MISALLOCATION, -amount, on=on, by=by, note=note, group=group),
    ]
    text = misallocation_text(amount, owed=owed, holder=holder)
    _record(case, on, text, "ledger.misallocation", by, note)
    return entries


# The two postings below check and write one entry without their own transaction or 経過
# line: the ledger_post_* services and visit_record (money handed over at a visit) wrap them.


def post_payment_entry(
    case: Case,
    party: Party,
    amount: int,
    *,
    side: str,
    method: str,
    on: date,
    by: User,
    note: str,
    visit: Visit | None,
) -> LedgerEntry:
    _check_party(case, party)
    amount = _check_amount(amount)
    if side not in (Side.CONTRACTOR, Side.MUNICIPALITY):
        raise RemedyError(_("Choose who paid."), field="side")
    if not is_choice(method, Method) or method == Method.POINTS:
        raise RemedyError(_("Choose how it was paid."), field="method")
    owed = balance_of(party)
    if amount > owed:
        raise RemedyError(
            _("%(party)s is owed %(owed)s; a payment of %(amount)s is more than that.")
            % {"party": party.label, "owed": yen(max(owed, 0)), "amount": yen(amount)},
            field="amount",
        )
    return _post(
        case,
        party,
        EntryKind.PAYMENT,
        -amount,
        side=side,
        method=method,
        on=on,
        by=by,
        note=note,
        visit=visit,
    )


def post_collection_entry(
    case: Case,
    party: Party,
    amount: int,
    *,
    side: str,
    method: str,
    on: date,
    by: User,
    note: str,
    visit: Visit | None,
) -> LedgerEntry:
    _check_party(case, party)
    amount = _check_amount(amount)
    if side not in (Side.CONTRACTOR, Side.MUNICIPALITY):
        raise RemedyError(_("Choose who received the money."), field="side")
    if not is_choice(method, Method) or method == Method.POINTS:
        raise RemedyError(_("Choose how it was returned."), field="method")
    excess = -balance_of(party)
    if amount > excess:
        raise RemedyError(
            _("%(party)s holds an excess of %(excess)s; %(amount)s is more than that.")
            % {"party": party.label, "excess": yen(max(excess, 0)), "amount": yen(amount)},
            field="amount",
        )
    return _post(
        case,
        party,
        EntryKind.COLLECTION,
        amount,
        side=side,
        method=method,
        on=on,
        by=by,
        note=note,
        visit=visit,
    )


@transaction.atomic
def ledger_post_payment(
    *,
    case: Case,
    party: Party,
    amount: int,
    side: str,
    method: str,
    on: date,
    by: User,
    note: str = "",
    expected_head: int | None = None,
) -> LedgerEntry:
    """Money or gift certificates handed to a person who is owed."""
    case = _begin(case, by, expected_head, on)
    entry = post_payment_entry(
        case, party, amount, side=side, method=method, on=on, by=by, note=note, visit=None
    )
    text = payment_text(case, amount, party=party, method=method, side=side)
    _record(case, on, text, "ledger.payment", by, note)
    return entry


@transaction.atomic
def ledger_post_collection(
    *,
    case: Case,
    party: Party,
    amount: int,
    side: str,
    method: str,
    on: date,
    by: User,
    note: str = "",
    expected_head: int | None = None,
) -> LedgerEntry:
    """An excess returned by the person who held it (possibly one instalment of several)."""
    case = _begin(case, by, expected_head, on)
    entry = post_collection_entry(
        case, party, amount, side=side, method=method, on=on, by=by, note=note, visit=None
    )
    text = collection_text(amount, party=party, method=method)
    _record(case, on, text, "ledger.collection", by, note)
    return entry


@transaction.atomic
def ledger_post_regrant(
    *,
    case: Case,
    party: Party,
    amount: int,
    on: date,
    by: User,
    note: str = "",
    expected_head: int | None = None,
) -> LedgerEntry:
    """The national points system granted the person the points owed."""
    case = _begin(case, by, expected_head, on)
    _check_party(case, party)
    amount = _check_amount(amount)
    owed = balance_of(party)
    if amount > owed:
        raise RemedyError(
            _("%(party)s is owed %(owed)s; re-granting %(amount)s is more than that.")
            % {"party": party.label, "owed": yen(max(owed, 0)), "amount": yen(amount)},
            field="amount",
        )
    entry = _post(
        case,
        party,
        EntryKind.REGRANT,
        -amount,
        side=Side.NATIONAL,
        method=Method.POINTS,
        on=on,
        by=by,
        note=note,
    )
    text = regrant_text(amount, party=party)
    _record(case, on, text, "ledger.regrant", by, note)
    return entry


@transaction.atomic
def ledger_post_national_correction(
    *,
    case: Case,
    holder: Party,
    owed: Party,
    amount: int,
    on: date,
    by: User,
    note: str = "",
    expected_head: int | None = None,
) -> list[LedgerEntry]:
    """The national points system moved points it granted to the wrong person back: taken
    from `holder` (+amount) and granted to `owed` (−amount), on the day it did so. Both
    sides are posted together and reversed together; nobody bears a cost (no side), and
    it is not a write-off."""
    case = _begin(case, by, expected_head, on)
    if not points_involved(case):
        raise RemedyError(not_points_message())
    _check_party(case, holder, "holder")
    _check_party(case, owed, "owed")
    if owed.pk == holder.pk:
        raise RemedyError(_("Choose two different people."), field="owed")
    amount = _check_amount(amount)
    held = -balance_of(holder)
    if held <= 0:
        raise RemedyError(
            _("%(party)s holds no excess: the points were not withdrawn from this person.")
            % {"party": holder.label},
            field="holder",
        )
    owed_amount = balance_of(owed)
    if owed_amount <= 0:
        raise RemedyError(
            _("%(party)s is owed nothing: the points were not restored to this person.")
            % {"party": owed.label},
            field="owed",
        )
    if amount > held:
        raise RemedyError(
            _("%(party)s holds an excess of %(excess)s; %(amount)s is more than that.")
            % {"party": holder.label, "excess": yen(held), "amount": yen(amount)},
            field="amount",
        )
    if amount > owed_amount:
        raise RemedyError(
            _("%(party)s is owed %(owed)s; restoring %(amount)s is more than that.")
            % {"party": owed.label, "owed": yen(owed_amount), "amount": yen(amount)},
            field="amount",
        )
    note = (note or "").strip()
    group = uuid.uuid4()
    # Each row with its own audit entry (every ledger row is named by one), both in this
    # transaction: the pair is one action, and one 経過 line tells it.
    entries = [
        _post(
            case, party, EntryKind.NATIONAL_CORRECTION, delta, on=on, by=by, note=note, group=group
        )
        for party, delta in ((holder, amount), (owed, -amount))
    ]
    text = national_correction_text(amount, holder=holder, owed=owed)
    _record(case, on, text, "ledger.national_correction", by, note)
    return entries


@transaction.atomic
def ledger_write_off(
    *, case: Case, party: Party, reason: str, on: date, by: User, expected_head: int | None = None
) -> list[LedgerEntry]:
    """A manager closes a balance that will not be paid or collected, with the reason."""
    case = _begin(case, by, expected_head, on)
    if not permissions.is_manager_of(require_member(by), case):
        raise PermissionDenied(_("Only a manager can approve a write-off."))
    _check_party(case, party)
    if not reason.strip():
        raise RemedyError(_("Enter the reason for the write-off."), field="reason")
    balance = balance_of(party)
    if balance == 0:
        raise RemedyError(
            _("%(party)s has nothing to write off.") % {"party": party.label}, field="party"
        )
    # One entry may hold at most MAX_AMOUNT; a larger balance is written off in parts that
    # share a posting group (and are reversed together).
    group = uuid.uuid4() if abs(balance) > MAX_AMOUNT else None
    entries, remaining = [], -balance
    while remaining:
        part = max(-MAX_AMOUNT, min(MAX_AMOUNT, remaining))
        entries.append(
            _post(
                case,
                party,
                EntryKind.WRITE_OFF,
                part,
                on=on,
                by=by,
                note=reason.strip(),
                group=group,
                approved_by=by,
            )
        )
        remaining -= part
    text = write_off_text(party, balance=balance, reason=reason)
    _record(case, on, text, "ledger.write_off", by, in_story=False)
    return entries


@transaction.atomic
def ledger_reverse(
    *, entry: LedgerEntry, reason: str, on: date, by: User, expected_head: int | None = None
) -> list[LedgerEntry]:
    """Correct a mistaken entry by posting its negation (and its partner's, for a pair)."""
    case = entry.case
    case = _begin(case, by, expected_head, on)
    if not reason.strip():
        raise RemedyError(_("Enter the reason for the reversal."), field="reason")
    entry = LedgerEntry.objects.get(pk=entry.pk, case=case)
    if entry.kind == EntryKind.REVERSAL:
        raise RemedyError(_("A reversal cannot itself be reversed."), field="entry")
    if entry.kind == EntryKind.WRITE_OFF and not permissions.is_manager_of(
        require_member(by), case
    ):
        raise PermissionDenied(_("Only a manager can approve a write-off."))
    targets = (
        list(LedgerEntry.objects.filter(case=case, group=entry.group).order_by("id"))
        if entry.group
        else [entry]
    )
    if any(LedgerEntry.objects.filter(reverses=t).exists() for t in targets):
        raise RemedyError(_("This entry has already been reversed."), field="entry")
    reversals = [
        _post(
            case,
            t.party,
            EntryKind.REVERSAL,
            -t.delta,
            side=t.side,
            method=t.method,
            on=on,
            by=by,
            note=reason.strip(),
            reverses=t,
        )
        for t in targets
    ]
    with translation.override("ja"):
        text = _("Reversed the entry of %(date)s (%(kind)s, %(party)s %(amount)s): %(reason)s.") % {
            "date": wareki(entry.on),
            "kind": EntryKind(entry.kind).label,
            "party": entry.party.label,
            "amount": yen(abs(entry.delta)),
            "reason": reason.strip(),
        }
    _record(case, on, text, "ledger.reversal", by, in_story=False)
    return reversals
