"""Import: replay the actions of every case in `seq` order, each as the user who took it,
then check that each case ended where the file says. One transaction: a file with one error
imports nothing, and the error names the case, the item, the field and the reason."""

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import DatabaseError, transaction
from django_scopes import scopes_disabled

from cases.errors import CaseError
from cases.models import Case
from cases.mynumber import contains_individual_number
from cases.services import PERSONAL_FIELDS

from .. import ledger
from ..errors import RemedyError
from ..models import AgencyContact, LedgerEntry
from .actions import _CaseActions
from .rules import (
    FORMAT,
    VERSION,
    InterchangeError,
    _date,
    _FieldError,
    _int,
    _list,
    _quote,
    _References,
    _text,
    _value,
    case_fields,
    party_fields,
)


@transaction.atomic
def import_cases(data: Any, *, skip_existing: bool = False) -> list[Case]:
    """Replay every case of an interchange document; all of them or none.

    With skip_existing, a case whose natural key (office and discovery date) is already in
    the database is left out, which makes loading the same file twice harmless."""
    with scopes_disabled():
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise InterchangeError(f'not a Tadasu case file (expected "format": "{FORMAT}")')
        if data.get("version") != VERSION:
            raise InterchangeError(
                f"version {_quote(data.get('version'))} is not supported (expected {VERSION})"
            )
        if not isinstance(data.get("cases"), list):
            raise InterchangeError('"cases" must be a list')
        for position, raw in enumerate(data["cases"], start=1):
            # The whole case is scanned, not just known fields: an individual number must not
            # get in through a note or an unexpected key either.
            if contains_individual_number(json.dumps(raw, ensure_ascii=False)):
                raise InterchangeError(
                    "holds what looks like an individual number (My Number), which must not "
                    "be recorded",
                    case=f"case {position}",
                )
        refs = _References()
        replays = [_CaseReplay(i, raw, refs) for i, raw in enumerate(data["cases"], start=1)]
        if skip_existing:
            replays = [r for r in replays if not r.exists()]
        steps = [step for replay in replays for step in replay.steps()]
        seen: dict[int, _Step] = {}
        for step in steps:
            if step.seq in seen:
                raise InterchangeError(
                    f"seq {step.seq} is also used by {seen[step.seq].where}",
                    case=step.replay.name,
                    item=step.item,
                    field="seq",
                )
            seen[step.seq] = step
        for step in sorted(steps, key=lambda s: s.seq):
            step.run()
        for replay in replays:
            replay.verify()
        return [Case.objects.get(pk=replay.case_pk) for replay in replays]


@dataclass
class _Step:
    seq: int
    replay: "_CaseReplay"
    item: str
    action: Callable[[], object]
    blame: str  # the field to name when a service's error names none

    @property
    def where(self) -> str:
        return f"{self.replay.name}, {self.item}"

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
        self.contacts: dict[int, AgencyContact] = {}
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
