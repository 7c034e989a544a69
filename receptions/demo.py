"""Reception sheets of the reference desks, imported through the same service a clerk's
upload goes through. Names are fictitious; on case 3 (八幡西区, 2023-02-07) C's reception
(佐藤 花子) follows D's (鈴木 次郎), who left mid-way without a checklist or a leader check,
so D ranks first. The 八幡東区 sheet deliberately does not name B of case 1: the city is
still asking the Digital Agency who B is, as the press release says.
"""

from pathlib import Path

from django.db import transaction
from django_scopes import scopes_disabled

from cases.models import Contractor, User
from cases.scoping import tenant_scope

from . import services, sheets
from .errors import SheetRefused
from .models import ReceptionSheet

DEMO_SHEET = Path(__file__).with_name("demo_receptions.csv")


@transaction.atomic
def load_demo_receptions() -> ReceptionSheet | None:
    """Import the demo sheet once; a second run finds the same file and does nothing."""
    data = DEMO_SHEET.read_bytes()
    with scopes_disabled():
        staff = User.objects.get(username="staff")
        contractor = Contractor.objects.get(name="株式会社エイジェック")
    with tenant_scope(staff) as membership:
        digest = services.hashlib.sha256(data).hexdigest()
        if ReceptionSheet.objects.filter(
            municipality=membership.municipality, sha256=digest
        ).exists():
            return None
        table = sheets.read_table(data)
        try:
            return services.sheet_import(
                data=data,
                file_name=DEMO_SHEET.name,
                mapping=sheets.guess_mapping(table.header),
                contractor=contractor,
                by=staff,
            )
        except SheetRefused as error:
            raise RuntimeError(f"{DEMO_SHEET.name}: {error.message} {error.rows[:5]}") from error
