"""The compiled path's links (compiled.py): a misregistration link between two parties of
the case, its correction and a manager's reason why it cannot be corrected, each recorded
with the link or later at a seq of its own (replay.py, `link`, `link correction`, `link
excuse`). Checked and built in memory with the services' own rules and wording
(cases.services.check_link; cases.links.check_correction, correction_text, check_excuse,
excuse_text), in the order misregistration_add, link_correct and link_excuse apply them."""

from collections.abc import Callable
from typing import Any

from cases import bulk
from cases import links as link_services
from cases import services as case_services
from cases.audit import audit_log
from cases.models import Misregistration, Party, TimelineEvent, User

from .compiled_base import NotCompiled, Run, together
from .rules import _bool, _date, _int, _text, _value


class CompiledLinks:
    """The link actions of CompiledCase (compiled.py), which holds the state they use."""

    replay: Any
    publisher: Any
    case: Any
    parties: dict[str, Party]
    links: dict[int, Misregistration]  # by the seq of the link's item

    _editor: Callable[[User], None]  # lock_for_edit's checks on the case as it stands
    _line: Callable[..., TimelineEvent]  # add_timeline, in memory

    def _party_named(self, item: Any, field: str) -> Party:
        """actions._CaseActions._party: the party with the item's label as it stands."""
        label = _value(item, field)
        if not isinstance(label, str) or label not in self.parties:
            raise NotCompiled
        return self.parties[label]

    def _recorded_link(self, link: Any) -> Misregistration:
        found = self.links.get(_int(link, "seq"))
        if found is None:
            raise NotCompiled  # a correction before its link: the replay refuses it
        return found

    def _link(self, item: dict) -> Run:
        """actions._CaseActions._link: misregistration_add, then the correction and the
        excuse the item records with it."""
        case = self.case
        recorded_apart = _value(item, "correction_recorded", None) is not None
        with_way = bool(_text(item, "corrected_how", ""))
        by = self.replay._by(item)
        source, target = self._party_named(item, "source"), self._party_named(item, "target")
        data_kind = _text(item, "data_kind")
        registered_on = _date(item, "registered_on", optional=True)
        corrected_on = (
            None if with_way or recorded_apart else _date(item, "corrected_on", optional=True)
        )
        paid_through = _bool(item, "paid_through", False)
        note = _text(item, "note", "")
        self._editor(by)
        case_services.check_link(
            case,
            source=source,
            target=target,
            data_kind=data_kind,
            registered_on=registered_on,
            corrected_on=corrected_on,
        )
        if any(
            (link.source, link.target, link.data_kind) == (source, target, data_kind)
            for link in self.links.values()
        ):
            raise NotCompiled  # "This link is already recorded."
        link = bulk.new(
            Misregistration,
            case=case,
            source=source,
            target=target,
            data_kind=data_kind,
            registered_on=registered_on,
            corrected_on=corrected_on,
            paid_through=paid_through,
            note=note.strip(),
        )
        self.links[_int(item, "seq")] = link
        # As added: a later edit of a party's label changes the row, not this entry.
        data = {"source": source.label, "target": target.label, "data_kind": data_kind}

        def added() -> None:
            self.publisher.links.append(link)
            audit_log("tadasu.misregistration.added", by=by, case=case, obj=link, data=data)

        runs = [added]
        if with_way and not recorded_apart:
            runs.append(self._link_correction(item, item))
        excused_apart = _value(item, "excuse_recorded", None) is not None
        if _text(item, "uncorrectable_reason", "") and not excused_apart:
            runs.append(self._link_excuse(item, item, by_field="excused_by"))
        return together(runs)

    def _link_correction(self, link_item: dict, item: dict) -> Run:
        """cases.links.link_correct, with the values of the link's item."""
        case = self.case
        link = self._recorded_link(link_item)
        by = self.replay._by(item)
        corrected_on = _date(link_item, "corrected_on", optional=True)
        corrected_how = _text(link_item, "corrected_how", "")
        correction_note = _text(link_item, "correction_note", "")
        self._editor(by)
        correction_note = link_services.check_correction(
            case,
            link,
            corrected_on=corrected_on,
            corrected_how=corrected_how,
            correction_note=correction_note,
        )
        before = link_services.correction_record(link)
        first = link.corrected_on is None
        link.corrected_on = corrected_on
        link.corrected_how = corrected_how
        link.correction_note = correction_note
        line = self._line(
            on=corrected_on if first else case_services.today(),
            actor=case_services.actor_of(by),
            text=link_services.correction_text(link, first=first),
            action="link.corrected" if first else "link.correction_changed",
            by=by,
            in_story=first,
        )
        data = {"before": before, "after": {**before, **link_services.correction_record(link)}}

        def run() -> None:
            self.publisher.events.append(line)
            audit_log("tadasu.misregistration.corrected", by=by, case=case, obj=link, data=data)

        return run

    def _link_excuse(self, link_item: dict, item: dict, by_field: str = "by") -> Run:
        """cases.links.link_excuse, with the values of the link's item."""
        case = self.case
        link = self._recorded_link(link_item)
        by = self.replay.refs.user(_value(item, by_field), by_field)
        reason = _text(link_item, "uncorrectable_reason", "")
        on = _date(link_item, "excused_on", optional=True)
        self._editor(by)
        reason, on = link_services.check_excuse(case, link, by=by, reason=reason, on=on)
        previous = link.uncorrectable_reason
        link.uncorrectable_reason = reason
        link.excused_by = by
        link.excused_on = on
        line = self._line(
            on=on,
            actor=case_services.actor_of(by),
            text=link_services.excuse_text(link),
            action="link.excused",
            by=by,
            in_story=True,
            public=False,
        )
        data = {"before": previous, "reason": reason}

        def run() -> None:
            self.publisher.events.append(line)
            audit_log("tadasu.misregistration.excused", by=by, case=case, obj=link, data=data)

        return run
