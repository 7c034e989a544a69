"""`export_cases` is no silent bulk copy of every city's people: contact and account details
stay out unless asked for, the file is its owner's alone, and each export is audited in the
trail of every municipality whose cases it holds."""

import getpass
import io
import json
import os
import stat
from datetime import date

import pytest
from django.core.management import CommandError, call_command
from django_scopes import scopes_disabled

from cases import services
from cases.models import AuditEntry, CaseKind, Municipality, Party
from remedies.demo import load_demo
from remedies.interchange import export_cases, import_cases
from remedies.interchange.rules import CONTACT_FIELDS

from .test_interchange import demo_reference_data, export_and_forget, lines, nothing_imported

pytestmark = pytest.mark.django_db

# In the demo's people: an account number, a payment ID, a phone number, an address.
DETAILS = ("1234567", "MP-2023-0207-0011", "093-000-0001", "八幡東区中央（架空）1-1")


def exported_entries() -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action="tadasu.cases.exported").order_by("id"))


@pytest.fixture
def demo():
    with scopes_disabled():
        load_demo()


def test_an_export_leaves_out_how_to_reach_people_and_their_accounts(demo):
    with scopes_disabled():
        document = export_cases()
    text = json.dumps(document, ensure_ascii=False)
    assert document["personal_data"] is False
    assert not any(detail in text for detail in DETAILS)
    for case in document["cases"]:
        for party in case["parties"]:
            assert set(CONTACT_FIELDS).isdisjoint(party)
    # Who the people are stays: a case file without its people is no case file.
    assert "佐藤 花子" in text


def test_a_file_without_personal_data_imports_and_exports_the_same():
    exported = export_and_forget(load_demo, personal_data=False)
    assert nothing_imported()
    demo_reference_data()

    created = import_cases(exported)

    assert len(created) == 4
    with scopes_disabled():
        parties = list(Party.objects.all())
        assert parties and all(getattr(p, f) == "" for p in parties for f in CONTACT_FIELDS)
        assert lines(export_cases()) == lines(exported)


def test_the_file_is_its_owners_alone_whatever_the_umask(demo, tmp_path):
    path = tmp_path / "cases.json"
    old = os.umask(0)
    try:
        call_command("export_cases", "--output", str(path), stderr=io.StringIO())
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_an_existing_file_is_not_overwritten(demo, tmp_path):
    path = tmp_path / "cases.json"
    path.write_text("older export\n", encoding="utf-8")
    path.chmod(0o644)
    with pytest.raises(CommandError, match="already exists"):
        call_command("export_cases", "--output", str(path), stderr=io.StringIO())
    assert path.read_text(encoding="utf-8") == "older export\n"
    assert exported_entries() == []


def test_an_export_to_a_file_is_audited_in_the_citys_trail(demo, tmp_path):
    path = tmp_path / "cases.json"
    err = io.StringIO()
    call_command("export_cases", "--output", str(path), stderr=err)
    assert "4 case(s) written" in err.getvalue() and "without personal data" in err.getvalue()

    [entry] = exported_entries()
    assert entry.user is None
    assert entry.municipality == Municipality.objects.get(code="401005")
    assert entry.data == {
        "municipality": "401005",
        "cases": 4,
        "personal_data": False,
        "pdfs": False,
        "destination": str(path.resolve()),
        "selection": "all",
        "via": "command",
        "command": "export_cases",
        "os_user": getpass.getuser(),
    }


def test_personal_data_goes_out_only_when_asked_and_is_audited_as_such(demo, tmp_path):
    path = tmp_path / "cases.json"
    call_command(
        "export_cases",
        "401005-2022-001",
        "-o",
        str(path),
        "--with-personal-data",
        stderr=io.StringIO(),
    )
    text = path.read_text(encoding="utf-8")
    assert "1234567" in text and json.loads(text)["personal_data"] is True

    [entry] = exported_entries()
    assert entry.data["personal_data"] is True
    assert entry.data["cases"] == 1
    assert entry.data["selection"] == ["401005-2022-001"]


def test_an_export_to_stdout_is_audited_too(demo):
    out = io.StringIO()
    call_command("export_cases", stdout=out)
    assert len(json.loads(out.getvalue())["cases"]) == 4
    [entry] = exported_entries()
    assert entry.data["destination"] == "stdout"
    assert entry.data["personal_data"] is False


def test_each_municipality_finds_the_export_in_its_own_trail(world):
    for staff, office in (
        (world.staff, world.office),
        (world.staff_other_city, world.other_city_office),
    ):
        services.case_open(
            by=staff, office=office, kind=CaseKind.OTHER, discovered_on=date(2024, 5, 1)
        )
    call_command("export_cases", stdout=io.StringIO())
    entries = exported_entries()
    assert {(e.municipality_id, e.data["cases"]) for e in entries} == {
        (world.city.pk, 1),
        (world.other_city.pk, 1),
    }


def test_no_case_leaves_when_the_export_cannot_be_audited(demo, tmp_path, monkeypatch):
    def fail(*args, **kwargs):
        raise RuntimeError("the audit trail is not writable")

    monkeypatch.setattr("remedies.management.commands.export_cases.audit_export", fail)
    path = tmp_path / "cases.json"
    with pytest.raises(RuntimeError):
        call_command("export_cases", "--output", str(path), stderr=io.StringIO())
    assert not path.exists()
    out = io.StringIO()
    with pytest.raises(RuntimeError):
        call_command("export_cases", stdout=out)
    assert out.getvalue() == ""
