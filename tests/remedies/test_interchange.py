"""The case interchange format: export → import into an empty database → export is the same
document; a file with one broken case imports nothing and says where and why."""

import copy
import io
import json
from datetime import date

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction
from django_scopes import scopes_disabled

from cases import links, services
from cases.models import (
    Agency,
    AuditEntry,
    Case,
    CaseKind,
    CauseCategory,
    CorrectionWay,
    DataKind,
    Party,
    TimelineEvent,
    User,
)
from cases.services import CASE_FIELDS
from remedies import ledger
from remedies import services as remedies
from remedies.demo import DEMO_CASES, _organisations, _users, load_demo
from remedies.interchange import InterchangeError, export_cases, import_cases
from remedies.interchange.rules import (
    _date,
    _FieldError,
    _held_open,
    _known_fields,
    case_field_placement,
    party_field_placement,
)
from remedies.models import Channel, LedgerEntry, Method, Purpose, Side, Visit
from remedies.workflow import case_transition

pytestmark = pytest.mark.django_db


def export_and_forget(build, *, personal_data: bool = True) -> dict:
    """Build cases, export them, then roll the database back to before the build: the
    import that follows starts from an empty case file, and new rows get new ids."""
    with transaction.atomic(), scopes_disabled():
        build()
        exported = export_cases(personal_data=personal_data)
        transaction.set_rollback(True)
    return exported


def demo_reference_data() -> None:
    with scopes_disabled():
        _users(_organisations())


def nothing_imported() -> bool:
    with scopes_disabled():
        return not (
            Case.objects.exists()
            or Party.objects.exists()
            or TimelineEvent.objects.exists()
            or LedgerEntry.objects.exists()
            or AuditEntry.objects.exists()
        )


def lines(document: dict) -> list[str]:
    """Compared as text lines, so that a failure shows which lines differ."""
    return json.dumps(document, ensure_ascii=False, indent=2).splitlines()


@pytest.fixture
def demo_file() -> dict:
    return json.loads(DEMO_CASES.read_text(encoding="utf-8"))


# ---- round trip --------------------------------------------------------------------------


def test_demo_round_trips_through_an_empty_database(demo_file):
    exported = export_and_forget(load_demo)
    assert lines(exported) == lines(demo_file)  # the demo file is what the demo builds
    assert nothing_imported()

    demo_reference_data()
    created = import_cases(exported)

    assert [case.reference for case in created] == [
        "401005-2022-001",
        "401005-2022-002",
        "401005-2022-003",
        "401005-2022-004",
    ]
    assert lines(export_cases(personal_data=True)) == lines(exported)


def test_export_holds_no_database_ids_or_creation_times(demo_file):
    def keys(node):
        if isinstance(node, dict):
            for key, value in node.items():
                yield key
                yield from keys(value)
        elif isinstance(node, list):
            for value in node:
                yield from keys(value)

    assert {"id", "pk", "created_at", "updated_at", "at"}.isdisjoint(set(keys(demo_file)))
    assert demo_file["format"] == "tadasu-cases" and demo_file["version"] == 2


def _worked_case(world) -> None:
    """Every kind of action: edits after opening, a person identified later, a hand-written
    経過 entry, an answer recorded later, each ledger posting, reversals of a pair and of a
    visit's collection, a letter, closing, reopening and withdrawing."""
    staff, manager, contractor = world.staff, world.manager, world.contractor
    agency = Agency.objects.get(name="デジタル庁")
    case = services.case_open(
        by=staff,
        office=world.office,
        kind=CaseKind.CASHLESS_LINK,
        contractor=world.contractor_co,
        discovered_on=date(2023, 2, 7),
        reported_on=date(2023, 2, 8),
        discovery="受付表から両名を把握。",
        cause_category=CauseCategory.LOGOUT_OMITTED,
    )
    services.case_take(case=case, by=manager)
    services.case_update(case=case, by=staff, cause_text="ログアウト漏れ")
    c = services.party_add(case=case, by=staff, label="C氏", name="佐藤 花子")
    d = services.party_add(
        case=case, by=staff, label="D氏", identified=False, identification_note="照会中"
    )
    link = services.misregistration_add(
        case=case, by=staff, source=d, target=c, data_kind=DataKind.CASHLESS_ACCOUNT
    )
    other_link = services.misregistration_add(
        case=case, by=staff, source=c, target=d, data_kind=DataKind.BANK_ACCOUNT
    )
    d = services.party_update(
        party=d, by=staff, identified=True, name="鈴木 次郎", identified_on=date(2023, 2, 10)
    )
    services.party_update(party=c, by=staff, phone="093-000-0000")
    services.timeline_add(
        case=case, by=staff, occurred_on=date(2023, 2, 9), actor="北九州市", text="電話で確認。"
    )
    contact = remedies.contact_add(
        case=case,
        by=staff,
        agencies=[agency],
        contacted_on=date(2023, 2, 9),
        channel=Channel.PHONE,
        request="調査を依頼。",
    )
    remedies.contact_answer(
        contact=contact, by=manager, answered_on=date(2023, 2, 12), answer="付与済み。"
    )
    case_transition(case=case, step="refer", by=staff, on=date(2023, 2, 12))
    # Changed after the referral, which needed a cause: the file sets it when opening.
    services.case_update(case=case, by=staff, cause_category=CauseCategory.SHARED_DEVICE)
    services.case_update(case=case, by=staff, prevention="必ずログアウトする。")
    ledger.ledger_post_misallocation(
        case=case, owed=c, holder=d, amount=6000, on=date(2023, 2, 13), by=staff
    )
    wrong = ledger.ledger_post_misallocation(
        case=case, owed=c, holder=d, amount=1000, on=date(2023, 2, 13), by=staff
    )
    ledger.ledger_reverse(entry=wrong[1], reason="二重計上", on=date(2023, 2, 13), by=staff)
    case_transition(case=case, step="negotiate", by=staff, on=date(2023, 2, 14), note="協議開始")
    remedies.agreement_add(
        case=case,
        by=staff,
        payer=Side.CONTRACTOR,
        amount=5000,
        form=Method.CASH,
        agreed_on=date(2023, 2, 15),
        party=c,
    )
    case_transition(case=case, step="agree", by=staff, on=date(2023, 2, 15))
    ledger.ledger_post_regrant(case=case, party=c, amount=1000, on=date(2023, 2, 16), by=staff)
    payment = ledger.ledger_post_payment(
        case=case,
        party=c,
        amount=2000,
        side=Side.MUNICIPALITY,
        method=Method.BANK_TRANSFER,
        on=date(2023, 2, 17),
        by=staff,
    )
    ledger.ledger_reverse(entry=payment, reason="振込不能", on=date(2023, 2, 18), by=staff)
    remedies.visit_record(
        case=case,
        by=contractor,
        party=c,
        visited_on=date(2023, 2, 20),
        place="C氏宅",
        purpose=Purpose.HAND_OVER,
        handed_over=5000,
    )
    visit = remedies.visit_record(
        case=case,
        by=staff,
        party=d,
        visited_on=date(2023, 2, 20),
        place="区役所",
        purpose=Purpose.COLLECTION,
        collected=4000,
        collected_by=Side.CONTRACTOR,
    )
    ledger.ledger_reverse(
        entry=LedgerEntry.objects.get(visit=visit),
        reason="金額誤り",
        on=date(2023, 2, 21),
        by=staff,
    )
    ledger.ledger_post_collection(
        case=case,
        party=d,
        amount=3000,
        side=Side.CONTRACTOR,
        method=Method.CASH,
        on=date(2023, 2, 21),
        by=staff,
    )
    ledger.ledger_write_off(
        case=case, party=d, reason="少額のため", on=date(2023, 2, 21), by=manager
    )
    remedies.letter_record(case=case, by=staff, party=c, sent_on=date(2023, 2, 21))
    # Corrected later (its own seq), and a link a manager says cannot be corrected.
    links.link_correct(
        link=link,
        by=staff,
        corrected_on=date(2023, 2, 20),
        corrected_how=CorrectionWay.PERSON,
        correction_note="本人がマイナポータルで再登録",
    )
    links.link_excuse(
        link=other_link, by=manager, reason="口座は既に解約済みのため", on=date(2023, 2, 21)
    )
    case_transition(case=case, step="settle", by=staff, on=date(2023, 2, 22))
    case_transition(case=case, step="close", by=manager, on=date(2023, 2, 22))
    case_transition(case=case, step="reopen", by=manager, on=date(2023, 2, 25), note="再調査")
    case_transition(case=case, step="withdraw", by=manager, on=date(2023, 2, 26), note="重複")


def test_a_case_with_every_kind_of_action_round_trips(world):
    Agency.objects.get_or_create(name="デジタル庁", kind=Agency.Kind.NATIONAL)[0]
    exported = export_and_forget(lambda: _worked_case(world))
    assert nothing_imported()

    import_cases(exported)

    assert lines(export_cases(personal_data=True)) == lines(exported)
    (case,) = exported["cases"]
    assert case["stage"] == "withdrawn" and case["assignee"] == "manager"
    assert case["cause_category"] == "shared_device"
    assert [u["fields"] for u in case["updates"]] == [["assignee"], ["cause_text"], ["prevention"]]
    c, d = case["parties"]
    assert [u["fields"] for u in d["updates"]] == [["identified", "name", "identified_on"]]
    assert [u["fields"] for u in c["updates"]] == [["phone"]]
    assert case["contacts"][0]["answer_recorded"]["by"] == "manager"
    assert [t["note"] for t in case["transitions"]][-2:] == ["再調査", "重複"]
    reversals = [item for item in case["ledger"] if item["kind"] == "reversal"]
    assert reversals[-1]["reverses"] == case["visits"][1]["seq"]
    seqs = [item["seq"] for item in case["ledger"]]
    assert seqs == sorted(seqs)


def test_importing_twice_with_skip_existing_adds_nothing(demo_file):
    demo_reference_data()
    import_cases(demo_file)
    assert import_cases(demo_file, skip_existing=True) == []
    with scopes_disabled():
        assert Case.objects.count() == len(demo_file["cases"]) == 4


def test_export_of_named_cases_numbers_their_actions_from_one():
    with scopes_disabled():
        load_demo()
        second = Case.objects.get(reference="401005-2022-002")
        document = export_cases([second])
    (case,) = document["cases"]
    assert case["reference"] == "401005-2022-002"
    assert case["opened"]["seq"] == 1


# ---- a broken file imports nothing -------------------------------------------------------


def _negative_amount(doc):
    doc["cases"][1]["ledger"][0]["amount"] = -5000


def _unknown_agency(doc):
    doc["cases"][2]["contacts"][0]["agencies"] = ["存在しない庁"]


def _agreement_missing(doc):
    doc["cases"][1]["agreements"] = []


def _stage_differs(doc):
    doc["cases"][0]["stage"] = "closed"


def _balance_differs(doc):
    doc["cases"][2]["parties"][1]["balance"] = -100


def _not_a_date(doc):
    doc["cases"][0]["transitions"][0]["on"] = "2023/02/22"


def _seq_twice(doc):
    doc["cases"][2]["links"][0]["seq"] = doc["cases"][0]["links"][0]["seq"]


def _seq_true(doc):
    doc["cases"][0]["transitions"][0]["seq"] = True  # JSON true is not the number 1


def _stage_edited(doc):
    doc["cases"][0]["updates"][0]["fields"] = ["prevention", "stage"]  # stage moves by steps


def _reverses_nothing(doc):
    doc["cases"][1]["ledger"].append(
        {"seq": 999, "by": "staff", "kind": "reversal", "on": "2022-11-29", "reverses": 1}
    )


@pytest.mark.parametrize(
    ("break_it", "where", "reason"),
    [
        (_negative_amount, 'case 2 (401005-2022-002), ledger item 1, field "amount": ', ""),
        (
            _unknown_agency,
            'case 3 (401005-2022-003), contact 1, field "agencies": ',
            'agency "存在しない庁" is not in this database',
        ),
        (_agreement_missing, 'case 2 (401005-2022-002), transition 3, field "step": ', ""),
        (
            _stage_differs,
            'case 1 (401005-2022-001), field "stage": ',
            'the file says "closed", but the replay ends with "agency_contact"',
        ),
        (
            _balance_differs,
            'case 3 (401005-2022-003), party 2, field "balance": ',
            "the file says -100, but the replay ends with 0",
        ),
        (
            _not_a_date,
            'case 1 (401005-2022-001), transition 1, field "on": ',
            '"2023/02/22" is not a date (YYYY-MM-DD)',
        ),
        (_seq_twice, 'case 3 (401005-2022-003), link 1, field "seq": ', "seq 5 is also used by"),
        (_reverses_nothing, 'case 2 (401005-2022-002), ledger item 3, field "reverses": ', ""),
        (_seq_true, "case 1 (401005-2022-001), ", "true is not a whole number"),
        (_stage_edited, "case 1 (401005-2022-001), ", '"stage" cannot be edited'),
    ],
    ids=lambda v: v.__name__.strip("_") if callable(v) else "",
)
def test_a_file_with_one_broken_case_imports_nothing(demo_file, break_it, where, reason):
    demo_reference_data()
    broken = copy.deepcopy(demo_file)
    break_it(broken)

    with pytest.raises(InterchangeError) as caught:
        import_cases(broken)

    message = str(caught.value)
    assert message.startswith(where), message
    assert reason in message
    assert len(message) > len(where)  # a reason follows the place
    assert nothing_imported()


def test_a_missing_user_stops_the_import_and_is_named(demo_file):
    demo_reference_data()
    User.objects.get(username="manager").delete()

    with pytest.raises(InterchangeError) as caught:
        import_cases(demo_file)

    assert str(caught.value) == (
        'case 2 (401005-2022-002), link 1, field "excused_by": '
        'user "manager" is not in this database'
    )
    assert nothing_imported()


def test_a_missing_office_is_named_before_anything_is_written(demo_file):
    with scopes_disabled():
        orgs = _organisations()
        _users(orgs)
        orgs["offices"]["yahatanishi"].delete()

    with pytest.raises(InterchangeError) as caught:
        import_cases(demo_file)

    assert str(caught.value) == (
        'case 3 (401005-2022-003), field "office": '
        'office "八幡西区役所 マイナポイント支援窓口" of 401005 is not in this database'
    )
    assert nothing_imported()


def test_a_file_of_another_format_is_refused():
    with pytest.raises(InterchangeError, match="not a Tadasu case file"):
        import_cases({"format": "something-else", "version": 1, "cases": []})
    with pytest.raises(InterchangeError, match="version 3 is not supported"):
        import_cases({"format": "tadasu-cases", "version": 3, "cases": []})
    with pytest.raises(InterchangeError, match="version true is not supported"):
        import_cases({"format": "tadasu-cases", "version": True, "cases": []})


# ---- the commands ------------------------------------------------------------------------


def test_commands_export_and_import_end_to_end(tmp_path, demo_file):
    path = tmp_path / "cases.json"

    def build():
        load_demo()
        call_command(
            "export_cases", "--output", str(path), "--with-personal-data", stderr=io.StringIO()
        )

    export_and_forget(build)
    assert json.loads(path.read_text(encoding="utf-8")) == demo_file
    assert "八幡西区役所" in path.read_text(encoding="utf-8")  # UTF-8, not \u escapes

    demo_reference_data()
    out = io.StringIO()
    call_command("import_cases", str(path), stdout=out)
    assert "Imported 4 case(s)." in out.getvalue()

    out = io.StringIO()
    call_command("export_cases", "--with-personal-data", stdout=out)
    assert json.loads(out.getvalue()) == demo_file

    out = io.StringIO()
    call_command("export_cases", "401005-2022-003", stdout=out)
    assert [c["reference"] for c in json.loads(out.getvalue())["cases"]] == ["401005-2022-003"]


def test_import_command_names_the_error_and_imports_nothing(tmp_path, demo_file):
    demo_reference_data()
    _negative_amount(demo_file)
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(demo_file, ensure_ascii=False), encoding="utf-8")

    with pytest.raises(CommandError) as caught:
        call_command("import_cases", str(path))

    assert 'case 2 (401005-2022-002), ledger item 1, field "amount"' in str(caught.value)
    assert "Nothing was imported." in str(caught.value)
    assert nothing_imported()


def test_export_command_refuses_an_unknown_reference():
    with pytest.raises(CommandError, match="401005-2099-001"):
        call_command("export_cases", "401005-2099-001", stdout=io.StringIO())


def test_import_command_refuses_a_file_that_is_not_json(tmp_path):
    path = tmp_path / "cases.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(CommandError, match="not a JSON file"):
        call_command("import_cases", str(path))


def test_visits_post_their_money_again_on_import(demo_file):
    demo_reference_data()
    import_cases(demo_file)
    with scopes_disabled():
        third = Case.objects.get(reference="401005-2022-003")
        assert sorted(
            LedgerEntry.objects.filter(case=third, visit__isnull=False).values_list("kind", "delta")
        ) == [("collection", 5000), ("payment", -5000)]
        assert Visit.objects.filter(case=third).count() == 2


def test_a_detail_changed_after_the_person_was_identified_stays_at_its_own_edit():
    """B氏 was added unidentified, identified at the first edit, and their phone number
    changed at the second: an import replays the change at the second edit, where the
    case's history has it, not at the identification."""
    final = {
        "identified": True,
        "name": "鈴木 次郎",
        "identified_on": date(2023, 2, 10),
        "phone": "090-1234-5678",
    }
    updates = [(1, ["identified", "name", "identified_on"]), (2, ["phone"])]
    first, second = party_field_placement(final, updates)
    assert "phone" in second and "phone" not in first
    assert {"identified", "name", "identified_on"} <= set(first)


def test_a_party_whose_file_does_not_say_identified_is_replayed_as_identified():
    """The file's default is an identified person (as the import reads "identified"): the
    name an edit named comes with the person when added, as it would for one marked so."""
    updates = [(1, ["name", "phone"])]
    marked = party_field_placement({"identified": True, "name": "佐藤 花子", "phone": "1"}, updates)
    unmarked = party_field_placement({"name": "佐藤 花子", "phone": "1"}, updates)
    assert unmarked == marked == [["phone"]]


def test_a_note_on_the_identification_changed_later_is_replayed_at_that_edit():
    """C氏 was identified from the start; the note on how was rewritten at a later edit:
    the import replays the new note at that edit."""
    final = {"identified": True, "name": "佐藤 花子", "identification_note": "運転免許証で確認"}
    (edit,) = party_field_placement(final, [(1, ["identification_note"])])
    assert edit == ["identification_note"]


def test_an_edit_that_sets_a_field_back_to_its_opening_value_does_not_hide_the_next_field():
    """One edit named the summary (left empty, as the case was opened) and the date it
    occurred (set): the import replays the date at that edit, and not the summary."""
    final = {"summary": "", "occurred_on": date(2023, 2, 1)}
    (edit,) = case_field_placement(final, [(1, ["summary", "occurred_on"])], [], {})
    assert edit == ["occurred_on"]


def test_an_edit_naming_fields_that_may_not_be_edited_is_refused_at_the_first():
    with pytest.raises(_FieldError) as error:
        _known_fields({"fields": ["summary", "stage", "closed_on"]}, CASE_FIELDS)
    assert error.value.reason == '"stage" cannot be edited'


def test_a_detail_named_by_two_edits_is_replayed_at_the_later_one():
    final = {"identified": True, "name": "佐藤 花子", "phone": "090-1234-5678"}
    first, second = party_field_placement(final, [(1, ["phone"]), (2, ["phone"])])
    assert (first, second) == ([], ["phone"])


def test_an_optional_date_in_the_file_is_kept_and_a_missing_one_is_empty():
    assert _date({"occurred_on": "2023-02-01"}, "occurred_on", optional=True) == date(2023, 2, 1)
    assert _date({}, "occurred_on", optional=True) is None


def test_a_date_the_file_must_give_is_refused_when_missing():
    with pytest.raises(_FieldError) as error:
        _date({}, "discovered_on")
    assert (error.value.field, error.value.reason) == ("discovered_on", "is missing")


def test_the_name_of_a_person_identified_later_is_set_at_the_identification():
    """The name is needed when B氏 is identified: an edit that names it only later still
    has it replayed at the identification; the note on how, required while unidentified,
    came with the person and is not replayed at an edit."""
    final = {
        "identified": True,
        "name": "鈴木 次郎",
        "identified_on": date(2023, 2, 10),
        "identification_note": "本人確認書類で確認",
    }
    updates = [(1, ["identified", "identified_on"]), (2, ["name", "identification_note"])]
    first, second = party_field_placement(final, updates)
    assert "name" in first
    assert second == []


def test_a_case_a_contractor_reported_is_opened_with_its_company_and_no_assignee(world):
    """What case_open sets by itself, which an import does not replay as an edit."""
    with scopes_disabled():
        assert _held_open(world.contractor) == {
            "contractor": world.contractor_co.name,
            "assignee": None,
        }
        assert _held_open(world.staff) == {}
