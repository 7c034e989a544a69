"""Writes of the overview: a municipality's deadlines and closed days (managers only)."""

from datetime import date

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from cases.audit import audit_log
from cases.deadlines import DEFAULT_DAYS, TIMED_STAGES
from cases.errors import CaseError
from cases.models import ClosedDay, Municipality, Role, StageDeadline, User
from cases.scoping import membership_of

MAX_DAYS = 250  # about one business year; the database refuses more


def _require_manager(by: User, municipality: Municipality) -> None:
    membership = membership_of(by)
    if not (
        membership is not None
        and membership.role == Role.MANAGER
        and membership.municipality_id == municipality.pk
    ):
        raise PermissionDenied(_("Only a manager of this municipality can change deadlines."))


@transaction.atomic
def deadlines_set(*, municipality: Municipality, days: dict[str, int], by: User) -> None:
    """Set the business days allowed per stage; a value equal to the default is stored too,
    so the municipality's choice survives a change of the defaults."""
    _require_manager(by, municipality)
    unknown = set(days) - {str(s) for s in TIMED_STAGES}
    if unknown:
        raise CaseError(_("Unknown stage."))
    for stage, n in days.items():
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_DAYS:
            raise CaseError(
                _("Enter a number of business days from 1 to %(max)s.") % {"max": MAX_DAYS},
                field=stage,
            )
    before = dict(
        StageDeadline.objects.select_for_update()
        .filter(municipality=municipality)
        .values_list("stage", "business_days")
    )
    for stage, n in days.items():
        StageDeadline.objects.update_or_create(
            municipality=municipality, stage=stage, defaults={"business_days": n}
        )
    audit_log(
        "tadasu.settings.deadlines",
        by=by,
        data={
            "before": {s: before.get(s, DEFAULT_DAYS[s]) for s in days},
            "after": days,
        },
    )


@transaction.atomic
def closed_day_add(*, municipality: Municipality, day: date, name: str, by: User) -> ClosedDay:
    _require_manager(by, municipality)
    name = name.strip()
    if day.weekday() >= 5:
        raise CaseError(_("Weekends are closed days already."), field="day")
    try:
        with transaction.atomic():
            closed = ClosedDay.objects.create(municipality=municipality, day=day, name=name)
    except IntegrityError as error:
        raise CaseError(_("This day is a closed day already."), field="day") from error
    audit_log(
        "tadasu.settings.closed_day.added",
        by=by,
        obj=closed,
        data={"day": day.isoformat(), "name": name},
    )
    return closed


@transaction.atomic
def closed_day_remove(*, closed_day: ClosedDay, by: User) -> None:
    _require_manager(by, closed_day.municipality)
    audit_log(
        "tadasu.settings.closed_day.removed",
        by=by,
        obj=closed_day,
        data={"day": closed_day.day.isoformat(), "name": closed_day.name},
    )
    closed_day.delete()
