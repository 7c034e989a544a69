import pytest

from cases.scoping import tenant_scope
from receptions import services

from .sheets import reception_csv

MAPPING = {
    "office": 0,
    "terminal": 1,
    "start": 2,
    "end": 3,
    "name": 4,
    "outcome": 5,
    "leader": 6,
    "checklist": 7,
    "date": None,
    "procedure": None,
}


@pytest.fixture
def import_rows(world):
    """Import rows (office, terminal, start, end, name, outcome[, leader, checklist]) of
    world.office at contractor_co's desk, as city staff; returns the sheet."""

    def run(rows, *, by=None, contractor="default", file_name="uketsuke.csv"):
        by = by or world.staff
        with tenant_scope(by):
            return services.sheet_import(
                data=reception_csv(rows),
                file_name=file_name,
                mapping=MAPPING,
                contractor=world.contractor_co if contractor == "default" else contractor,
                by=by,
            )

    return run
