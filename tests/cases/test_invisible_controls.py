"""Names and labels refuse bidirectional controls and zero-width characters (issue 17): in
the forms (a message next to the field, in the user's language), in the services whoever
calls them, in reception sheets and in import_cases; nothing is changed."""

import json

import pytest
from django_scopes import scopes_disabled

from cases import services
from cases.errors import CaseError
from cases.models import Party, User
from cases.mynumber import has_invisible_controls
from cases.scoping import tenant_scope
from receptions import services as reception_services
from receptions.errors import SheetRefused
from receptions.models import Reception
from remedies.demo import DEMO_CASES
from remedies.interchange import InterchangeError, import_cases

from ..receptions.conftest import MAPPING
from ..receptions.sheets import reception_csv
from ..remedies.test_interchange import demo_reference_data, nothing_imported

pytestmark = pytest.mark.django_db

CONTROLS = [
    "\u202a", "\u202b", "\u202c", "\u202d", "\u202e",  # embeddings and overrides
    "\u2066", "\u2067", "\u2068", "\u2069",  # isolates
    "\u200e", "\u200f", "\u061c",  # direction marks
    "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff",  # zero-width characters
]  # fmt: skip
JA = "見えない制御文字"
EN = "invisible control characters"


@pytest.mark.parametrize("control", CONTROLS, ids=[f"U+{ord(c):04X}" for c in CONTROLS])
def test_the_party_form_refuses_a_name_with_an_invisible_control(client, world, case, control):
    client.force_login(world.staff)
    response = client.post(
        f"/cases/{case.reference}/parties/new/",
        {"label": "A氏", "identified": "on", "name": f"山田{control}太郎"},
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert 'id="id_name_error"' in body and JA in body
    with scopes_disabled():
        assert not Party.objects.exists()


def test_the_message_is_in_english_for_an_english_user(client, world, case):
    User.objects.filter(pk=world.staff.pk).update(language="en")
    client.force_login(world.staff)
    client.post("/language/", {"language": "en", "next": "/"})
    response = client.post(
        f"/cases/{case.reference}/parties/new/",
        {"label": "A\u202e氏", "identified": "on", "name": "山田 太郎"},
    )
    body = response.content.decode()
    assert 'id="id_label_error"' in body and EN in body and JA not in body


def test_the_timeline_form_refuses_an_actor_with_a_direction_mark(client, world, case):
    client.force_login(world.staff)
    response = client.post(
        f"/cases/{case.reference}/timeline/new/",
        {"occurred_on": "2023-02-01", "actor": "北九州市\u200f", "text": "電話で確認した。"},
    )
    assert 'id="id_actor_error"' in response.content.decode()


@pytest.mark.parametrize("field", ["label", "name", "name_kana"])
def test_the_party_services_refuse_it_whoever_calls_them(world, case, field):
    values = {"label": "A氏", "name": "山田 太郎", "name_kana": "ヤマダ タロウ"}
    values[field] = values[field][:1] + "\u2066" + values[field][1:]
    with scopes_disabled(), pytest.raises(CaseError) as error:
        services.party_add(case=case, by=world.staff, **values)
    assert error.value.field == field and JA in error.value.message
    with scopes_disabled():
        assert not Party.objects.exists()
        party = services.party_add(case=case, by=world.staff, label="A氏", name="山田 太郎")
        with pytest.raises(CaseError):
            services.party_update(party=party, by=world.staff, name="山田\u200b太郎")
        party.refresh_from_db()
        assert party.name == "山田 太郎"


def test_a_reception_sheet_with_a_hidden_control_in_a_name_imports_nothing(world):
    rows = [
        (world.office.name, "2", "2023-02-07 10:15", "10:25", "鈴木\u202e次郎", "完了"),
        (world.office.name, "2", "2023-02-07 10:30", "10:55", "佐藤 花子", "完了"),
    ]
    with tenant_scope(world.staff), pytest.raises(SheetRefused) as refused:
        reception_services.sheet_import(
            data=reception_csv(rows), file_name="s", mapping=MAPPING, by=world.staff,
            contractor=None,
        )  # fmt: skip
    assert [(line, message) for line, _column, message in refused.value.rows] == [
        (2, refused.value.rows[0][2])
    ]
    assert JA in refused.value.rows[0][2]
    with scopes_disabled():
        assert not Reception.objects.exists()


def test_an_import_file_with_a_hidden_control_in_a_party_name_imports_nothing(world):
    demo_reference_data()
    document = json.loads(DEMO_CASES.read_text(encoding="utf-8"))
    document["cases"][0]["parties"][0]["name"] = "山田\u202e太郎"
    with pytest.raises(InterchangeError) as error:
        import_cases(document)
    assert error.value.field == "name" and "party" in error.value.item
    assert nothing_imported()


@pytest.mark.parametrize("control", CONTROLS, ids=[f"U+{ord(c):04X}" for c in CONTROLS])
def test_each_control_is_found_inside_a_japanese_name(control):
    assert has_invisible_controls(f"山田{control}太郎")


# Characters on either side of the refused ranges that show as what they are: spaces of
# other widths, the paragraph separator (a line break), and ordinary names.
@pytest.mark.parametrize(
    "text",
    ["山田\u202f太郎", "山田\u00a0太郎", "山田\u3000太郎", "山田\u2029太郎", "山田 太郎", "", None],
)
def test_visible_spaces_and_breaks_are_not_invisible_controls(text):
    assert not has_invisible_controls(text)
