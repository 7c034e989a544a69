"""The compiled path's stage steps (compiled.py): a step of the stage machine recorded at a
seq of its own (replay.py, `transition`), checked in memory as workflow.case_transition
checks it — the machine's own table (which step leads from which stage, and who may take
it: workflow.CaseFile's transitions) and each step's guard over the case's own rows as they
stand at that seq (workflow.STEPS: links and cause, agency answers, balances, agreements,
visits and letters, prevention, links corrected or excused) — and written with its
wording."""

from collections.abc import Callable
from datetime import date
from typing import Any

from cases import services as case_services
from cases.audit import audit_log
from cases.models import Case, Party, TimelineEvent

from ..workflow import STEPS, CaseFile, transition_text
from .compiled_base import NotCompiled, Run
from .rules import _date, _text

_STAGE = Case._meta.get_field("stage")
# (step, from stage) → the transition of the stage machine (its target and permission).
_TRANSITIONS = {(t.name, t.source): t for t in _STAGE.get_all_transitions(CaseFile)}


class _AsCaseFile:
    """What the audit entry of a stage step names: the case as workflow.CaseFile (the
    entry's object type), its id once the case is written."""

    _meta = CaseFile._meta

    def __init__(self, case: Case):
        self.case = case

    @property
    def pk(self) -> int | None:
        return self.case.pk


class CompiledStages:
    """The stage steps of CompiledCase (compiled.py), which holds the state they read."""

    replay: Any
    publisher: Any
    case: Any
    parties: dict[str, Party]
    links: dict[int, Any]
    contacts: dict[int, tuple[Any, list]]
    agreements: list
    visits: list
    letters: list
    balance: Callable[[Party], int]
    _line: Callable[..., TimelineEvent]  # add_timeline, in memory
    _event_date: Callable[[date | None], None]  # check_event_date

    def _transition(self, item: dict) -> Run:
        """workflow.case_transition."""
        case = self.case
        step, by = _text(item, "step"), self.replay._by(item)
        on: date = _date(item, "on")
        note = _text(item, "note", "")
        spec = STEPS.get(step)
        transition = _TRANSITIONS.get((step, case.stage))
        if spec is None or transition is None or not transition.has_perm(case, by):
            raise NotCompiled
        if self._blocked(step):
            raise NotCompiled
        note = (note or "").strip()
        if spec.needs_reason and not note:
            raise NotCompiled
        self._event_date(on)
        before = case.stage
        _STAGE.set_state(case, transition.target)
        case.stage_since = on
        text = transition_text(step, note=note, before=before, after=transition.target)
        line = self._line(
            on=on,
            actor=case_services.actor_of(by),
            text=text,
            action=f"stage.{step}",
            by=by,
            in_story=bool(note) and not spec.needs_reason,
        )
        data = {"from": before, "to": transition.target, "note": note}

        def run() -> None:
            self.publisher.events.append(line)
            audit_log(
                f"tadasu.case.stage.{step}", by=by, case=case, obj=_AsCaseFile(case), data=data
            )

        return run

    def _blocked(self, step: str) -> bool:
        """Whether the step's guard (workflow.STEPS[step].blockers) finds anything missing,
        on the case's rows in memory."""
        case = self.case
        balances = [self.balance(party) for party in self.parties.values()]
        answered = any(contact.answered_on is not None for contact, _ in self.contacts.values())
        if step == "refer":
            return not self.links or not case.cause_category
        if step == "negotiate":
            return not answered or not any(balances)
        if step == "plan_visits":
            return not answered or any(balances)
        if step == "agree":
            return not self.agreements
        if step == "settle":
            return bool(self._identified_without(apology_only=False))
        if step == "close":
            return bool(
                any(balances)
                or self._identified_without(apology_only=True)
                or not case.prevention.strip()
                or any(
                    link.corrected_on is None and link.uncorrectable_reason == ""
                    for link in self.links.values()
                )
            )
        return False  # withdraw, reopen: a reason only

    def _identified_without(self, *, apology_only: bool) -> list[Party]:
        reached = {id(visit.party) for visit in self.visits if visit.apologised or not apology_only}
        reached |= {id(letter.party) for letter in self.letters}
        return [p for p in self.parties.values() if p.identified and id(p) not in reached]
