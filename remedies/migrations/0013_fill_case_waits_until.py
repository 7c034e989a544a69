"""Fill Case.waits_until and Case.waiting_since (cases 0019) for the cases recorded before
them: the latest answer of the case's agency requests, 9999-12-31 while one is unanswered,
and the day the oldest unanswered one went out (cases.deadlines.refresh_waits, which the
services call from now on)."""

from datetime import date

from django.db import migrations
from django.db.models import Max, Min, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce


def fill(apps, schema_editor):
    Case = apps.get_model("cases", "Case")
    AgencyContact = apps.get_model("remedies", "AgencyContact")
    rows = AgencyContact.objects.filter(case=OuterRef("pk")).order_by().values("case")
    latest = rows.annotate(last=Max(Coalesce("answered_on", Value(date.max)))).values("last")
    oldest_open = (
        rows.filter(answered_on__isnull=True).annotate(first=Min("contacted_on")).values("first")
    )
    Case.objects.filter(pk__in=AgencyContact.objects.values("case")).update(
        waits_until=Subquery(latest), waiting_since=Subquery(oldest_open)
    )


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0019_case_waits_until"),
        ("remedies", "0012_national_correction_and_issued_letters"),
    ]

    operations = [migrations.RunPython(fill, migrations.RunPython.noop)]
