"""Import: replay the actions of every case in `seq` order, each as the user who took it,
then check that each case ended where the file says. One transaction: a file with one error
imports nothing, and the error names the case, the item, the field and the reason.

The cases are replayed as they are read, one at a time (see _Replay), so a file of any size
is imported with the memory of the few cases that are being worked on at the same moment."""

import heapq
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from functools import partial
from typing import Any, BinaryIO

from django.core.exceptions import PermissionDenied
from django.db import DatabaseError, transaction
from django_scopes import scopes_disabled

from cases.audit import audit_batch
from cases.errors import CaseError
from cases.models import Case, Misregistration, TimelineEvent
from cases.mynumber import contains_individual_number
from cases.services import PERSONAL_FIELDS

from .. import ledger
from ..errors import RemedyError
from ..models import AgencyContact, LedgerEntry
from .actions import _CaseActions
from .rules import (
    InterchangeError,
    _bool,
    _date,
    _FieldError,
    _int,
    _list,
    _quote,
    _References,
    _text,
    _value,
    case_fields,
    check_header,
    party_fields,
)
from .stream import LIMITS, read_cases


@transaction.atomic
def import_cases(data: Any, *, skip_existing: bool = False) -> list[Case]:
    """Replay every case of an interchange document; all of them or none.

    With skip_existing, a case whose natural key (office and discovery date) was already in
    the database is left out, which makes loading the same file twice harmless."""
    with scopes_disabled():
        check_header(data)
        imported = _Replay(skip_existing=skip_existing).run(data["cases"])
        return [Case.objects.get(pk=pk) for pk in imported]


def import_case_file(file: BinaryIO, *, skip_existing: bool = False) -> list[int]:
    """import_cases for a file opened in binary mode, read as a stream: one case in memory
    at a time, not the whole file. Returns the ids of the imported cases, in the file's
    order (ids, not cases: 10,000 cases would take more memory than the import itself).

    Raises NotJSONError for a file that is not JSON in UTF-8, and InterchangeError."""
    cases = read_cases(file)  # the header is checked here, before the transaction
    with transaction.atomic(), scopes_disabled():
        return _Replay(skip_existing=skip_existing).run(cases)


def _screen(raw: Any, case: str) -> None:
    """The whole case is scanned, not just known fields: an individual number must not get
    in through a note or an unexpected key either. Each string (and key, and number) is
    read on its own, without recursion: a case handed to import_cases may nest deeper than
    Python's stack (a file is bounded by stream.LIMITS before it gets here)."""
    pending: list[tuple[Any, int]] = [(raw, 1)]
    while pending:
        value, depth = pending.pop()
        if depth > LIMITS.depth:
            raise InterchangeError(
                f"arrays and objects are nested more than {LIMITS.depth} levels deep",
                case=case,
            )
        if isinstance(value, dict):
            pending.extend((key, depth) for key in value)
            pending.extend((item, depth + 1) for item in value.values())
        elif isinstance(value, list):
            pending.extend((item, depth + 1) for item in value)
        elif (
            isinstance(value, str | int | float)
            and not isinstance(value, bool)
            and contains_individual_number(str(value))
        ):
            raise InterchangeError(
                "holds what looks like an individual number (My Number), which must "
                "not be recorded",
                case=case,
            )


class _Replay:
    """The cases of a file, replayed as they are read.

    The actions of all cases run in `seq` order, as if from one sorted list. Before the
    actions of a case are added, every waiting action with a smaller seq than the case's
    first one runs, and a case is checked and let go once its last action has run. A file
    lists its cases in order of creation (as export writes them), so no later case has an
    action before that seq, and only the cases worked on at the same time wait together.

    Each case is checked before any of its actions runs: no individual number, reference
    data that exists, every item well formed, each seq used once in the whole file."""

    def __init__(self, *, skip_existing: bool):
        self.skip_existing = skip_existing
        self.refs = _References()
        self.used: dict[int, tuple[str, str]] = {}  # seq → the case and item that use it
        self.waiting: list[tuple[int, _Step]] = []  # a heap: the next seq first
        self.imported: list[int] = []  # case ids in the file's order, 0 until opened
        # (office id, discovered_on) of the cases this import adds: with skip_existing,
        # a case is left out for a case already there before, not for one in the file.
        self.adding: set[tuple[int, date]] = set()

    def run(self, cases: Iterable[Any]) -> list[int]:
        # The audit head locked once for the whole import, not for each entry (the chain is
        # the same): any refusal ends the import, so no entry is rolled back while it goes on.
        with audit_batch():
            for position, raw in enumerate(cases, start=1):
                self._add(position, raw)
            self._run_until(None)
        return self.imported

    def _add(self, position: int, raw: Any) -> None:
        _screen(raw, f"case {position}")
        replay = _CaseReplay(position, raw, self.refs)
        if self.skip_existing:
            key = (replay.values["office"].pk, replay.values["discovered_on"])
            if key not in self.adding and replay.exists():
                return
            self.adding.add(key)
        steps = replay.steps()
        for step in steps:
            if step.seq in self.used:
                case, item = self.used[step.seq]
                raise InterchangeError(
                    f"seq {step.seq} is also used by {case}, {item}",
                    case=replay.name,
                    item=step.item,
                    field="seq",
                )
            # Item names repeat from case to case ("party 1"): kept once, not per seq.
            self.used[step.seq] = (replay.name, sys.intern(step.item))
        replay.slot, replay.left = len(self.imported), len(steps)
        self.imported.append(0)
        self._run_until(min(step.seq for step in steps))
        for step in steps:
            heapq.heappush(self.waiting, (step.seq, step))

    def _run_until(self, limit: int | None) -> None:
        """Run the waiting actions whose seq is below the limit (all with None)."""
        while self.waiting and (limit is None or self.waiting[0][0] < limit):
            _, step = heapq.heappop(self.waiting)
            step.run()
            replay = step.replay
            replay.left -= 1
            if not replay.left:
                replay.verify()
                self.imported[replay.slot] = replay.case_pk


@dataclass
class _Step:
    seq: int
    replay: "_CaseReplay"
    item: str
    action: Callable[[], object]
    blame: str  # the field to name when a service's error names none

    def run(self) -> None:
        with self.replay.at(self.item, blame=self.blame):
            self.action()


class _CaseReplay(_CaseActions):
    """One case of the file: its actions as steps, and the check once all have run."""

    def __init__(self, position: int, raw: Any, refs: _References):
        reference = raw.get("reference") if isinstance(raw, dict) else None
        self.name = f"case {position}" + (f" ({reference})" if isinstance(reference, str) else "")
        self.raw, self.refs = raw, refs
        self.case_pk: int | None = None
        self.slot = self.left = 0  # where it stands in the file's order; actions to run
        self.contacts: dict[int, AgencyContact] = {}
        self.links: dict[int, Misregistration] = {}
        self.postings: dict[int, list[LedgerEntry]] = {}  # seq → the entries it posted
        with self.at(""):
            municipality = refs.municipality(_text(raw, "municipality"))
            self.values = {
                "office": refs.office(municipality, _text(raw, "office")),
                "kind": _text(raw, "kind"),
                "discovered_on": _date(raw, "discovered_on"),
                "occurred_on": _date(raw, "occurred_on", optional=True),
            }
            contractor = _value(raw, "contractor", None)
            self.values["contractor"] = refs.contractor(contractor) if contractor else None
            assignee = _value(raw, "assignee", None)
            self.values["assignee"] = refs.user(assignee, "assignee") if assignee else None
            for name in ("summary", "discovery", "cause_category", "cause_text", "prevention"):
                self.values[name] = _text(raw, name, "")
            self.opened = _value(raw, "opened")
        with self.at("opened"):
            self.opener = refs.user(_value(self.opened, "by"))

    @contextmanager
    def at(self, item: str, *, blame: str = "") -> Iterator[None]:
        """Turn any refusal into an InterchangeError that says where it happened."""
        try:
            yield
        except _FieldError as error:
            raise InterchangeError(
                error.reason, case=self.name, item=item, field=error.field
            ) from error
        except (CaseError, RemedyError) as error:
            raise InterchangeError(
                str(error.message), case=self.name, item=item, field=error.field or blame
            ) from error
        except PermissionDenied as error:
            raise InterchangeError(str(error), case=self.name, item=item, field="by") from error
        except DatabaseError as error:
            raise InterchangeError(str(error), case=self.name, item=item, field=blame) from error

    def exists(self) -> bool:
        return Case.objects.filter(
            office=self.values["office"], discovered_on=self.values["discovered_on"]
        ).exists()

    # -- steps ---------------------------------------------------------------------------

    def steps(self) -> list[_Step]:
        raw, steps = self.raw, []

        def add(item: str, obj: Any, action: Callable, blame: str = "") -> None:
            with self.at(item):
                seq = _int(obj, "seq")
            steps.append(_Step(seq, self, item, partial(action, obj), blame))

        with self.at(""):
            sections = {
                name: _list(raw, name)
                for name in (
                    "updates",
                    "parties",
                    "links",
                    "contacts",
                    "agreements",
                    "visits",
                    "letters",
                    "ledger",
                    "transitions",
                    "timeline",
                )
            }
        add("opened", self.opened, self._open)
        for i, update in enumerate(sections["updates"], start=1):
            add(f"update {i}", update, partial(self._update, i - 1))
        for i, party in enumerate(sections["parties"], start=1):
            add(f"party {i}", party, self._party_add, "label")
            with self.at(f"party {i}"):
                party_updates = _list(party, "updates")
            for j, update in enumerate(party_updates, start=1):
                add(f"party {i} update {j}", update, partial(self._party_update, party, j - 1))
        for i, link in enumerate(sections["links"], start=1):
            add(f"link {i}", link, self._link)
            for part, action in (
                ("correction", self._link_correction),
                ("excuse", self._link_excuse),
            ):
                later = _value(link, f"{part}_recorded", None) if isinstance(link, dict) else None
                if later is not None:
                    add(f"link {i} {part}", later, partial(action, link))
        for i, contact in enumerate(sections["contacts"], start=1):
            add(f"contact {i}", contact, self._contact)
            answer = _value(contact, "answer_recorded", None) if isinstance(contact, dict) else None
            if answer is not None:
                add(f"contact {i} answer", answer, partial(self._answer, contact))
        for i, agreement in enumerate(sections["agreements"], start=1):
            add(f"agreement {i}", agreement, self._agreement)
        for i, visit in enumerate(sections["visits"], start=1):
            add(f"visit {i}", visit, self._visit)
        for i, letter in enumerate(sections["letters"], start=1):
            add(f"letter {i}", letter, self._letter)
        for i, posting in enumerate(sections["ledger"], start=1):
            add(f"ledger item {i}", posting, self._posting)
        for i, transition in enumerate(sections["transitions"], start=1):
            add(f"transition {i}", transition, self._transition, "step")
        for i, event in enumerate(sections["timeline"], start=1):
            if isinstance(event, dict) and event.get("action", "") == "":
                add(f"timeline entry {i}", event, self._timeline)
        return steps

    # -- the check -----------------------------------------------------------------------

    def verify(self) -> None:
        """The replay must end where the file says: stage, fields, parties, balances."""
        case = Case.objects.select_related("municipality", "office", "contractor", "assignee").get(
            pk=self.case_pk
        )
        self._publication(case)
        with self.at(""):
            _text(self.raw, "stage")
            self._compare(self.raw, case_fields(case), skip=("reference",))
        parties = {party.label: party for party in case.parties.all()}
        balances = {b.party.label: b.amount for b in ledger.balances(case)}
        for i, item in enumerate(self.raw["parties"], start=1):
            with self.at(f"party {i}"):
                label = _text(item, "label")
                _int(item, "balance")
                self._compare(item, party_fields(parties[label], balances[label]))

    def _publication(self, case: Case) -> None:
        """The file says which 経過 lines are for publication and which internal; a line a
        service wrote again on replay takes the file's choice (matched by action, date and
        text), so a line staff made internal stays internal."""
        wanted: dict[tuple[str, str, str], list[bool]] = {}
        for i, event in enumerate(self.raw.get("timeline") or [], start=1):
            if isinstance(event, dict) and "public" in event:
                with self.at(f"timeline entry {i}"):
                    flag = _bool(event, "public", True)
                key = (str(event.get("action", "")), str(event.get("on")), str(event.get("text")))
                wanted.setdefault(key, []).append(flag)
        if not wanted:
            return
        for event in TimelineEvent.objects.filter(case=case).order_by("id"):
            flags = wanted.get((event.action, event.occurred_on.isoformat(), event.text))
            if flags:
                flag = flags.pop(0)
                if event.public != flag:
                    event.public = flag
                    event.save(update_fields=["public"])

    @staticmethod
    def _compare(expected: dict, actual: dict, skip: tuple = ()) -> None:
        def same(a: Any, b: Any) -> bool:
            return (a.strip() == b.strip()) if isinstance(a, str) and isinstance(b, str) else a == b

        for name, value in actual.items():
            if name in skip or name not in expected or same(expected[name], value):
                continue
            if name in PERSONAL_FIELDS:
                # Personal details stay out of error messages, which may reach a log.
                raise _FieldError(name, "the replay ends with a different value than the file")
            raise _FieldError(
                name,
                f"the file says {_quote(expected[name])}, but the replay ends with {_quote(value)}",
            )
