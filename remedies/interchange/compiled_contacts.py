"""The compiled path's agency contacts (compiled.py): a report or question to agencies and
their answer, recorded with it or later at a seq of its own (replay.py, `contact`, `contact
answer`). Checked and built in memory with the services' own rules and wording
(remedies.services.check_contact, contact_actor, check_answer), in the order contact_add
and contact_answer apply them. The case's kept waits (Case.waits_until, waiting_since,
which both services refresh) are set once its contacts are built (compiled.py, _finish)."""

from collections.abc import Callable
from datetime import date
from typing import Any

from cases import bulk
from cases.audit import audit_log
from cases.models import Agency, TimelineEvent, User

from .. import services as remedies
from ..models import AgencyContact
from .compiled_base import NotCompiled, Run, together
from .rules import _date, _int, _list, _text, _value


class CompiledContacts:
    """The contact actions of CompiledCase (compiled.py), which holds the state they use."""

    replay: Any
    publisher: Any
    case: Any
    # By the seq of the contact's item: the request and its agencies, once each, in the
    # order the service reads them back (contact.agencies.all()).
    contacts: dict[int, tuple[AgencyContact, list[Agency]]]
    _editor: Callable[[User], None]  # lock_for_edit's checks on the case as it stands
    _line: Callable[..., TimelineEvent]  # add_timeline, in memory

    def _contact(self, item: dict) -> Run:
        """actions._CaseActions._contact: contact_add, with the answer the item records
        with the request."""
        case, replay = self.case, self.replay
        names = _list(item, "agencies")
        together_with_answer = _value(item, "answer_recorded", None) is None
        by = replay._by(item)
        agencies = [replay.refs.agency(name) for name in names]
        contacted_on = _date(item, "contacted_on")
        channel = _text(item, "channel")
        request = _text(item, "request")
        made_by = _text(item, "made_by", "municipality")
        answered_on = _date(item, "answered_on", optional=True) if together_with_answer else None
        answer = _text(item, "answer", "") if together_with_answer else ""
        self._editor(by)
        request = remedies.check_contact(
            case,
            agencies=agencies,
            contacted_on=contacted_on,
            channel=channel,
            made_by=made_by,
            request=request,
        )
        contact = bulk.new(
            AgencyContact,
            municipality_id=case.municipality_id,
            case=case,
            made_by=made_by,
            contacted_on=contacted_on,
            channel=channel,
            request=request,
            created_by=by,
        )
        chosen = self.publisher.agencies_in_order(agencies)  # agencies.set(): each once
        self.contacts[_int(item, "seq")] = (contact, chosen)
        line = self._line(
            on=contacted_on,
            actor=remedies.contact_actor(case, made_by),
            text=request,
            action="contact.made",
            by=by,
        )
        data = {"agencies": [agency.name for agency in agencies]}  # as given

        def added() -> None:
            self.publisher.contacts.append((contact, chosen))
            self.publisher.events.append(line)
            audit_log("tadasu.contact.added", by=by, case=case, obj=contact, data=data)

        runs = [added]
        if answered_on is not None or answer.strip():
            runs.append(self._answered(contact, chosen, by, answered_on=answered_on, answer=answer))
        return together(runs)

    def _contact_answer(self, contact_item: dict, item: dict) -> Run:
        """actions._CaseActions._answer: contact_answer, with the values of the contact's
        item."""
        found = self.contacts.get(_int(contact_item, "seq"))
        if found is None:
            raise NotCompiled  # an answer before its request: the replay refuses it
        contact, chosen = found
        by = self.replay._by(item)
        answered_on = _date(contact_item, "answered_on", optional=True)
        answer = _text(contact_item, "answer", "")
        self._editor(by)
        if contact.answered:
            raise NotCompiled  # "This request already has an answer."
        return self._answered(contact, chosen, by, answered_on=answered_on, answer=answer)

    def _answered(
        self,
        contact: AgencyContact,
        chosen: list[Agency],
        by: User,
        *,
        answered_on: date | None,
        answer: str,
    ) -> Run:
        """remedies.services._answer."""
        case = self.case
        answer = remedies.check_answer(case, contact, answered_on=answered_on, answer=answer)
        contact.answered_on, contact.answer = answered_on, answer
        line = self._line(
            on=answered_on,
            actor="・".join(agency.name for agency in chosen),
            text=answer,
            action="contact.answered",
            by=by,
        )

        def run() -> None:
            self.publisher.events.append(line)
            audit_log("tadasu.contact.answered", by=by, case=case, obj=contact)

        return run
