"""Writes on a misregistration link after it was recorded: its correction, and a manager's
reason why it cannot be corrected.

A case closes only when every link is corrected or excused (remedies/workflow.py). Both
writes lock the case, check the role on the fresh row, write the audit entry and the 経過
line in the same transaction. A correction may be recorded again later (a wrong date, a
better note): the audit entry keeps what it said before.
"""

from datetime import date

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext as _

from . import permissions
from .audit import audit_log
from .errors import CaseError
from .labels import is_choice
from .models import Case, CorrectionWay, Misregistration, User
from .scoping import membership_of
from .services import actor_of, add_timeline, check_event_date, lock_for_edit, today
from .wareki import wareki

REASON_MAX = 1000


def link_text(link: Misregistration) -> str:
    """D氏→C氏（キャッシュレス決済口座）: how messages and the 経過 name a link."""
    return _("%(source)s → %(target)s (%(data)s)") % {
        "source": link.source.label,
        "target": link.target.label,
        "data": link.get_data_kind_display(),
    }


def _locked_link(link: Misregistration, by: User) -> tuple:
    case = lock_for_edit(link.case, by)
    link = (
        Misregistration.objects.select_for_update()
        .select_related("source", "target")
        .get(pk=link.pk, case=case)
    )
    return case, link


@transaction.atomic
def link_correct(
    *,
    link: Misregistration,
    by: User,
    corrected_on: date | None,
    corrected_how: str,
    correction_note: str = "",
) -> Misregistration:
    """Record when and how the link was set right (city staff and managers)."""
    case, link = _locked_link(link, by)
    correction_note = check_correction(
        case,
        link,
        corrected_on=corrected_on,
        corrected_how=corrected_how,
        correction_note=correction_note,
    )
    before = correction_record(link)
    first = link.corrected_on is None
    link.corrected_on = corrected_on
    link.corrected_how = corrected_how
    link.correction_note = correction_note
    link.save(update_fields=["corrected_on", "corrected_how", "correction_note"])
    # The correction itself is part of the story, on the day it happened; a later fix of the
    # record is bookkeeping, dated the day it was made.
    add_timeline(
        case,
        on=corrected_on if first else today(),
        actor=actor_of(by),
        text=correction_text(link, first=first),
        action="link.corrected" if first else "link.correction_changed",
        by=by,
        in_story=first,
    )
    audit_log(
        "tadasu.misregistration.corrected",
        by=by,
        case=case,
        obj=link,
        data={"before": before, "after": {**before, **correction_record(link)}},
    )
    return link


# link_correct and link_excuse's rules and wording on the link in hand: the case-file
# import's compiled path (remedies/interchange/compiled.py) applies them to a case built in
# memory, so the two never differ.


def check_correction(
    case: Case,
    link: Misregistration,
    *,
    corrected_on: date | None,
    corrected_how: str,
    correction_note: str,
) -> str:
    """The correction link_correct would record, checked; returns the note as kept."""
    if corrected_on is None:
        raise CaseError(_("Enter the date it was corrected."), field="corrected_on")
    check_event_date(case, corrected_on, "corrected_on")
    if link.registered_on and corrected_on < link.registered_on:
        raise CaseError(
            _("The correction cannot come before the registration (%(date)s).")
            % {"date": wareki(link.registered_on)},
            field="corrected_on",
        )
    if not is_choice(corrected_how, CorrectionWay):
        raise CaseError(_("Choose how it was corrected."), field="corrected_how")
    correction_note = (correction_note or "").strip()
    if len(correction_note) > 200:
        raise CaseError(
            _("Write at most %(max)s characters.") % {"max": 200}, field="correction_note"
        )
    return correction_note


def correction_record(link: Misregistration) -> dict:
    """The link's correction as its audit entries record it."""
    return {
        "corrected_on": link.corrected_on.isoformat() if link.corrected_on else None,
        "corrected_how": link.corrected_how,
        "correction_note": link.correction_note,
    }


def correction_text(link: Misregistration, *, first: bool) -> str:
    """The 経過 line of the correction just recorded on `link` (the first, or a later fix
    of the record), in Japanese whatever the user reads."""
    with translation.override("ja"):
        values = {
            "link": link_text(link),
            "how": CorrectionWay(link.corrected_how).label,
            "date": wareki(link.corrected_on),
        }
        if first:
            text = _("The misregistration %(link)s was corrected (%(how)s).") % values
        else:
            text = _("The record of the correction of %(link)s was changed: %(date)s, %(how)s.") % (
                values
            )
        note = link.correction_note
        if note:
            # The note is a sentence of the 経過 line (it is printed in the press release):
            # it ends as one.
            end = "" if note.endswith(("。", "．", ".", "）")) else "。"
            text = f"{text}{note}{end}"
    return text


@transaction.atomic
def link_excuse(
    *, link: Misregistration, by: User, reason: str, on: date | None = None
) -> Misregistration:
    """A manager records why the link cannot be corrected; the case may then close. `on`:
    the day it was decided (today unless an import replays an older case)."""
    case, link = _locked_link(link, by)
    reason, on = check_excuse(case, link, by=by, reason=reason, on=on)
    previous = link.uncorrectable_reason
    link.uncorrectable_reason = reason
    link.excused_by = by
    link.excused_on = on
    link.save(update_fields=["uncorrectable_reason", "excused_by", "excused_on"])
    # A decision for the file: internal until staff publish it.
    add_timeline(
        case,
        on=link.excused_on,
        actor=actor_of(by),
        text=excuse_text(link),
        action="link.excused",
        by=by,
        in_story=True,
        public=False,
    )
    audit_log(
        "tadasu.misregistration.excused",
        by=by,
        case=case,
        obj=link,
        data={"before": previous, "reason": reason},
    )
    return link


def check_excuse(
    case: Case, link: Misregistration, *, by: User, reason: str, on: date | None
) -> tuple[str, date]:
    """The excuse link_excuse would record, checked; returns the reason and the day as
    kept (`by` may already edit the case)."""
    if not permissions.is_manager_of(membership_of(by), case):
        raise PermissionDenied(_("Only a manager can record why a link cannot be corrected."))
    if link.corrected_on is not None:
        raise CaseError(_("This link has been corrected already."), field="reason")
    reason = (reason or "").strip()
    if not reason:
        raise CaseError(_("Enter the reason."), field="reason")
    if len(reason) > REASON_MAX:
        raise CaseError(
            _("Write at most %(max)s characters.") % {"max": REASON_MAX}, field="reason"
        )
    on = on or today()
    check_event_date(case, on, "reason")
    return reason, on


def excuse_text(link: Misregistration) -> str:
    """The 経過 line of the reason just recorded on `link`, in Japanese."""
    with translation.override("ja"):
        return _("The misregistration %(link)s cannot be corrected (reason: %(reason)s).") % {
            "link": link_text(link),
            "reason": link.uncorrectable_reason,
        }


def links_to_correct(case) -> list[Misregistration]:
    """The links that keep the case from closing: neither corrected nor excused."""
    prefetched = getattr(case, "_prefetched_objects_cache", {}).get("misregistrations")
    if prefetched is not None:  # the case page has read the links already
        return [
            link
            for link in prefetched
            if link.corrected_on is None and link.uncorrectable_reason == ""
        ]
    return list(
        Misregistration.objects.filter(
            case=case, corrected_on__isnull=True, uncorrectable_reason=""
        ).select_related("source", "target")
    )
