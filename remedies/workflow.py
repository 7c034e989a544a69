"""The stage machine: one table, its guards, and the one service that moves a case.

Why here and not in cases/: the stage field lives on Case, but its guards ask about
balances, visits and agreements, which are remedies/ facts. Keeping the table beside those
facts (on a proxy of Case) lets cases/ stay free of any import of remedies/, so the arrow
between the apps points one way, and the whole machine reads in one place.

    from            action       to              who      guard (what must be true)
    inquiry         refer        agency_contact  staff    a misregistration link; the cause
    agency_contact  negotiate    negotiation     staff    an agency answer; a balance not zero
    agency_contact  plan_visits  visit           staff    an agency answer; every balance zero
    negotiation     agree        visit           staff    a compensation agreement
    visit           settle       settlement      staff    a visit or letter per identified person
    visit,          close        closed          manager  every balance zero; every identified
      settlement                                          person apologised to; prevention;
                                                          every link corrected, or a manager's
                                                          reason why it cannot be
    any open stage  withdraw     withdrawn       manager  a reason
    closed,         reopen       inquiry         manager  a reason
      withdrawn

    (staff = city staff and managers; manager = city managers only)
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_fsm import ConcurrentTransition, transition

from cases import permissions
from cases.audit import audit_log
from cases.links import link_text, links_to_correct
from cases.models import Case, Stage, User
from cases.scoping import membership_of
from cases.services import actor_of, add_timeline, check_event_date, japanese, today
from cases.wareki import yen

from . import ledger
from .errors import RemedyError
from .models import AgencyContact, ApologyLetter, CompensationAgreement, Visit

OPEN_STAGES = [
    Stage.INQUIRY,
    Stage.AGENCY_CONTACT,
    Stage.NEGOTIATION,
    Stage.VISIT,
    Stage.SETTLEMENT,
]


def _city_worker(case: Case, user: User) -> bool:
    return permissions.can_edit_case(membership_of(user), case)


def _manager(case: Case, user: User) -> bool:
    return permissions.is_manager_of(membership_of(user), case)


# ---- guards: side-effect-free, each returns the reasons a step is blocked ---------------
# Each reason says what is missing and carries the actions that supply it (a form's URL),
# so the case page can link straight to the form instead of leaving the clerk to search.


@dataclass(frozen=True)
class Action:
    label: str
    href: str
    managers_only: bool = False


class Reason(str):
    """A blocked step's reason: its text, and the actions that clear it."""

    actions: tuple[Action, ...]

    def __new__(cls, text: str, *actions: Action) -> "Reason":
        reason = super().__new__(cls, text)
        reason.actions = actions
        return reason


def _url(case: Case, name: str, **kwargs) -> str:
    return reverse(name, kwargs={"ref": case.reference, **kwargs})


def _needs_links_and_cause(case: Case) -> list[str]:
    reasons = []
    if not case.misregistrations.exists():
        reasons.append(
            Reason(
                _(
                    "No misregistration has been recorded: record whose data was "
                    "registered into whose record."
                ),
                Action(_("Record a misregistration"), _url(case, "cases:link_new")),
            )
        )
    if not case.cause_category:
        reasons.append(
            Reason(
                _("The cause has not been recorded: choose it under the case details."),
                Action(_("Edit case details"), _url(case, "cases:edit") + "#id_cause_category"),
            )
        )
    return reasons


def _needs_agency_answer(case: Case) -> list[str]:
    if AgencyContact.objects.filter(case=case, answered_on__isnull=False).exists():
        return []
    waiting = AgencyContact.objects.filter(case=case).order_by("contacted_on", "id").first()
    if waiting is not None:
        action = Action(
            _("Record the answer"),
            _url(case, "remedies:contact_answer", contact_id=waiting.pk),
        )
    else:
        action = Action(_("Record an agency contact"), _url(case, "remedies:contact_new"))
    return [
        Reason(
            _("No agency answer has been recorded: record the agency's answer."),
            action,
        )
    ]


def _nonzero(case: Case) -> list[ledger.Balance]:
    return [b for b in ledger.balances(case) if b.amount != 0]


def _needs_money_to_settle(case: Case) -> list[str]:
    reasons = _needs_agency_answer(case)
    if not _nonzero(case):
        reasons.append(
            Reason(
                _(
                    "No money or points have been recorded as going to the wrong person: "
                    "record the amount that was wrongly allocated (misallocation)."
                ),
                Action(
                    _("Record the misallocation"),
                    _url(case, "remedies:ledger_new", kind="misallocation"),
                ),
            )
        )
    return reasons


def _needs_no_money_moved(case: Case) -> list[str]:
    reasons = _needs_agency_answer(case)
    reasons += [_balance_reason(case, b) for b in _nonzero(case)]
    return reasons


def _needs_agreement(case: Case) -> list[str]:
    if not CompensationAgreement.objects.filter(case=case).exists():
        return [
            Reason(
                _(
                    "No compensation agreement has been recorded: record who pays, how "
                    "much and in what form."
                ),
                Action(_("Record a compensation agreement"), _url(case, "remedies:agreement_new")),
            )
        ]
    return []


def _identified_without(case: Case, *, apology_only: bool) -> list:
    visits = Visit.objects.filter(case=case)
    if apology_only:
        visits = visits.filter(apologised=True)
    reached = set(visits.values_list("party_id", flat=True))
    reached |= set(ApologyLetter.objects.filter(case=case).values_list("party_id", flat=True))
    return [p for p in case.parties.filter(identified=True) if p.pk not in reached]


def _apology_actions(case: Case, party) -> tuple[Action, ...]:
    letter = _url(case, "remedies:document_new") + f"?kind=apology&party={party.pk}"
    return (
        Action(_("Record a visit"), _url(case, "remedies:visit_new")),
        Action(_("Issue an apology letter"), letter),
    )


def _needs_contact_with_everyone(case: Case) -> list[str]:
    return [
        Reason(
            _("There is no visit or letter recorded for %(party)s.") % {"party": p.label},
            *_apology_actions(case, p),
        )
        for p in _identified_without(case, apology_only=False)
    ]


def _balance_reason(case: Case, balance: ledger.Balance) -> Reason:
    write_off = Action(
        _("Write off (manager)"),
        _url(case, "remedies:ledger_new", kind="write_off"),
        managers_only=True,
    )
    if balance.amount > 0:
        return Reason(
            _("%(party)s is still owed %(amount)s.")
            % {"party": balance.party.label, "amount": yen(balance.amount)},
            Action(_("Record a payment"), _url(case, "remedies:ledger_new", kind="payment")),
            write_off,
        )
    return Reason(
        _("%(party)s still holds an excess of %(amount)s.")
        % {"party": balance.party.label, "amount": yen(-balance.amount)},
        Action(_("Record a collection"), _url(case, "remedies:ledger_new", kind="collection")),
        write_off,
    )


def _needs_everything_settled(case: Case) -> list[str]:
    reasons = [_balance_reason(case, b) for b in _nonzero(case)]
    reasons += [
        Reason(
            _("There is no apology recorded for %(party)s.") % {"party": p.label},
            *_apology_actions(case, p),
        )
        for p in _identified_without(case, apology_only=True)
    ]
    if not case.prevention.strip():
        reasons.append(
            Reason(
                _("No prevention measures have been recorded: add them under the case details."),
                Action(_("Edit case details"), _url(case, "cases:edit") + "#id_prevention"),
            )
        )
    reasons += [
        Reason(
            _(
                "The misregistration %(link)s has not been corrected: record its correction "
                "(“Record the correction” under “Whose data went where”), or a manager records "
                "why it cannot be corrected."
            )
            % {"link": link_text(link)},
            Action(
                _("Record the correction"),
                _url(case, "cases:link_correct", link_id=link.pk),
            ),
            Action(
                _("Record why it cannot be corrected"),
                _url(case, "cases:link_excuse", link_id=link.pk),
                managers_only=True,
            ),
        )
        for link in links_to_correct(case)
    ]
    return reasons


def _nothing(case: Case) -> list[str]:
    return []


@dataclass(frozen=True)
class Step:
    name: str
    label: str
    blockers: Callable[[Case], list[str]]
    needs_reason: bool = False
    managers_only: bool = False


STEPS: dict[str, Step] = {
    step.name: step
    for step in [
        Step("refer", gettext_lazy("Refer to the agencies"), _needs_links_and_cause),
        Step("negotiate", gettext_lazy("Start compensation talks"), _needs_money_to_settle),
        Step("plan_visits", gettext_lazy("Go straight to visits"), _needs_no_money_moved),
        Step("agree", gettext_lazy("Compensation agreed: go to visits"), _needs_agreement),
        Step("settle", gettext_lazy("Go to settlement"), _needs_contact_with_everyone),
        Step(
            "close", gettext_lazy("Close the case"), _needs_everything_settled, managers_only=True
        ),
        Step(
            "withdraw",
            gettext_lazy("Withdraw the case"),
            _nothing,
            needs_reason=True,
            managers_only=True,
        ),
        Step(
            "reopen",
            gettext_lazy("Reopen the case"),
            _nothing,
            needs_reason=True,
            managers_only=True,
        ),
    ]
}


def _guard(name: str) -> Callable[[Case], bool]:
    return lambda case: not STEPS[name].blockers(case)


class CaseFile(Case):
    """Case with its stage transitions. Transition bodies touch only the model."""

    class Meta:
        proxy = True

    @transition(
        field="stage",
        source=Stage.INQUIRY,
        target=Stage.AGENCY_CONTACT,
        conditions=[_guard("refer")],
        permission=_city_worker,
    )
    def refer(self) -> None:
        pass

    @transition(
        field="stage",
        source=Stage.AGENCY_CONTACT,
        target=Stage.NEGOTIATION,
        conditions=[_guard("negotiate")],
        permission=_city_worker,
    )
    def negotiate(self) -> None:
        pass

    @transition(
        field="stage",
        source=Stage.AGENCY_CONTACT,
        target=Stage.VISIT,
        conditions=[_guard("plan_visits")],
        permission=_city_worker,
    )
    def plan_visits(self) -> None:
        pass

    @transition(
        field="stage",
        source=Stage.NEGOTIATION,
        target=Stage.VISIT,
        conditions=[_guard("agree")],
        permission=_city_worker,
    )
    def agree(self) -> None:
        pass

    @transition(
        field="stage",
        source=Stage.VISIT,
        target=Stage.SETTLEMENT,
        conditions=[_guard("settle")],
        permission=_city_worker,
    )
    def settle(self) -> None:
        pass

    @transition(
        field="stage",
        source=[Stage.VISIT, Stage.SETTLEMENT],
        target=Stage.CLOSED,
        conditions=[_guard("close")],
        permission=_manager,
    )
    def close(self) -> None:
        pass

    @transition(field="stage", source=OPEN_STAGES, target=Stage.WITHDRAWN, permission=_manager)
    def withdraw(self) -> None:
        pass

    @transition(
        field="stage",
        source=[Stage.CLOSED, Stage.WITHDRAWN],
        target=Stage.INQUIRY,
        permission=_manager,
    )
    def reopen(self) -> None:
        pass


@dataclass(frozen=True)
class StepOption:
    """A step the case page offers: allowed now, or blocked with the reasons."""

    step: Step
    target: str
    blockers: list[str]

    @property
    def allowed(self) -> bool:
        return not self.blockers


def steps_for(case: Case, user: User) -> list[StepOption]:
    """The steps from the current stage this user's role may take, each with its blockers."""
    case_file = case if isinstance(case, CaseFile) else CaseFile.objects.get(pk=case.pk)
    options = []
    for t in case_file.get_all_stage_transitions():
        if t.source != case_file.stage or not t.has_perm(case_file, user):
            continue
        step = STEPS[t.name]
        options.append(StepOption(step, t.target, list(step.blockers(case_file))))
    order = list(STEPS)
    return sorted(options, key=lambda o: order.index(o.step.name))


def next_by_others(case: Case, user: User) -> list[Reason]:
    """What happens next that this user does not do, and who does it: for city staff, the
    manager's close; for the contractor and the auditor, the city's steps. The contractor's
    own part (visits) comes first for them."""
    case_file = case if isinstance(case, CaseFile) else CaseFile.objects.get(pk=case.pk)
    membership = membership_of(user)
    notes: list[Reason] = []
    if (
        case_file.stage in (Stage.NEGOTIATION, Stage.VISIT, Stage.SETTLEMENT)
        and not permissions.can_edit_case(membership, case_file)
        and permissions.can_record_visit(membership, case_file)
    ):
        notes.append(
            Reason(
                _(
                    "Your part: record each visit (who went, where, what was handed over or "
                    "collected, whether the person was apologised to)."
                ),
                Action(_("Record a visit"), _url(case_file, "remedies:visit_new")),
            )
        )
    city_steps = []
    for t in case_file.get_all_stage_transitions():
        if t.source != case_file.stage or t.has_perm(case_file, user):
            continue
        step = STEPS[t.name]
        if step.needs_reason:
            continue  # withdrawing or reopening is a manager's decision, not the next step
        if step.managers_only:
            if case_file.stage == Stage.SETTLEMENT:
                text = _("When the settlement is done, a manager closes the case.")
            else:
                text = _(
                    "When every person has been apologised to and every balance is zero, "
                    "a manager closes the case."
                )
            notes.append(Reason(text))
            if case_file.stage == Stage.SETTLEMENT and permissions.can_edit_case(
                membership, case_file
            ):
                # What still stands in the way is mostly the staff's to supply (payments,
                # collections, apologies): say it now, with the forms, not at the manager's.
                notes += step.blockers(case_file)
        else:
            city_steps.append(str(step.label))
    if city_steps:
        notes.append(
            Reason(
                _("The city's staff take the next step: %(steps)s.")
                % {"steps": "、".join(f"「{label}」" for label in city_steps)}
            )
        )
    return notes


def transition_text(step: str, *, note: str, before: str, after: str) -> str:
    """The 経過 line of a stage step (the import's compiled path writes it too)."""
    with japanese():
        if step == "withdraw":
            return _("The case was withdrawn (reason: %(reason)s).") % {"reason": note}
        if step == "reopen":
            return _("The case was reopened (reason: %(reason)s).") % {"reason": note}
        if note:
            return note  # the clerk's own words, as the 経過 should read
        return _("Stage changed: %(before)s → %(after)s.") % {
            "before": Stage(before).label,
            "after": Stage(after).label,
        }


@transaction.atomic
def case_transition(
    *,
    case: Case,
    step: str,
    by: User,
    expected_stage: str | None = None,
    on: date | None = None,
    note: str = "",
) -> CaseFile:
    """Move the case one step. Refuses, with the reason, when a guard or the role says no,
    or when somebody else moved the case since the user saw it."""
    if step not in STEPS:
        raise RemedyError(_("Unknown step."))
    spec = STEPS[step]
    # Row lock first, so two people pressing the same button serialise here; the second
    # then finds the stage changed and is told so.
    case_file = CaseFile.objects.select_for_update().get(pk=case.pk)
    if expected_stage is not None and case_file.stage != expected_stage:
        raise RemedyError(
            _("This case was changed by someone else. Reload the page."), conflict=True
        )
    found = [
        t
        for t in case_file.get_all_stage_transitions()
        if t.name == step and t.source == case_file.stage
    ]
    if not found:
        raise RemedyError(
            _("This step is not possible from the stage %(stage)s.")
            % {"stage": case_file.get_stage_display()}
        )
    if not found[0].has_perm(case_file, by):
        if spec.managers_only:
            raise PermissionDenied(_("Only a manager can take this step."))
        raise PermissionDenied(_("Your role cannot take this step."))
    blockers = spec.blockers(case_file)
    if blockers:
        raise RemedyError(" ".join(str(b) for b in blockers))
    note = (note or "").strip()
    if spec.needs_reason and not note:
        raise RemedyError(_("Enter the reason."), field="note")
    on = on or today()
    check_event_date(case_file, on, "on")
    before = case_file.stage
    getattr(case_file, step)()
    case_file.stage_since = on
    try:
        case_file.save(update_fields=["stage", "stage_since", "updated_at"])
    except ConcurrentTransition as error:
        raise RemedyError(
            _("This case was changed by someone else. Reload the page."), conflict=True
        ) from error
    text = transition_text(step, note=note, before=before, after=case_file.stage)
    # A stage change is part of the story only when the clerk said what happened.
    add_timeline(
        case_file,
        on=on,
        actor=actor_of(by),
        text=text,
        action=f"stage.{step}",
        by=by,
        in_story=bool(note) and not spec.needs_reason,
    )
    audit_log(
        f"tadasu.case.stage.{step}",
        by=by,
        case=case_file,
        obj=case_file,
        data={"from": before, "to": case_file.stage, "note": note},
    )
    return case_file
