"""Ledger and stage invariants under random sequences of the real services.

A Hypothesis state machine builds a small case (2–4 people, a misregistration link, the
cause and prevention recorded) and then posts misallocations, payments, collections in
instalments, regrants, corrections by the national system, write-offs, reversals, visits,
letters (recorded by hand or issued as お詫び状), agency answers, agreements and every
stage step, as staff, manager or contractor, with amounts from the absurd to the real. The
test keeps its own model of the case and predicts, before every call, whether the service
must accept it or refuse it, and how (what is allowed is written from DESIGN.md; where several
refusals apply, which one is given follows the order the services check in):

- denied   — PermissionDenied (the role or the stage does not allow it);
- conflict — RemedyError(conflict=True) (the form was stale);
- invalid  — RemedyError or CaseError naming what is wrong.

A refused call must leave the case exactly as it was. After every step the balances, the
entries and the close guard are checked against the rows themselves.
"""

from datetime import date, timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.test import TestCase, override_settings
from django_scopes import scopes_disabled
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from cases import services
from cases.errors import CaseError
from cases.models import (
    Agency,
    AuditEntry,
    Case,
    CaseKind,
    CauseCategory,
    DataKind,
    Party,
    Role,
    Stage,
    TimelineEvent,
)
from cases.scoping import tenant_scope
from remedies import ledger
from remedies import services as remedies
from remedies.documents.services import document_issue
from remedies.errors import RemedyError
from remedies.models import (
    MAX_AMOUNT,
    AgencyContact,
    ApologyLetter,
    Channel,
    CityLedgerTotal,
    CompensationAgreement,
    DocumentKind,
    EntryKind,
    LedgerEntry,
    LedgerTotal,
    Method,
    Purpose,
    Side,
    Visit,
)
from remedies.workflow import case_transition

from ..factories import ContractorFactory, MunicipalityFactory, OfficeFactory, member

ON = date(2023, 3, 1)
TOMORROW = date.today() + timedelta(days=2)  # "in the future" in any time zone
FAST_HASHER = ["django.contrib.auth.hashers.MD5PasswordHasher"]

DENIED, CONFLICT, INVALID = "denied", "conflict", "invalid"
REFUSALS = (RemedyError, CaseError, PermissionDenied)

OPEN = {Stage.INQUIRY, Stage.AGENCY_CONTACT, Stage.NEGOTIATION, Stage.VISIT, Stage.SETTLEMENT}
# DESIGN.md, "The stage machine": step -> (from, to). Written out here, not read from the
# code under test, so that the test is an independent oracle.
STEPS = {
    "refer": ({Stage.INQUIRY}, Stage.AGENCY_CONTACT),
    "negotiate": ({Stage.AGENCY_CONTACT}, Stage.NEGOTIATION),
    "plan_visits": ({Stage.AGENCY_CONTACT}, Stage.VISIT),
    "agree": ({Stage.NEGOTIATION}, Stage.VISIT),
    "settle": ({Stage.VISIT}, Stage.SETTLEMENT),
    "close": ({Stage.VISIT, Stage.SETTLEMENT}, Stage.CLOSED),
    "withdraw": (OPEN, Stage.WITHDRAWN),
    "reopen": ({Stage.CLOSED, Stage.WITHDRAWN}, Stage.INQUIRY),
}
MANAGERS_ONLY = {"close", "withdraw", "reopen"}
NEEDS_REASON = {"withdraw", "reopen"}

PEOPLE = st.sampled_from(["staff", "staff", "manager", "manager", "contractor"])
PARTY = st.integers(min_value=0, max_value=3)
CITY = st.sampled_from(["staff", "manager"])
DATES = st.sampled_from([ON] * 9 + [TOMORROW])
HEADS = st.sampled_from(["none"] * 2 + ["current"] * 5 + ["stale"])
REASONS = st.sampled_from(["回収不能のため", "誤入力の訂正", "相手方と合意", "重複", ""])
NOTES = st.sampled_from(["委託事業者と協議", "重複登録のため", "", " "])
# Where an example starts: the case is walked there through the rules themselves, so that
# the later stages get as many random steps as the early ones.
STARTS = [
    "inquiry",
    "agency_contact",
    "agency_contact_owed",
    "negotiation",
    "visit",
    "visit_after_talks",
    "settlement",
    "ready_to_close",
    "closed",
]
AMOUNTS = st.one_of(
    st.integers(min_value=1, max_value=30_000),
    st.sampled_from([0, -1, -5_000, MAX_AMOUNT, MAX_AMOUNT + 1, 25_000_000, -MAX_AMOUNT]),
    st.integers(min_value=-3 * MAX_AMOUNT, max_value=3 * MAX_AMOUNT),
)
# A payment or collection is usually a share of what is open: all of it, or an instalment.
PORTIONS = st.sampled_from([None, 1, 1, 1, 2, 3])
TAMPERING = [
    "save",
    "delete",
    "queryset_update",
    "queryset_delete",
    "related_update",
    "related_delete",
    "bulk_update",
]


class _Rollback(Exception):
    pass


def _kind_of(error: Exception) -> str:
    if isinstance(error, PermissionDenied):
        return DENIED
    if getattr(error, "conflict", False):
        return CONFLICT
    return INVALID


def _tamper(entry: LedgerEntry, how: str) -> None:
    # In a savepoint of its own: bulk_update() runs in atomic(savepoint=False), and an error
    # there would otherwise poison the surrounding transaction.
    with transaction.atomic():
        if how == "save":
            entry.delta = entry.delta * 2
            entry.note = "書き換え"
            entry.save()
        elif how == "delete":
            entry.delete()
        elif how == "queryset_update":
            LedgerEntry.objects.filter(pk=entry.pk).update(delta=1)
        elif how == "queryset_delete":
            LedgerEntry.objects.filter(pk=entry.pk).delete()
        elif how == "related_update":
            entry.case.ledger.filter(pk=entry.pk).update(note="書き換え")
        elif how == "related_delete":
            entry.case.ledger.all().delete()
        elif how == "bulk_update":
            entry.delta = -entry.delta
            LedgerEntry.objects.bulk_update([entry], ["delta"])


def _row(entry_pk: int) -> tuple:
    return tuple(
        LedgerEntry.objects.filter(pk=entry_pk).values_list(
            "case", "party", "kind", "delta", "side", "method", "on", "note", "reverses"
        )
    )


class LedgerMachine(RuleBasedStateMachine):
    """One case, worked at random by its city staff, its manager and the desk contractor."""

    # ---- the world ------------------------------------------------------------------------

    @initialize(
        identified=st.lists(st.booleans(), min_size=2, max_size=4),
        source=PARTY,
        start=st.sampled_from(STARTS),
        amount=st.integers(min_value=1, max_value=50_000),
        apologies=st.lists(st.booleans(), min_size=4, max_size=4),
    )
    def build_world(self, identified, source, start, amount, apologies):
        # Each example runs inside its own savepoint, rolled back in teardown, so that the
        # examples of one Django TestCase never see each other's rows.
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        self._scope = scopes_disabled()
        self._scope.__enter__()

        city = MunicipalityFactory()
        company = ContractorFactory(serves=[city])
        # A second company, for a case handed from one contractor to another and back.
        self.companies = [company, ContractorFactory(serves=[city]), None]
        office = OfficeFactory(municipality=city)
        self.users = {
            "staff": member(Role.STAFF, municipality=city),
            "manager": member(Role.MANAGER, municipality=city),
            "contractor": member(Role.CONTRACTOR, contractor=company),
        }
        self.agency, _ = Agency.objects.get_or_create(
            name="デジタル庁", defaults={"kind": Agency.Kind.NATIONAL}
        )
        staff = self.users["staff"]
        with tenant_scope(staff):
            case = services.case_open(
                by=staff,
                office=office,
                contractor=company,
                kind=CaseKind.CASHLESS_LINK,
                discovered_on=date(2023, 2, 7),
                cause_category=CauseCategory.LOGOUT_OMITTED,
                cause_text="ログアウト漏れ",
                prevention="一人の対応を終える度に必ずログアウトする。",
            )
            self.parties = [
                services.party_add(
                    case=case,
                    by=staff,
                    label=f"{chr(ord('A') + i)}氏",
                    identified=known,
                    name=f"対象 {i}" if known else "",
                    identification_note="" if known else "身元をデジタル庁に照会中",
                )
                for i, known in enumerate(identified)
            ]
            source_index = source % len(self.parties) or 1  # anyone but A, the target
            source, target = self.parties[source_index], self.parties[0]
            services.misregistration_add(
                case=case,
                by=staff,
                source=source,
                target=target,
                data_kind=DataKind.CASHLESS_ACCOUNT,
                paid_through=True,
                corrected_on=date(2023, 2, 7),  # corrected on the spot: closing may follow
            )
        self.case_pk = case.pk

        # The model: what the case should be, kept by the test from what it was told.
        self.stage = Stage.INQUIRY
        self.balance = {p.pk: 0 for p in self.parties}
        self.identified = {p.pk for p in self.parties if p.identified}
        self.reached = set()  # a visit or a letter
        self.apologised = set()  # a visit with an apology, or a letter
        self.issued = set()  # an お詫び状 issued in Tadasu
        self.answered = False
        self.agreed = False
        self.prevention = True
        self.entries = 0
        self._walk_to(start, holder=source_index, amount=amount, apologies=apologies)

    def _walk_to(self, start: str, *, holder: int, amount: int, apologies: list[bool]) -> None:
        """Walk the new case to `start` through the rules (each still checked). Each person
        visited on the way is apologised to or not as `apologies` says (always, for a case
        that is to be closed)."""
        if start == "closed":
            apologies = [True] * len(apologies)
        if start == "inquiry":
            return
        self.contact_agency("staff", answered=True)
        self.transition("staff", "refer", "current", "", ON)
        if start == "agency_contact_owed":
            self.misallocate("staff", 0, holder, amount, ON, "current")
        if start.startswith("agency_contact"):
            return
        if start == "visit":
            self.transition("staff", "plan_visits", "current", "", ON)
        else:
            self.misallocate("staff", 0, holder, amount, ON, "current")
            self.transition("staff", "negotiate", "current", "", ON)
            if start == "negotiation":
                return
            self.agree_compensation("staff", amount)
            self.transition("staff", "agree", "current", "", ON)
        if start in ("ready_to_close", "closed"):
            # The contractor hands the owed person the amount; the holder's excess is
            # collected at a joint check (the Yahatanishi story).
            self.visit("contractor", 0, None, apologies[0], "hand_over", 0, 1, ON, "current")
            self.visit("staff", 0, None, apologies[holder], "collect", 0, 1, ON, "current")
        if start in ("settlement", "ready_to_close", "closed"):
            for index, party in enumerate(self.parties):
                if party.pk in self.identified and party.pk not in self.reached:
                    self.visit("staff", index, None, apologies[index], "none", 0, None, ON, "none")
            self.transition("staff", "settle", "current", "", ON)
        if start == "closed":
            self.transition("manager", "close", "current", "", ON)
        expected = {
            "agency_contact_owed": Stage.AGENCY_CONTACT,
            "visit_after_talks": Stage.VISIT,
            "ready_to_close": Stage.SETTLEMENT,
        }.get(start, start)
        assert self.stage == expected, (start, self.stage)

    def teardown(self):
        if hasattr(self, "_atomic"):
            self._scope.__exit__(None, None, None)
            transaction.set_rollback(True)
            self._atomic.__exit__(None, None, None)

    # ---- helpers --------------------------------------------------------------------------

    def _case(self) -> Case:
        # What a view does: load the case afresh for each request.
        return Case.objects.get(pk=self.case_pk)

    def _party(self, index: int, sign: int = 0) -> Party:
        """A party by index; with a sign, preferably one whose balance has that sign (someone
        owed, for a payment), so that the money rules are not mostly refusals."""
        suitable = [p for p in self.parties if self.balance[p.pk] * sign > 0]
        people = suitable or self.parties
        return people[index % len(people)]

    def _snapshot(self) -> tuple:
        case = self._case()
        per_case = [
            m.objects.filter(case=case).count()
            for m in (
                LedgerEntry,
                Visit,
                ApologyLetter,
                AgencyContact,
                CompensationAgreement,
                TimelineEvent,
                AuditEntry,
            )
        ]
        answers = AgencyContact.objects.filter(case=case, answered_on__isnull=False).count()
        identified = sorted(Party.objects.filter(case=case, identified=True).values_list("pk"))
        return (case.stage, case.prevention, answers, identified, *per_case)

    def _head(self, head: str) -> int | None:
        current = ledger.ledger_head(self._case())
        return {"none": None, "current": current, "stale": current - 1}[head]

    def _editor(self, who: str) -> bool:
        return who in ("staff", "manager") and self.stage in OPEN

    def _ledger_refusal(self, who: str, head: str, on: date) -> str | None:
        """Refusals shared by every ledger write, in the order the services check them."""
        if not self._editor(who):
            return DENIED
        if head == "stale":
            return CONFLICT
        if on > date.today():
            return INVALID
        return None

    def _attempt(self, who: str, refused, call):
        """Call a service as `who`. `refused` is None when it must succeed, else the kind (or
        kinds) of refusal it must give; a refusal must change nothing."""
        kinds = (refused,) if isinstance(refused, str) else refused
        before = self._snapshot()
        try:
            with tenant_scope(self.users[who]):
                result = call(self.users[who])
        except REFUSALS as error:
            assert refused is not None, f"refused unexpectedly: {error!r}"
            assert _kind_of(error) in kinds, f"expected {kinds}, got {error!r}"
            assert self._snapshot() == before, "a refused call changed the case"
            return None
        assert refused is None, f"accepted although it should be refused ({kinds})"
        return result

    def _open_amount(self, party: Party, amount: int, portion: int | None) -> int:
        if portion is None:
            return amount
        return max(abs(self.balance[party.pk]) // portion, 1)

    # ---- the ledger -----------------------------------------------------------------------

    @precondition(lambda self: self.stage in OPEN)
    @rule(who=CITY, to=st.sampled_from([1, 2]))
    def hand_to_another_contractor(self, who, to):
        """The city corrects the case's contractor, and then corrects it back (the desk
        contractor's staff are among the people acting on the case). The city's money
        totals per contractor follow the case both ways."""
        user = self.users[who]
        first = self.companies[0]
        with tenant_scope(user):
            services.case_update(case=self._case(), by=user, contractor=self.companies[to])
            assert self._case().contractor == self.companies[to]
            self.city_totals_are_the_sums_of_the_case_totals()
            services.case_update(case=self._case(), by=user, contractor=first)
        assert self._case().contractor == first

    @rule(who=PEOPLE, owed=PARTY, holder=PARTY, amount=AMOUNTS, on=DATES, head=HEADS)
    def misallocate(self, who, owed, holder, amount, on, head):
        owed, holder = self._party(owed), self._party(holder)
        refused = self._ledger_refusal(who, head, on) or (
            INVALID if owed.pk == holder.pk or not 1 <= amount <= MAX_AMOUNT else None
        )
        done = self._attempt(
            who,
            refused,
            lambda by: ledger.ledger_post_misallocation(
                case=self._case(),
                owed=owed,
                holder=holder,
                amount=amount,
                on=on,
                by=by,
                expected_head=self._head(head),
            ),
        )
        if done:
            self.balance[owed.pk] += amount
            self.balance[holder.pk] -= amount
            self.entries += 2

    def _pay_or_collect(self, who, party, amount, on, head, *, sign: int) -> str | None:
        # sign -1: a payment (needs that much owed); +1: a collection (that much excess).
        open_amount = -sign * self.balance[party.pk]
        return self._ledger_refusal(who, head, on) or (
            INVALID if not 1 <= amount <= MAX_AMOUNT or amount > open_amount else None
        )

    @rule(
        who=PEOPLE,
        party=PARTY,
        amount=AMOUNTS,
        portion=PORTIONS,
        side=st.sampled_from([Side.CONTRACTOR, Side.MUNICIPALITY]),
        method=st.sampled_from([Method.CASH, Method.BANK_TRANSFER, Method.GIFT_CERTIFICATE]),
        on=DATES,
        head=HEADS,
    )
    def pay(self, who, party, amount, portion, side, method, on, head):
        party = self._party(party, sign=+1)
        amount = self._open_amount(party, amount, portion)
        refused = self._pay_or_collect(who, party, amount, on, head, sign=-1)
        done = self._attempt(
            who,
            refused,
            lambda by: ledger.ledger_post_payment(
                case=self._case(),
                party=party,
                amount=amount,
                side=side,
                method=method,
                on=on,
                by=by,
                expected_head=self._head(head),
            ),
        )
        if done:
            self.balance[party.pk] -= amount
            self.entries += 1

    @rule(who=PEOPLE, party=PARTY, amount=AMOUNTS, portion=PORTIONS, on=DATES, head=HEADS)
    def collect(self, who, party, amount, portion, on, head):
        party = self._party(party, sign=-1)
        amount = self._open_amount(party, amount, portion)
        refused = self._pay_or_collect(who, party, amount, on, head, sign=+1)
        done = self._attempt(
            who,
            refused,
            lambda by: ledger.ledger_post_collection(
                case=self._case(),
                party=party,
                amount=amount,
                side=Side.CONTRACTOR,
                method=Method.CASH,
                on=on,
                by=by,
                expected_head=self._head(head),
            ),
        )
        if done:
            self.balance[party.pk] += amount
            self.entries += 1

    @rule(who=PEOPLE, party=PARTY, amount=AMOUNTS, portion=PORTIONS, on=DATES, head=HEADS)
    def regrant(self, who, party, amount, portion, on, head):
        party = self._party(party, sign=+1)
        amount = self._open_amount(party, amount, portion)
        refused = self._pay_or_collect(who, party, amount, on, head, sign=-1)
        done = self._attempt(
            who,
            refused,
            lambda by: ledger.ledger_post_regrant(
                case=self._case(),
                party=party,
                amount=amount,
                on=on,
                by=by,
                expected_head=self._head(head),
            ),
        )
        if done:
            self.balance[party.pk] -= amount
            self.entries += 1

    @rule(
        who=PEOPLE,
        holder=PARTY,
        owed=PARTY,
        amount=AMOUNTS,
        portion=PORTIONS,
        on=DATES,
        head=HEADS,
    )
    def correct_nationally(self, who, holder, owed, amount, portion, on, head):
        """The national points system takes points back from the holder and grants them to
        the person owed: both balances move by the amount, and nobody's cost moves."""
        holder, owed = self._party(holder, sign=-1), self._party(owed, sign=+1)
        held, due = -self.balance[holder.pk], self.balance[owed.pk]
        if portion is not None:
            amount = max(min(held, due) // portion, 1)
        refused = self._ledger_refusal(who, head, on) or (
            INVALID
            if owed.pk == holder.pk
            or not 1 <= amount <= MAX_AMOUNT
            or held <= 0
            or due <= 0
            or amount > min(held, due)
            else None
        )
        costs = ledger.costs(self._case())
        done = self._attempt(
            who,
            refused,
            lambda by: ledger.ledger_post_national_correction(
                case=self._case(),
                holder=holder,
                owed=owed,
                amount=amount,
                on=on,
                by=by,
                expected_head=self._head(head),
            ),
        )
        if done:
            assert {(e.party_id, e.delta, e.side) for e in done} == {
                (holder.pk, amount, ""),
                (owed.pk, -amount, ""),
            }
            assert ledger.costs(self._case()) == costs
            self.balance[holder.pk] += amount
            self.balance[owed.pk] -= amount
            self.entries += 2

    @rule(who=PEOPLE, party=PARTY, reason=REASONS, on=DATES, head=HEADS)
    def write_off(self, who, party, reason, on, head):
        with_balance = [p for p in self.parties if self.balance[p.pk]] or self.parties
        party = with_balance[party % len(with_balance)]
        balance = self.balance[party.pk]
        refused = self._ledger_refusal(who, head, on)
        if refused is None and who != "manager":
            refused = DENIED
        if refused is None and (not reason.strip() or balance == 0):
            refused = INVALID
        done = self._attempt(
            who,
            refused,
            lambda by: ledger.ledger_write_off(
                case=self._case(),
                party=party,
                reason=reason,
                on=on,
                by=by,
                expected_head=self._head(head),
            ),
        )
        if done:
            # Over MAX_AMOUNT the balance is written off in parts (each within range).
            assert sum(e.delta for e in done) == -balance
            assert {e.approved_by_id for e in done} == {self.users["manager"].pk}
            self.balance[party.pk] = 0
            self.entries += len(done)

    @precondition(lambda self: self.entries > 0)
    @rule(who=PEOPLE, pick=st.integers(min_value=0), reason=REASONS, on=DATES, head=HEADS)
    def reverse(self, who, pick, reason, on, head):
        rows = list(LedgerEntry.objects.filter(case_id=self.case_pk).order_by("id"))
        entry = rows[pick % len(rows)]
        posted_together = [r for r in rows if entry.group and r.group == entry.group] or [entry]
        already = LedgerEntry.objects.filter(reverses__in=posted_together).exists()
        refused = self._ledger_refusal(who, head, on)
        if refused is None:
            if not reason.strip() or entry.kind == EntryKind.REVERSAL:
                refused = INVALID
            elif entry.kind == EntryKind.WRITE_OFF and who != "manager":
                refused = DENIED
            elif already:
                refused = INVALID
        done = self._attempt(
            who,
            refused,
            lambda by: ledger.ledger_reverse(
                entry=LedgerEntry.objects.get(pk=entry.pk),
                reason=reason,
                on=on,
                by=by,
                expected_head=self._head(head),
            ),
        )
        if done:
            assert sorted(r.reverses_id for r in done) == sorted(r.pk for r in posted_together)
            for reversed_ in posted_together:
                self.balance[reversed_.party_id] -= reversed_.delta
            self.entries += len(posted_together)

    # ---- visits, letters, the agencies and the agreement ----------------------------------

    @rule(
        who=PEOPLE,
        party=PARTY,
        purpose=st.one_of(st.none(), st.sampled_from(Purpose.values)),
        apologised=st.booleans(),
        money=st.sampled_from(["none", "none", "hand_over", "collect", "both"]),
        amount=AMOUNTS,
        portion=PORTIONS,
        on=DATES,
        head=HEADS,
    )
    def visit(self, who, party, purpose, apologised, money, amount, portion, on, head):
        party = self._party(party, sign={"hand_over": +1, "collect": -1}.get(money, 0))
        if purpose is None:  # the purpose that goes with the money
            purpose = {"hand_over": Purpose.HAND_OVER, "collect": Purpose.COLLECTION}.get(
                money, Purpose.APOLOGY
            )
        amount = self._open_amount(party, amount, portion)
        handed = amount if money in ("hand_over", "both") else 0
        collected = amount if money in ("collect", "both") else 0
        balance = self.balance[party.pk]
        if self.stage not in OPEN:
            refused = DENIED  # the desk contractor records visits too, but not on a shut case
        elif head == "stale":
            refused = CONFLICT
        elif (
            on > date.today()
            or (handed and collected)
            or (purpose == Purpose.HAND_OVER and not handed)
            or (purpose == Purpose.COLLECTION and not collected)
            or handed < 0
            or collected < 0
            or (handed and (handed > MAX_AMOUNT or handed > balance))
            or (collected and (collected > MAX_AMOUNT or collected > -balance))
        ):
            refused = INVALID
        else:
            refused = None
        done = self._attempt(
            who,
            refused,
            lambda by: remedies.visit_record(
                case=self._case(),
                by=by,
                party=party,
                visited_on=on,
                place="対象者宅",
                purpose=purpose,
                apologised=apologised,
                handed_over=handed,
                collected=collected,
                expected_head=self._head(head),
            ),
        )
        if done:
            assert (done.party_id, done.purpose, done.apologised) == (
                party.pk,
                purpose,
                apologised,
            )
            self.reached.add(party.pk)
            if apologised:
                self.apologised.add(party.pk)
            self.balance[party.pk] += collected - handed
            self.entries += bool(handed) + bool(collected)

    @rule(who=PEOPLE, party=PARTY, on=DATES)
    def letter(self, who, party, on):
        party = self._party(party)
        if not self._editor(who):
            refused = DENIED
        elif on > date.today() or party.pk not in self.identified or party.pk in self.issued:
            refused = INVALID  # an issued お詫び状 is not recorded a second time by hand
        else:
            refused = None
        done = self._attempt(
            who,
            refused,
            lambda by: remedies.letter_record(
                case=self._case(), by=by, party=Party.objects.get(pk=party.pk), sent_on=on
            ),
        )
        if done:
            self.reached.add(party.pk)
            self.apologised.add(party.pk)

    @rule(who=PEOPLE, party=PARTY)
    def issue_apology(self, who, party):
        """Issuing a お詫び状 is the apology record of its person, on any stage (documents
        are issued on closed cases too); contractor staff issue no documents."""
        party = self._party(party)
        if who == "contractor":
            refused = DENIED
        elif party.pk not in self.identified:
            refused = INVALID
        else:
            refused = None
        done = self._attempt(
            who,
            refused,
            lambda by: document_issue(
                kind=DocumentKind.APOLOGY,
                by=by,
                case=self._case(),
                party=Party.objects.get(pk=party.pk),
                dated=ON,
            ),
        )
        if done:
            assert ApologyLetter.objects.get(document=done).sent_on == ON
            self.issued.add(party.pk)
            self.reached.add(party.pk)
            self.apologised.add(party.pk)

    @rule(who=PEOPLE, answered=st.booleans())
    def contact_agency(self, who, answered):
        done = self._attempt(
            who,
            None if self._editor(who) else DENIED,
            lambda by: remedies.contact_add(
                case=self._case(),
                by=by,
                agencies=[self.agency],
                contacted_on=ON,
                channel=Channel.PHONE,
                request="口座の状態について調査を依頼。",
                answered_on=ON if answered else None,
                answer="ポイントは付与済み。" if answered else "",
            ),
        )
        if done and answered:
            self.answered = True

    @rule(who=PEOPLE, amount=AMOUNTS)
    def agree_compensation(self, who, amount):
        if not self._editor(who):
            refused = DENIED
        else:
            refused = None if 1 <= amount <= MAX_AMOUNT else INVALID
        done = self._attempt(
            who,
            refused,
            lambda by: remedies.agreement_add(
                case=self._case(),
                by=by,
                payer=Side.CONTRACTOR,
                amount=amount,
                form=Method.CASH,
                agreed_on=ON,
            ),
        )
        if done:
            self.agreed = True

    @rule(who=PEOPLE, text=st.sampled_from(["毎回ログアウトする。", "", "  "]))
    def record_prevention(self, who, text):
        done = self._attempt(
            who,
            None if self._editor(who) else DENIED,
            lambda by: services.case_update(case=self._case(), by=by, prevention=text),
        )
        if done:
            self.prevention = bool(text.strip())

    @precondition(lambda self: len(self.identified) < len(self.parties))
    @rule(who=PEOPLE, pick=st.integers(min_value=0))
    def identify(self, who, pick):
        unknown = [p for p in self.parties if p.pk not in self.identified]
        party = unknown[pick % len(unknown)]
        done = self._attempt(
            who,
            None if self._editor(who) else DENIED,
            lambda by: services.party_update(
                party=Party.objects.get(pk=party.pk), by=by, identified=True, name="判明 氏名"
            ),
        )
        if done:
            self.identified.add(party.pk)

    # ---- the stage machine ----------------------------------------------------------------

    def _blocked(self, step: str) -> bool:
        """The guards of DESIGN.md, from the model."""
        balances = self.balance.values()
        return {
            "refer": False,  # the world has a link and a cause from the start
            "negotiate": not self.answered or all(b == 0 for b in balances),
            "plan_visits": not self.answered or any(b != 0 for b in balances),
            "agree": not self.agreed,
            "settle": not self.identified <= self.reached,
            "close": self._close_blocked(),
            "withdraw": False,
            "reopen": False,
        }[step]

    def _close_blocked(self) -> bool:
        return (
            any(b != 0 for b in self.balance.values())
            or not self.identified <= self.apologised
            or not self.prevention
        )

    @rule(
        who=PEOPLE,
        step=st.sampled_from(list(STEPS)),
        expected=st.sampled_from(["none", "current", "current", "current", "stale"]),
        note=NOTES,
        on=DATES,
    )
    def transition(self, who, step, expected, note, on):
        sources, target = STEPS[step]
        if expected == "stale":
            expected_stage = next(s for s in Stage.values if s != self.stage)
        else:
            expected_stage = self.stage if expected == "current" else None
        if expected == "stale":
            refused = CONFLICT
        elif self.stage not in sources:
            refused = INVALID
        elif who == "contractor" or (step in MANAGERS_ONLY and who != "manager"):
            refused = DENIED
        elif (
            self._blocked(step) or (step in NEEDS_REASON and not note.strip()) or on > date.today()
        ):
            refused = INVALID
        else:
            refused = None
        done = self._attempt(
            who,
            refused,
            lambda by: case_transition(
                case=self._case(),
                step=step,
                by=by,
                expected_stage=expected_stage,
                on=on,
                note=note,
            ),
        )
        if done:
            assert done.stage == target
            self.stage = target

    @rule(who=CITY, pick=st.integers(min_value=0), note=NOTES)
    def advance(self, who, pick, note):
        """Press one of the buttons of the current stage, as the page shows them to a
        manager (staff see fewer: they press a manager's button here and are refused)."""
        offered = [step for step, (sources, _) in STEPS.items() if self.stage in sources]
        self.transition(who, offered[pick % len(offered)], "current", note, ON)

    # ---- append-only ----------------------------------------------------------------------

    @precondition(lambda self: self.entries > 0)
    @rule(pick=st.integers(min_value=0), how=st.sampled_from(TAMPERING))
    def tamper(self, pick, how):
        rows = list(LedgerEntry.objects.filter(case_id=self.case_pk).order_by("id"))
        entry = rows[pick % len(rows)]
        before = _row(entry.pk)
        with pytest.raises(TypeError):
            _tamper(entry, how)
        assert _row(entry.pk) == before
        assert LedgerEntry.objects.filter(case_id=self.case_pk).count() == len(rows)

    # ---- invariants -----------------------------------------------------------------------

    @invariant()
    def stage_is_the_models(self):
        assert self._case().stage == self.stage

    @invariant()
    def visits_letters_and_answers_are_the_models(self):
        case = self._case()
        letters = set(ApologyLetter.objects.filter(case=case).values_list("party_id", flat=True))
        visits = Visit.objects.filter(case=case)
        reached = set(visits.values_list("party_id", flat=True)) | letters
        apologised = set(visits.filter(apologised=True).values_list("party_id", flat=True))
        assert (reached, apologised | letters) == (self.reached, self.apologised)
        answered = AgencyContact.objects.filter(case=case, answered_on__isnull=False).exists()
        assert answered == self.answered
        assert CompensationAgreement.objects.filter(case=case).exists() == self.agreed
        assert bool(case.prevention.strip()) == self.prevention

    @invariant()
    def balances_are_the_sums_of_the_rows(self):
        case = self._case()
        rows = list(LedgerEntry.objects.filter(case=case).values_list("party_id", "delta"))
        assert len(rows) == self.entries
        summed = dict.fromkeys(self.balance, 0)
        for party_id, delta in rows:
            summed[party_id] += delta
        reported = {b.party.pk: b.amount for b in ledger.balances(case)}
        assert reported == summed
        assert summed == self.balance

    @invariant()
    def the_case_page_sums_the_entries_it_has_read(self):
        """The case page sums the ledger it has read (balances, costs, head): the figures
        the queries give, after every step."""
        case = self._case()
        entries = list(LedgerEntry.objects.filter(case=case))
        summed = [(b.party.pk, b.amount) for b in ledger.balances_from_entries(case, entries)]
        assert summed == [(b.party.pk, b.amount) for b in ledger.balances(case)]
        assert ledger.costs_from_entries(entries) == ledger.costs(case)
        assert max((e.pk for e in entries), default=0) == ledger.ledger_head(case)

    @invariant()
    def the_dashboard_totals_follow_every_entry(self):
        """LedgerTotal, kept entry by entry by the services, equals what the entries say."""
        case = self._case()
        stored = LedgerTotal.objects.filter(case=case).values(*ledger.derived_total(case)).first()
        derived = ledger.derived_total(case)
        assert (stored or dict.fromkeys(derived, 0)) == derived

    @invariant()
    def city_totals_are_the_sums_of_the_case_totals(self):
        """CityLedgerTotal, kept by the services per municipality and contractor, equals
        the sum of the case totals (this city has only this one case)."""
        city = self._case().municipality_id
        stored = {
            row[0]: row[1:]
            for row in CityLedgerTotal.objects.filter(municipality_id=city).values_list(
                "contractor_id", *ledger.TOTAL_FIELDS
            )
            if any(row[1:])
        }
        derived = {
            contractor: tuple(values[f] for f in ledger.TOTAL_FIELDS)
            for (m, contractor), values in ledger.derived_city_totals().items()
            if m == city and any(values.values())
        }
        assert stored == derived

    @invariant()
    def entries_are_within_range_and_reversals_negate_their_entry(self):
        rows = {e.pk: e for e in LedgerEntry.objects.filter(case_id=self.case_pk)}
        for entry in rows.values():
            assert 1 <= abs(entry.delta) <= MAX_AMOUNT
            if entry.kind in (EntryKind.PAYMENT, EntryKind.REGRANT):
                assert entry.delta < 0
            if entry.kind == EntryKind.COLLECTION:
                assert entry.delta > 0
            if entry.kind == EntryKind.WRITE_OFF:
                assert entry.approved_by_id == self.users["manager"].pk
            if entry.kind != EntryKind.REVERSAL:
                assert entry.reverses_id is None
                continue
            original = rows[entry.reverses_id]
            assert original.kind != EntryKind.REVERSAL
            assert (original.party_id, original.delta) == (entry.party_id, -entry.delta)
        # Entries posted together (a misallocation's two sides) are reversed together.
        reversed_ids = {e.reverses_id for e in rows.values() if e.reverses_id}
        groups = {}
        for entry in rows.values():
            if entry.group:
                groups.setdefault(entry.group, set()).add(entry.pk in reversed_ids)
        assert all(len(flags) == 1 for flags in groups.values())

    @invariant()
    def close_succeeds_exactly_when_its_guards_hold(self):
        case = self._case()
        sums = {}
        for party_id, delta in LedgerEntry.objects.filter(case=case).values_list(
            "party_id", "delta"
        ):
            sums[party_id] = sums.get(party_id, 0) + delta
        apologised = set(
            Visit.objects.filter(case=case, apologised=True).values_list("party_id", flat=True)
        ) | set(ApologyLetter.objects.filter(case=case).values_list("party_id", flat=True))
        identified = set(
            Party.objects.filter(case=case, identified=True).values_list("pk", flat=True)
        )
        guards_hold = (
            all(total == 0 for total in sums.values())
            and identified <= apologised
            and bool(case.prevention.strip())
            and case.stage in (Stage.VISIT, Stage.SETTLEMENT)
        )
        assert guards_hold == (self.stage in STEPS["close"][0] and not self._close_blocked())

        manager = self.users["manager"]
        closed = False
        try:
            with transaction.atomic(), tenant_scope(manager):
                try:
                    case_transition(case=case, step="close", by=manager)
                except REFUSALS:
                    pass
                else:
                    closed = True
                    raise _Rollback  # only asking; the rules decide when it really closes
        except _Rollback:
            pass
        assert closed == guards_hold
        assert self._case().stage == self.stage


# About 25 s on SQLite and 40 s on PostgreSQL (2 cores): every step also runs the invariants
# and a trial close.
LedgerMachine.TestCase.settings = settings(max_examples=50, stateful_step_count=30, deadline=None)


@override_settings(PASSWORD_HASHERS=FAST_HASHER)
class TestLedgerMachine(LedgerMachine.TestCase, TestCase):
    """The machine run under a Django TestCase (pytest-django's `db` fixture does not reach
    Hypothesis' state machine); each example rolls back its own savepoint."""


# ---- the same rules, one by one ------------------------------------------------------------


def _two_people(world):
    with tenant_scope(world.staff):
        case = services.case_open(
            by=world.staff,
            office=world.office,
            contractor=world.contractor_co,
            kind=CaseKind.CASHLESS_LINK,
            discovered_on=date(2023, 2, 7),
            cause_category=CauseCategory.LOGOUT_OMITTED,
            prevention="一人の対応を終える度に必ずログアウトする。",
        )
        c = services.party_add(case=case, by=world.staff, label="C氏", name="佐藤 花子")
        d = services.party_add(case=case, by=world.staff, label="D氏", name="鈴木 次郎")
        services.misregistration_add(
            case=case,
            by=world.staff,
            source=d,
            target=c,
            data_kind=DataKind.CASHLESS_ACCOUNT,
            corrected_on=date(2023, 2, 7),
        )
    return case, c, d


def _balances(case) -> dict[str, int]:
    with scopes_disabled():
        return {b.party.label: b.amount for b in ledger.balances(case)}


@pytest.mark.django_db
@pytest.mark.parametrize("how", TAMPERING)
def test_ledger_entries_cannot_be_changed_or_deleted(world, how):
    case, c, d = _two_people(world)
    with tenant_scope(world.staff):
        entry, _ = ledger.ledger_post_misallocation(
            case=case, owed=c, holder=d, amount=5000, on=ON, by=world.staff
        )
    with scopes_disabled():
        before = _row(entry.pk)
        with pytest.raises(TypeError):
            _tamper(LedgerEntry.objects.get(pk=entry.pk), how)
        assert _row(entry.pk) == before
        assert LedgerEntry.objects.filter(case=case).count() == 2
    assert _balances(case) == {"C氏": 5000, "D氏": -5000}


@pytest.mark.django_db
def test_a_new_instance_with_an_existing_pk_cannot_overwrite_an_entry(world):
    # Django saves an instance that carries a pk as an UPDATE when the row exists.
    case, c, d = _two_people(world)
    with tenant_scope(world.staff):
        entry, _ = ledger.ledger_post_misallocation(
            case=case, owed=c, holder=d, amount=5000, on=ON, by=world.staff
        )
    with scopes_disabled():
        forged = LedgerEntry(
            pk=entry.pk,
            case=case,
            party=c,
            kind=EntryKind.MISALLOCATION,
            delta=999,
            on=ON,
            created_by=world.staff,
            created_at=entry.created_at,
        )
        with pytest.raises((TypeError, IntegrityError)), transaction.atomic():
            forged.save()
        assert LedgerEntry.objects.get(pk=entry.pk).delta == 5000
    assert _balances(case) == {"C氏": 5000, "D氏": -5000}


@pytest.mark.django_db
def test_write_off_of_a_balance_over_the_entry_limit_is_split_into_entries(world):
    case, c, d = _two_people(world)
    with tenant_scope(world.staff):
        for amount in (MAX_AMOUNT, 1):
            ledger.ledger_post_misallocation(
                case=case, owed=c, holder=d, amount=amount, on=ON, by=world.staff
            )
    with tenant_scope(world.manager):
        parts = ledger.ledger_write_off(
            case=case, party=c, reason="回収不能", on=ON, by=world.manager
        )
        assert sorted(e.delta for e in parts) == [-MAX_AMOUNT, -1]
        assert len({e.group for e in parts}) == 1 and parts[0].group is not None
    assert _balances(case) == {"C氏": 0, "D氏": -(MAX_AMOUNT + 1)}
    with tenant_scope(world.manager):  # the parts are one posting: reversed together
        ledger.ledger_reverse(entry=parts[1], reason="誤り", on=ON, by=world.manager)
    assert _balances(case) == {"C氏": MAX_AMOUNT + 1, "D氏": -(MAX_AMOUNT + 1)}
    with scopes_disabled():
        assert all(1 <= abs(e.delta) <= MAX_AMOUNT for e in LedgerEntry.objects.all())


@pytest.mark.django_db
def test_manager_cannot_write_off_on_a_withdrawn_case(world):
    case, c, d = _two_people(world)
    with tenant_scope(world.staff):
        ledger.ledger_post_misallocation(
            case=case, owed=c, holder=d, amount=5000, on=ON, by=world.staff
        )
    with tenant_scope(world.manager):
        case_transition(case=case, step="withdraw", by=world.manager, note="重複登録のため")
        with pytest.raises(PermissionDenied):
            ledger.ledger_write_off(case=case, party=c, reason="回収不能", on=ON, by=world.manager)
    assert _balances(case) == {"C氏": 5000, "D氏": -5000}


def _ready_to_close(world):
    case, c, d = _two_people(world)
    agency = Agency.objects.get_or_create(name="デジタル庁", kind=Agency.Kind.NATIONAL)[0]
    with tenant_scope(world.staff):
        remedies.contact_add(
            case=case,
            by=world.staff,
            agencies=[agency],
            contacted_on=ON,
            channel=Channel.PHONE,
            request="調査を依頼。",
            answered_on=ON,
            answer="影響なし。",
        )
        case_transition(case=case, step="refer", by=world.staff)
        case_transition(case=case, step="plan_visits", by=world.staff)
        for party in (c, d):
            remedies.visit_record(
                case=case,
                by=world.staff,
                party=party,
                visited_on=ON,
                place="宅",
                purpose=Purpose.APOLOGY,
            )
        case_transition(case=case, step="settle", by=world.staff)
    return case, c, d


WRITES_FROM_A_STALE_PAGE = {
    "misallocation": lambda case, c, d, by: ledger.ledger_post_misallocation(
        case=case, owed=c, holder=d, amount=5000, on=ON, by=by
    ),
    "visit": lambda case, c, d, by: remedies.visit_record(
        case=case, by=by, party=c, visited_on=ON, place="宅", purpose=Purpose.APOLOGY
    ),
    "letter": lambda case, c, d, by: remedies.letter_record(case=case, by=by, party=c, sent_on=ON),
}


@pytest.mark.django_db
@pytest.mark.parametrize("write", list(WRITES_FROM_A_STALE_PAGE))
def test_a_write_from_a_page_loaded_before_the_close_is_refused(world, write):
    # The permission must be checked on the locked row, not on the object the view loaded.
    case, c, d = _ready_to_close(world)
    with scopes_disabled():
        seen_by_clerk = Case.objects.get(pk=case.pk)  # the clerk's request loads the case…
    with tenant_scope(world.manager):
        case_transition(case=case, step="close", by=world.manager)  # …the manager closes it…
    with tenant_scope(world.staff), pytest.raises(PermissionDenied):
        WRITES_FROM_A_STALE_PAGE[write](seen_by_clerk, c, d, world.staff)  # …the clerk posts
    with scopes_disabled():
        assert Case.objects.get(pk=case.pk).stage == Stage.CLOSED
        assert Visit.objects.filter(case=case).count() == 2
        assert not ApologyLetter.objects.filter(case=case).exists()
    assert _balances(case) == {"C氏": 0, "D氏": 0}
