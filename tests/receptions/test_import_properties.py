"""Whatever the cells hold, an import is all-or-nothing and fails only with a message."""

import os

import pytest
from django.db import transaction
from django_scopes import scopes_disabled
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl.utils.exceptions import IllegalCharacterError

from cases.scoping import tenant_scope
from receptions import services
from receptions.errors import ReceptionError
from receptions.models import Reception, ReceptionSheet

from .conftest import MAPPING
from .sheets import reception_csv, reception_xlsx

pytestmark = pytest.mark.django_db
EXAMPLES = int(os.environ.get("TADASU_FUZZ_EXAMPLES", "40"))

junk = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        [
            "",
            "\x00",
            "2023-02-30 10:00",
            "25:61",
            "9999-12-31 23:59",
            "0001-01-01 00:00",
            "１２３４５６７８９０１８",  # a My Number in full-width digits
            "1234 5678 9018",
            "完了",
            "途中退席",
            "済",
            "×",
            "\u202e完了",
            "あ" * 300,
        ]
    ),
)


@st.composite
def sheet(draw, office_name: str):
    rows = []
    for i in range(draw(st.integers(min_value=1, max_value=6))):
        row = [office_name, "1", f"2023-02-07 10:{i:02d}", "", f"氏名 {i}", "完了", "済", "済"]
        for column in range(len(row)):
            if draw(st.integers(min_value=0, max_value=5)) == 0:
                row[column] = draw(junk)
        rows.append(tuple(row))
    return rows


def _stored() -> tuple[int, int]:
    with scopes_disabled():
        return Reception.objects.count(), ReceptionSheet.objects.count()


@pytest.mark.parametrize("as_xlsx", [False, True], ids=["csv", "xlsx"])
def test_an_import_is_whole_or_refused_with_a_message(world, as_xlsx):
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(rows=sheet(world.office.name))
    def attempt(rows):
        try:
            data = reception_xlsx(rows) if as_xlsx else reception_csv(rows)
        except (ValueError, UnicodeEncodeError, IllegalCharacterError):
            return  # a cell openpyxl itself cannot write (control characters)
        with transaction.atomic():
            try:
                with tenant_scope(world.staff):
                    sheet = services.sheet_import(
                        data=data, file_name="x.csv", mapping=MAPPING, by=world.staff
                    )
            except ReceptionError as error:
                assert error.message
                assert _stored() == (0, 0)
            else:
                assert _stored() == (len(rows), 1) == (sheet.row_count, 1)
            finally:
                transaction.set_rollback(True)

    attempt()
