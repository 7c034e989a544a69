"""Import: replay the actions of every case in `seq` order, each as the user who took it,
then check that each case ended where the file says. One transaction: a file with one error
imports nothing, and the error names the case, the item, the field and the reason.

The cases are replayed as they are read, one at a time (see _Replay), so a file of any size
is imported with the memory of the few cases that are being worked on at the same moment."""

import gc
import heapq
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from functools import partial
from typing import Any, BinaryIO

from django.core.exceptions import PermissionDenied
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections, transaction
from django_scopes import scopes_disabled

from cases import bulk
from cases.audit import audit_batch, audit_flush
from cases.audit_signer import SignerLost, signed_apart
from cases.errors import CaseError
from cases.models import Case, Misregistration, TimelineEvent
from cases.services import PERSONAL_FIELDS, held_case_numbers, held_today

from .. import ledger
from ..errors import RemedyError
from ..models import AgencyContact, ApologyLetter, Document, LedgerEntry, RepaymentPlan
from .actions import _CaseActions
from .ahead import Ahead, Redo, read_ahead
from .compiled import CompiledCase, NotCompiled, Publisher
from .export import _CaseExport
from .rules import (
    InterchangeError,
    _bool,
    _date,
    _FieldError,
    _int,
    _iso,
    _list,
    _quote,
    _References,
    _text,
    _value,
    case_fields,
    check_header,
    party_fields,
)
from .screen import screen_case
from .stream import read_file


@dataclass
class ImportOutcome:
    """What an import did: the ids of the cases it created or amended, in the file's
    order, and of those, the amended ones with how many of the file's actions each took."""

    cases: list[int]
    amended: dict[int, int]


@transaction.atomic
def import_cases(
    data: Any, *, skip_existing: bool = False, amend: bool = False, compile: bool = True
) -> list[Case]:
    """Replay every case of an interchange document; all of them or none.

    With skip_existing, a case whose natural key (office and discovery date) was already in
    the database is left out, which makes loading the same file twice harmless. With
    amend, a case whose reference is already in the database takes the file's actions
    that are newer than its own (see _CaseReplay.continue_from); without, the file must
    not hold a case that is already here. With compile (the default), a new case whose
    actions the compiled path handles is written in bulk (compiled.py), with the same rows
    and audit entries; compile=False replays every case (the equivalence test compares
    the two)."""
    with scopes_disabled():
        check_header(data)
        replay = _Replay(
            skip_existing=skip_existing,
            amend=amend,
            personal_data=data.get("personal_data"),
            compile=compile,
        )
        imported = replay.run(data["cases"])
        return [Case.objects.get(pk=pk) for pk in imported]


def import_case_file(
    file: BinaryIO,
    *,
    skip_existing: bool = False,
    amend: bool = False,
    progress: "Progress | None" = None,
) -> list[int]:
    """import_cases for a file opened in binary mode, read as a stream: one case in memory
    at a time, not the whole file. Returns the ids of the imported cases, in the file's
    order (ids, not cases: 10,000 cases would take more memory than the import itself).

    Raises NotJSONError for a file that is not JSON in UTF-8, and InterchangeError."""
    return import_file(file, skip_existing=skip_existing, amend=amend, progress=progress).cases


# (cases done, cases in the file: None while a file read ahead is still being read)
Progress = Callable[[int, int | None], object]


def import_file(
    file: BinaryIO,
    *,
    skip_existing: bool = False,
    amend: bool = False,
    progress: Progress | None = None,
    compile: bool = True,
) -> ImportOutcome:
    """import_case_file, telling the created cases from the amended ones. It prints and
    asks nothing: a command or a background job reports the outcome; `progress`, if given,
    is told (cases read, cases in the file) every PROGRESS_EVERY cases."""
    options = {"skip_existing": skip_existing, "amend": amend, "compile": compile}
    with _collector_spared():
        ahead = read_ahead(file)  # a file on disk of some size: read in a process of its own
        if ahead is not None:
            try:
                return _import_ahead(ahead, progress, options)
            except (Redo, SignerLost):  # rolled back: read the file first, here
                file.seek(0)
            finally:
                ahead.close()
        header, cases = read_file(file)  # the header is checked here, before the transaction
        with transaction.atomic(), scopes_disabled():
            replay = _Replay(personal_data=header.get("personal_data"), **options)
            if progress is not None:
                replay.progress = partial(progress, total=cases.count)
            return ImportOutcome(replay.run(cases), replay.amended)


# While imports run in a process (usually one): the objects there before the first are left
# out of the garbage collector's rounds, and its youngest round comes after more objects.
_GC_FIRST_ROUND = 10_000  # objects made (less those freed) before the youngest round
_imports_running = {"count": 0, "threshold": (700, 10, 10)}
_imports_running_lock = threading.Lock()


@contextmanager
def _collector_spared() -> Iterator[None]:
    """Python's cyclic garbage collector, for the length of an import, spared the objects
    that were there before it (gc.freeze: Django's, the process's, the references read
    once), which each of its oldest rounds would otherwise walk: on the import of 10,000
    cases the collector took about a tenth of the import's processor time. Its youngest
    round comes after _GC_FIRST_ROUND objects, not 700: a case's rows and entries mostly
    die young, by their count of references, before a round walks them. Cycles made by the
    import are still collected. What was there is collected first (not kept for the
    length of the import) and put back among the collector's objects at the end; the
    reading process (ahead.py), forked inside, shares those objects' pages untouched."""
    with _imports_running_lock:
        if not _imports_running["count"]:
            gc.collect()
            gc.freeze()
            _imports_running["threshold"] = threshold = gc.get_threshold()
            gc.set_threshold(max(_GC_FIRST_ROUND, threshold[0]), *threshold[1:])
        _imports_running["count"] += 1
    try:
        yield
    finally:
        with _imports_running_lock:
            _imports_running["count"] -= 1
            if not _imports_running["count"]:
                gc.set_threshold(*_imports_running["threshold"])
                gc.unfreeze()


def _import_ahead(ahead: Ahead, progress: Progress | None, options: dict) -> ImportOutcome:
    """import_file with the file read ahead (ahead.py): its cases come screened. An error
    of the file (not JSON, past a limit) comes before any other, as when it is read first."""
    try:
        header = ahead.header()
        try:
            check_header(header)
        except InterchangeError:  # its keys may come after the cases: read_file says
            raise Redo("the header as read before the cases is refused") from None
        with transaction.atomic(), scopes_disabled():
            replay = _Replay(
                personal_data=header.get("personal_data"),
                screened=True,
                sign_apart=True,  # a file of some size: its audit entries too (audit_signer)
                **options,
            )
            if progress is not None:
                replay.progress = lambda done: progress(done, ahead.count)
            return ImportOutcome(replay.run(ahead), replay.amended)
    except (Redo, SignerLost):
        raise
    except Exception:
        first = ahead.file_error()
        if first is not None:
            raise first from None
        raise


PROGRESS_EVERY = 100  # cases between two reports of progress


def _reason(error: DatabaseError) -> str:
    """What the database said, without its detail: PostgreSQL's detail can quote the row it
    refused ("Failing row contains (…)"), and the import's message is shown and kept."""
    diagnosis = getattr(error.__cause__, "diag", None)
    return getattr(diagnosis, "message_primary", None) or str(error).split("\n")[0]


@contextmanager
def _without_savepoints() -> Iterator[None]:
    """The services' own atomic blocks without their savepoints while the import runs in
    its one transaction: an import never goes on after a refusal (any error ends it, and
    the whole transaction rolls back), so a savepoint would only cost two round trips per
    service call, about a fifth of the import's statements. Only this connection (this
    thread) is affected, and only until the replay ends. (Django asks the connection's
    _savepoint_allowed() before each savepoint; SQLite's backend has its own, so the
    feature flag alone would not do.)"""
    wrapper = connections[DEFAULT_DB_ALIAS]  # this thread's connection
    wrapper._savepoint_allowed = lambda: False
    try:
        yield
    finally:
        del wrapper._savepoint_allowed  # the backend's own method again


class _Replay:
    """The cases of a file, replayed as they are read.

    The actions of all cases run in `seq` order, as if from one sorted list. Before the
    actions of a case are added, every waiting action with a smaller seq than the case's
    first one runs, and a case is checked and let go once its last action has run. A file
    lists its cases in order of creation (as export writes them), so no later case has an
    action before that seq, and only the cases worked on at the same time wait together.

    Each case is checked before any of its actions runs: no individual number, reference
    data that exists, every item well formed, each seq used once in the whole file."""

    def __init__(
        self,
        *,
        skip_existing: bool,
        amend: bool = False,
        personal_data: Any = None,
        compile: bool = True,
        screened: bool = False,
        sign_apart: bool = False,
    ):
        self.skip_existing, self.amend, self.compile = skip_existing, amend, compile
        self.screened = screened  # the cases come screened (ahead.py)
        self.sign_apart = sign_apart  # the audit entries signed in a process of their own
        self.publisher: Publisher | None = None  # the compiled cases' rows (compiled.py)
        self.personal_data = personal_data is not False
        self.refs = _References()
        self.amended: dict[int, int] = {}  # case id → how many of the file's actions it took
        # Only cases there before the import are amended (or refused as already there): a
        # file may hold copies of one case (demo.demo_case_copies), each a case of its own.
        self.before = Case.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        self.used: dict[int, tuple[str, str]] = {}  # seq → the case and item that use it
        self.waiting: list[tuple[int, _Step]] = []  # a heap: the next seq first
        self.imported: list[int] = []  # case ids in the file's order, 0 until opened
        # (office id, discovered_on) of the cases this import adds: with skip_existing,
        # a case is left out for a case already there before, not for one in the file.
        self.adding: set[tuple[int, date]] = set()
        self.progress: Callable[[int], object] | None = None
        self.clean_keys: set[str] = set()  # screen_case's

    def run(self, cases: Iterable[Any]) -> list[int]:
        # The audit head locked once for the whole import, not for each entry (the chain is
        # the same): any refusal ends the import, so no entry is rolled back while it goes on.
        # The case numbers likewise: each municipality and year's sequence is locked once
        # and written at the end, the compiled cases and the replayed ones numbered from
        # the same counter in the order they are opened.
        position = 0
        try:
            # The rows' COPYs are sent from a thread while the next cases are built
            # (bulk.overlapped).
            with (
                signed_apart(self.sign_apart),  # forked before overlapped()'s thread starts
                bulk.overlapped(),
                held_today(),
                held_case_numbers(),
                audit_batch(),
                _without_savepoints(),
            ):
                self.publisher = Publisher() if self.compile else None
                for position, raw in enumerate(cases, start=1):
                    self._add(position, raw)
                    if self.progress is not None and position % PROGRESS_EVERY == 0:
                        self.progress(position)
                self._run_until(None)
        except DatabaseError as error:
            # A row the database refused when its batch was written, after the item that
            # made it had been taken (an item's own statements are named by _CaseReplay.at).
            # The reason only: PostgreSQL's detail of a COPY quotes the row it refused.
            raise InterchangeError(
                f"the database refused a row of the file: {_reason(error)}"
            ) from error
        if self.progress is not None and position % PROGRESS_EVERY:
            self.progress(position)  # the last cases, short of a whole round
        # A compiled case has its id once written (at the audit batch's end at the latest).
        self.imported = [case if isinstance(case, int) else case.pk for case in self.imported]
        return self.imported

    def _add(self, position: int, raw: Any) -> None:
        if not self.screened:
            screen_case(raw, f"case {position}", self.clean_keys)
        replay = _CaseReplay(position, raw, self.refs)
        there = replay.already_there(self.before)
        if there is not None and self.amend:
            if there.pk in self.amended:
                raise InterchangeError(
                    f"the file holds {there.reference} twice", case=replay.name, field="reference"
                )
            steps = replay.continue_from(there, personal_data=self.personal_data)
            self.amended[there.pk] = len(steps)
            if not steps:  # nothing newer: the case must already be where the file says
                replay.verify()
                self.imported.append(there.pk)
                return
        else:
            if self.skip_existing:
                key = (replay.values["office"].pk, replay.values["discovered_on"])
                if key not in self.adding and replay.exists():
                    return
                self.adding.add(key)
            if there is not None and replay.same_case(there):
                # Never twice: adding it again would make a second case of the same error.
                raise InterchangeError(
                    f"this case is already in this database as {there.reference}; import "
                    "with --amend (amend=True) to add the file's newer actions to it, or with "
                    "--skip-existing to leave it out",
                    case=replay.name,
                    field="reference",
                )
            # Compiled: a new case, not in an amending import (which reads cases back).
            steps = self._compiled(replay) if there is None and not self.amend else None
            if steps is None:
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

    def _compiled(self, replay: "_CaseReplay") -> "list[_Step] | None":
        """The case's steps on the compiled path, or None to replay it (compiled.py)."""
        if self.publisher is None:
            return None
        compiled = CompiledCase(replay, self.publisher)
        try:
            runs = compiled.build()
        except NotCompiled:
            return None
        replay.compiled = compiled
        return [_Step(a.seq, replay, a.item, run, a.blame) for a, run in runs]

    def _run_until(self, limit: int | None) -> None:
        """Run the waiting actions whose seq is below the limit (all with None)."""
        while self.waiting and (limit is None or self.waiting[0][0] < limit):
            _, step = heapq.heappop(self.waiting)
            if step.replay.compiled is None and self.publisher and self.publisher.cases:
                # The compiled cases opened before this step are written first: every case
                # takes its id in the order it was opened (an export lists them by id).
                audit_flush()
            step.run()
            replay = step.replay
            replay.left -= 1
            if not replay.left:
                if replay.compiled is None:
                    replay.verify()
                    self.imported[replay.slot] = replay.case_pk
                else:  # checked in memory before it ran; its id comes when it is written
                    self.imported[replay.slot] = replay.compiled.case


_SECTIONS = (
    "updates",
    "parties",
    "links",
    "contacts",
    "agreements",
    "visits",
    "letters",
    "ledger",
    "plans",
    "transitions",
    "timeline",
    "documents",
)


@dataclass(frozen=True)
class _Kind:
    """A kind of action a case's list in the file holds, one item per action."""

    section: str  # the case's list
    item: str  # what a message calls one: "ledger item" (then its place, "ledger item 3")
    replay: str  # the _CaseActions method that replays one
    blame: str = ""  # the field to name when its service's error names none
    # The fields that say which action it is, when an amendment matches the file's actions
    # with the case's own (besides the kind, its place and `by`): fields that never change
    # once the action is taken (an answer recorded later, a party's name edited later
    # would not do).
    same: tuple[str, ...] = ()
    only: Callable[[Any], bool] | None = None  # which items of the list are actions


def _hand_written(event: Any) -> bool:
    """A 経過 line a service wrote is replayed with its action, not on its own."""
    return isinstance(event, dict) and event.get("action", "") == ""


# Each kind of action that stands on its own in a case; a new kind is one line here and its
# method in actions.py (and its list in export.py). Updates, parties with their updates,
# and contacts with their later answers are nested, and listed in _CaseReplay.actions.
ACTIONS = (
    _Kind("links", "link", "_link", same=("source", "target", "data_kind")),
    _Kind(
        "agreements",
        "agreement",
        "_agreement",
        same=("payer", "amount", "form", "agreed_on", "party", "note"),
    ),
    _Kind(
        "visits",
        "visit",
        "_visit",
        same=("party", "visited_on", "place", "purpose", "handed_over", "collected"),
    ),
    # An issued letter's date moves with a later delivery: compared by its document instead.
    _Kind("letters", "letter", "_letter", same=("party", "note", "document")),
    _Kind(
        "ledger",
        "ledger item",
        "_posting",
        same=("kind", "on", "owed", "holder", "party", "amount", "side", "method", "reason"),
    ),
    _Kind(
        "plans",
        "plan",
        "_plan",
        blame="instalments",
        # A plan's superseded_on is set later, by the plan that replaces it.
        same=("party", "agreed_on", "note", "instalments"),
    ),
    _Kind("transitions", "transition", "_transition", blame="step", same=("step", "on", "note")),
    _Kind(
        "timeline", "timeline entry", "_timeline", same=("on", "actor", "text"), only=_hand_written
    ),
    _Kind(
        "documents",
        "document",
        "_document",
        same=("kind", "fiscal_year", "number", "version", "dated", "party", "sha256"),
    ),
)
_SAME = {
    "opened": ("reported_on",),
    "update": (),
    "party": ("label",),
    "party update": (),
    "contact": ("agencies", "made_by", "contacted_on", "channel", "request"),
    "contact answer": (),
    "link correction": (),
    "link excuse": (),
    "letter delivery": ("sent_on", "delivery"),
    **{kind.item: kind.same for kind in ACTIONS},
}


@dataclass
class _Action:
    """One action of a case document: where it stands, what it is, and its replay."""

    seq: int
    item: str  # "ledger item 3"
    kind: str  # "ledger item"
    obj: Any
    call: Callable[[], object]
    blame: str


def _first_difference(
    have: _Action, given: _Action, named: Callable[[Any, Any], tuple] = lambda a, b: (a, b)
) -> str | None:
    """The first field in which the file's action is not the case's own, or None.
    `named` turns the seqs an item names (a letter's document) into the items they are on
    each side, since the case's own seqs are not the file's."""
    if have.item != given.item:
        return "seq"
    if not isinstance(given.obj, dict) or given.obj.get("by") != have.obj.get("by"):
        return "by"
    same = _SAME[have.kind]
    together = given.obj.get("answer_recorded") is None and have.obj.get("answer_recorded") is None
    if have.kind == "contact" and together:
        # Both say the answer (if any) came with the request: an answer the case does not
        # have would otherwise have no action of its own to bring it. (A case whose answer
        # came later has that answer as an action of its own, compared in its place.)
        same = (*same, "answered_on", "answer")
    if have.kind == "letter" and have.obj.get("document") is None:
        same = (*same, "sent_on")  # written by hand: its date never moves
    for name in same:
        mine, theirs = have.obj.get(name), given.obj.get(name)
        if name == "document":
            mine, theirs = named(mine, theirs)
        if theirs != mine:
            return name
    return None


# The actions whose services write the case's own row (case_open, case_update, case_take,
# case_transition): after one, the case is read again. No other service changes it.
_MOVE_THE_CASE = frozenset({"opened", "update", "transition"})


@dataclass
class _Step:
    seq: int
    replay: "_CaseReplay"
    item: str
    action: Callable[[], object]
    blame: str  # the field to name when a service's error names none
    moves_case: bool = False  # whether it may change the case's own row (see _case)

    def run(self) -> None:
        with self.replay.at(self.item, blame=self.blame):
            self.action()
        if self.moves_case:
            self.replay.case_read = None


class _CaseReplay(_CaseActions):
    """One case of the file: its actions as steps, and the check once all have run."""

    def __init__(self, position: int, raw: Any, refs: _References):
        reference = raw.get("reference") if isinstance(raw, dict) else None
        self.name = f"case {position}" + (f" ({reference})" if isinstance(reference, str) else "")
        self.raw, self.refs = raw, refs
        self.case_pk: int | None = None
        self.case_read: Case | None = None  # the case as last read (_CaseActions._case)
        self.slot = self.left = 0  # where it stands in the file's order; actions to run
        self.contacts: dict[int, AgencyContact] = {}
        self.links: dict[int, Misregistration] = {}
        self.postings: dict[int, list[LedgerEntry]] = {}  # seq → the entries it posted
        self.documents: dict[int, Document] = {}  # seq → the document it recorded
        self.letters: dict[int, ApologyLetter] = {}
        self.plans: dict[int, RepaymentPlan] = {}
        self.timeline_after = 0  # 経過 lines up to this id were there before the import
        self.compiled: CompiledCase | None = None  # set when it takes the compiled path
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
            reason = _reason(error)
            raise InterchangeError(reason, case=self.name, item=item, field=blame) from error

    def exists(self) -> bool:
        return Case.objects.filter(
            office=self.values["office"], discovered_on=self.values["discovered_on"]
        ).exists()

    # -- steps ---------------------------------------------------------------------------

    def actions(self, raw: Any) -> list["_Action"]:
        """The actions of a case document, in seq order, each with its replay."""
        actions: list[_Action] = []

        def add(item: str, kind: str, obj: Any, action: Callable, blame: str = "") -> None:
            with self.at(item):
                seq = _int(obj, "seq")
            actions.append(_Action(seq, item, kind, obj, partial(action, obj), blame))

        with self.at(""):
            sections = {name: _list(raw, name) for name in _SECTIONS}
            opened = _value(raw, "opened")
        add("opened", "opened", opened, self._open)
        for i, update in enumerate(sections["updates"], start=1):
            add(f"update {i}", "update", update, partial(self._update, i - 1))
        for i, party in enumerate(sections["parties"], start=1):
            add(f"party {i}", "party", party, self._party_add, "label")
            with self.at(f"party {i}"):
                party_updates = _list(party, "updates")
            for j, update in enumerate(party_updates, start=1):
                item = f"party {i} update {j}"
                add(item, "party update", update, partial(self._party_update, party, j - 1))
        for i, link in enumerate(sections["links"], start=1):
            # The link itself is an action of ACTIONS; a correction or a manager's reason
            # recorded after it is an action of its own.
            for part, action in (
                ("correction", self._link_correction),
                ("excuse", self._link_excuse),
            ):
                later = _value(link, f"{part}_recorded", None) if isinstance(link, dict) else None
                if later is not None:
                    add(f"link {i} {part}", f"link {part}", later, partial(action, link))
        for i, contact in enumerate(sections["contacts"], start=1):
            add(f"contact {i}", "contact", contact, self._contact)
            answer = _value(contact, "answer_recorded", None) if isinstance(contact, dict) else None
            if answer is not None:
                add(f"contact {i} answer", "contact answer", answer, partial(self._answer, contact))
        for kind in ACTIONS:
            for i, obj in enumerate(sections[kind.section], start=1):
                if kind.only is None or kind.only(obj):
                    add(f"{kind.item} {i}", kind.item, obj, getattr(self, kind.replay), kind.blame)
        for i, letter in enumerate(sections["letters"], start=1):
            # When and how an issued letter went, recorded later: each an action of its own.
            with self.at(f"letter {i}"):
                deliveries = _list(letter, "deliveries")
            for j, delivery in enumerate(deliveries, start=1):
                add(
                    f"letter {i} delivery {j}",
                    "letter delivery",
                    delivery,
                    partial(self._letter_delivery, letter),
                    "delivery",
                )
        return sorted(actions, key=lambda action: action.seq)

    def steps(self, actions: "list[_Action] | None" = None) -> list[_Step]:
        return [
            _Step(a.seq, self, a.item, a.call, a.blame, a.kind in _MOVE_THE_CASE)
            for a in (self.actions(self.raw) if actions is None else actions)
        ]

    # -- amending a case that is already here ----------------------------------------------

    def already_there(self, before: int) -> Case | None:
        """The case of the file's reference in its municipality, if the database had it
        before the import began."""
        reference = self.raw.get("reference")
        if not isinstance(reference, str) or not before:  # no case was there: no query
            return None
        return (
            Case.objects.filter(
                reference=reference,
                municipality=self.values["office"].municipality,
                pk__lte=before,
            )
            .select_related("office", "created_by")
            .first()
        )

    def same_case(self, case: Case) -> bool:
        """Whether a case with the file's reference is the file's case: opened by the same
        person at the same office about the same discovery."""
        return (
            case.office_id == self.values["office"].pk
            and case.discovered_on == self.values["discovered_on"]
            and case.created_by_id == self.opener.pk
        )

    def continue_from(self, case: Case, *, personal_data: bool) -> list[_Step]:
        """The steps that amend `case` with this file: the file's actions after those the
        case has already taken.

        The case's own actions are read as an export of it would write them (with or
        without personal data as the file is), in the order they were taken. They must be
        the file's first actions, one for one: the same kind of item at the same place
        ("ledger item 3"), by the same user, with the same identifying fields (_SAME).
        The first that differs refuses the case, naming it; so does a case that has taken
        more actions than the file holds. The remaining actions are newer: they replay."""
        audit_flush()  # the export reads the case's entries
        with self.at("", blame="reference"):
            exporter = _CaseExport(case, personal_data=personal_data)
            document = exporter.document()
            for seq, (_, item) in enumerate(sorted(exporter.items, key=lambda i: i[0]), 1):
                item["seq"] = seq
            exporter.link_reversals()  # a letter names its document by seq
        mine = self.actions(document)  # read only: these are never run
        theirs = self.actions(self.raw)
        items = {"mine": {a.seq: a.item for a in mine}, "theirs": {a.seq: a.item for a in theirs}}

        def named(have: Any, given: Any) -> tuple:
            return items["mine"].get(have, have), items["theirs"].get(given, given)

        for i, have in enumerate(mine):
            if i >= len(theirs):
                raise InterchangeError(
                    f"the case in this database ({case.reference}) has taken "
                    f"{len(mine)} actions, the file holds {len(theirs)}: the database is newer "
                    f"than the file ({have.item}, by {have.obj.get('by')}, is not in the file)",
                    case=self.name,
                    field="reference",
                )
            given = theirs[i]
            field = _first_difference(have, given, named)
            if field is not None:
                found = f"its action {i + 1} is {have.item} by {have.obj.get('by')}"
                if field not in ("seq", "by"):
                    found += f", with {field} {_quote(have.obj.get(field))}"
                raise InterchangeError(
                    f"does not continue the case in this database ({case.reference}): "
                    f"{found}; nothing was changed",
                    case=self.name,
                    item=given.item,
                    field=field,
                )
            made = exporter.made.get(id(have.obj))
            if isinstance(made, AgencyContact):
                self.contacts[given.seq] = made
            elif isinstance(made, Misregistration):
                self.links[given.seq] = made
            elif isinstance(made, Document):
                self.documents[given.seq] = made
            elif isinstance(made, ApologyLetter):
                self.letters[given.seq] = made
            elif isinstance(made, RepaymentPlan):
                self.plans[given.seq] = made
            elif made is not None:
                self.postings[given.seq] = list(made)
        self.case_pk = case.pk
        self.timeline_after = (
            TimelineEvent.objects.filter(case=case)
            .order_by("-id")
            .values_list("id", flat=True)
            .first()
            or 0
        )
        return self.steps(theirs[len(mine) :])

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
        for i, item in enumerate(self.raw.get("plans") or [], start=1):
            plan = self.plans.get(item.get("seq")) if isinstance(item, dict) else None
            if plan is not None:
                plan.refresh_from_db(fields=["superseded_on"])
                with self.at(f"plan {i}"):
                    self._compare(item, {"superseded_on": _iso(plan.superseded_on)})
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
        for event in TimelineEvent.objects.filter(case=case, id__gt=self.timeline_after).order_by(
            "id"
        ):
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
