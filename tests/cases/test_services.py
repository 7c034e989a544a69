from datetime import date, timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone
from django_scopes import scopes_disabled

from cases import services
from cases.errors import CaseError
from cases.models import AuditEntry, Case, CaseKind, DataKind, Party, TimelineEvent
from cases.scoping import tenant_scope

pytestmark = pytest.mark.django_db


def _open(world, by, **overrides):
    fields = {
        "office": world.office,
        "kind": CaseKind.CASHLESS_LINK,
        "discovered_on": date(2023, 2, 7),
        "reported_on": date(2023, 2, 10),
        "discovery": "C氏のマイナポイントにD氏のキャッシュレス決済が登録されていることが判明。",
    } | overrides
    with tenant_scope(by):
        return services.case_open(by=by, **fields)


def test_staff_opens_case_with_reference_timeline_and_audit(world):
    case = _open(world, world.staff, contractor=world.contractor_co, assignee=world.staff)

    assert case.reference == "401005-2022-001"  # February 2023 is fiscal year 2022
    assert case.assignee == world.staff
    assert not case.reported_by_contractor
    with scopes_disabled():
        lines = list(case.timeline.values_list("occurred_on", "actor", "text"))
    assert lines == [
        (date(2023, 2, 7), "八幡西区役所 支援窓口", case.discovery),
        (date(2023, 2, 10), "北九州市", "北九州市で案件を登録。"),
    ]
    assert AuditEntry.objects.filter(case=case, action="tadasu.case.opened").count() == 1


def test_reference_numbers_follow_the_fiscal_year(world):
    march = _open(world, world.staff, discovered_on=date(2023, 3, 31), reported_on=None)
    april = _open(world, world.staff, discovered_on=date(2023, 4, 1), reported_on=None)
    second_april = _open(world, world.staff, discovered_on=date(2023, 4, 3), reported_on=None)
    assert [march.reference, april.reference, second_april.reference] == [
        "401005-2022-001",
        "401005-2023-001",
        "401005-2023-002",
    ]


def test_contractor_report_is_their_company_unassigned_and_told_to_the_city(world):
    case = _open(world, world.contractor, contractor=world.other_co, assignee=world.staff)

    assert case.reported_by_contractor
    assert case.contractor == world.contractor_co  # never another company's name
    assert case.assignee is None
    with scopes_disabled():
        report = case.timeline.get(action="case.opened")
    assert report.text == "委託事業者（株式会社エイジェック）から北九州市に報告。"
    assert report.actor == "株式会社エイジェック"


def test_contractor_cannot_report_for_a_city_it_does_not_serve(world):
    with pytest.raises(PermissionDenied):
        _open(world, world.contractor, office=world.other_city_office)


def test_auditor_cannot_open_a_case(world):
    with pytest.raises(PermissionDenied):
        _open(world, world.auditor)


def test_staff_cannot_open_a_case_at_another_citys_office(world):
    with pytest.raises(PermissionDenied):
        _open(world, world.staff, office=world.other_city_office)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"discovered_on": timezone.localdate() + timedelta(days=1)}, "discovered_on"),
        ({"occurred_on": date(2023, 2, 8)}, "occurred_on"),  # after discovery
        ({"reported_on": date(2023, 2, 6)}, "reported_on"),  # before discovery
        ({"kind": "nonsense"}, "kind"),
        ({"cause_category": "nonsense"}, "cause_category"),
    ],
)
def test_bad_case_fields_are_refused_and_nothing_is_written(world, overrides, field):
    with pytest.raises(CaseError) as error:
        _open(world, world.staff, **overrides)
    assert error.value.field == field
    with scopes_disabled():
        assert Case.objects.count() == 0
        assert TimelineEvent.objects.count() == 0


def test_contractor_that_does_not_serve_the_city_is_refused(world):
    with pytest.raises(CaseError) as error:
        _open(
            world,
            world.staff_other_city,
            office=world.other_city_office,
            contractor=world.contractor_co,
        )
    assert error.value.field == "contractor"


def test_assignee_must_be_staff_of_the_city(world):
    with pytest.raises(CaseError) as error:
        _open(world, world.staff, assignee=world.staff_other_city)
    assert error.value.field == "assignee"


def test_update_refuses_an_office_of_another_city(world, case):
    with tenant_scope(world.staff), pytest.raises(CaseError) as error:
        services.case_update(case=case, by=world.staff, office=world.other_city_office)
    assert error.value.field == "office"
    case.refresh_from_db()
    assert case.office == world.office


def test_update_records_prevention_and_audits_field_names(world, case):
    with tenant_scope(world.staff):
        services.case_update(case=case, by=world.staff, prevention="毎回ログアウトする。")
    case.refresh_from_db()
    assert case.prevention == "毎回ログアウトする。"
    entry = AuditEntry.objects.get(action="tadasu.case.changed")
    assert entry.data == {"fields": ["prevention"]}


def test_contractor_and_auditor_cannot_change_the_case_file(world, case):
    for user in (world.contractor, world.auditor):
        with tenant_scope(user), pytest.raises(PermissionDenied):
            services.case_update(case=case, by=user, prevention="x")
        with tenant_scope(user), pytest.raises(PermissionDenied):
            services.party_add(case=case, by=user, label="A氏", name="山田 太郎")


def test_take_makes_the_clerk_the_assignee(world, case):
    with tenant_scope(world.staff):
        services.case_take(case=case, by=world.staff)
    case.refresh_from_db()
    assert case.assignee == world.staff


def test_identified_party_needs_a_name(world, case):
    with tenant_scope(world.staff), pytest.raises(CaseError) as error:
        services.party_add(case=case, by=world.staff, label="A氏", name="  ")
    assert error.value.field == "name"


def test_unidentified_party_keeps_no_personal_data_and_says_why(world, case):
    with tenant_scope(world.staff):
        with pytest.raises(CaseError) as error:
            services.party_add(case=case, by=world.staff, label="B氏", identified=False)
        assert error.value.field == "identification_note"
        party = services.party_add(
            case=case,
            by=world.staff,
            label="B氏",
            identified=False,
            name="書いてはいけない",
            identification_note="身元をデジタル庁に照会中",
        )
    assert party.name == ""
    assert party.identification_note == "身元をデジタル庁に照会中"


def test_labels_are_unique_within_a_case(world, case):
    with tenant_scope(world.staff):
        services.party_add(case=case, by=world.staff, label="A氏", name="山田 太郎")
        with pytest.raises(CaseError) as error:
            services.party_add(case=case, by=world.staff, label="A氏", name="別人")
    assert error.value.field == "label"


def test_identifying_a_party_writes_the_timeline(world, case):
    with tenant_scope(world.staff):
        party = services.party_add(
            case=case,
            by=world.staff,
            label="B氏",
            identified=False,
            identification_note="身元をデジタル庁に照会中",
        )
        services.party_update(
            party=party,
            by=world.staff,
            identified=True,
            name="鈴木 次郎",
            identified_on=date(2023, 3, 1),
        )
        event = TimelineEvent.objects.get(case=case, action="party.identified")
    assert (event.occurred_on, event.text) == (date(2023, 3, 1), "B氏の身元が判明。")
    party.refresh_from_db()
    assert party.identified and party.name == "鈴木 次郎"
    # Personal data stays out of the audit trail: field names only.
    audit = AuditEntry.objects.get(action="tadasu.party.changed")
    assert "鈴木 次郎" not in str(audit.data)


def test_an_identified_party_cannot_be_unidentified(world, case):
    with tenant_scope(world.staff):
        party = services.party_add(case=case, by=world.staff, label="A氏", name="山田 太郎")
        with pytest.raises(CaseError) as error:
            services.party_update(
                party=party, by=world.staff, identified=False, identification_note="?"
            )
    assert error.value.field == "identified"


@pytest.fixture
def two_parties(world, case):
    with tenant_scope(world.staff):
        c = services.party_add(case=case, by=world.staff, label="C氏", name="佐藤 花子")
        d = services.party_add(case=case, by=world.staff, label="D氏", name="鈴木 次郎")
    return c, d


def test_link_records_whose_data_went_where(world, case, two_parties):
    c, d = two_parties
    with tenant_scope(world.staff):
        link = services.misregistration_add(
            case=case,
            by=world.staff,
            source=d,
            target=c,
            data_kind=DataKind.CASHLESS_ACCOUNT,
            registered_on=date(2022, 11, 1),
            corrected_on=date(2023, 3, 16),
            paid_through=True,
        )
    assert (link.source, link.target, link.paid_through) == (d, c, True)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"swap_self": True}, "target"),
        ({"registered_on": date(2023, 3, 1), "corrected_on": date(2023, 2, 1)}, "corrected_on"),
        ({"corrected_on": date(2999, 1, 1)}, "corrected_on"),
        ({"data_kind": "nonsense"}, "data_kind"),
    ],
)
def test_bad_links_are_refused(world, case, two_parties, kwargs, field):
    c, d = two_parties
    target = d if kwargs.pop("swap_self", False) else c
    fields = {"data_kind": DataKind.CASHLESS_ACCOUNT} | kwargs
    with tenant_scope(world.staff), pytest.raises(CaseError) as error:
        services.misregistration_add(case=case, by=world.staff, source=d, target=target, **fields)
    assert error.value.field == field


def test_link_to_a_party_of_another_case_is_refused(world, case, two_parties):
    c, _ = two_parties
    with tenant_scope(world.staff):
        other_case = _open(world, world.staff)
        stranger = services.party_add(case=other_case, by=world.staff, label="X氏", name="他人")
        with pytest.raises(CaseError) as error:
            services.misregistration_add(
                case=case,
                by=world.staff,
                source=stranger,
                target=c,
                data_kind=DataKind.BANK_ACCOUNT,
            )
    assert error.value.field == "source"


def test_timeline_entry_by_hand(world, case):
    with tenant_scope(world.staff):
        event = services.timeline_add(
            case=case,
            by=world.staff,
            occurred_on=date(2023, 3, 7),
            actor="北九州市",
            text="C氏、D氏に状況を連絡。",
        )
    assert event.action == "" and event.created_by == world.staff


def test_timeline_entry_needs_text_and_no_future_date(world, case):
    with tenant_scope(world.staff):
        with pytest.raises(CaseError) as error:
            services.timeline_add(
                case=case, by=world.staff, occurred_on=date(2023, 3, 7), actor="北九州市", text=" "
            )
        assert error.value.field == "text"
        with pytest.raises(CaseError) as error:
            services.timeline_add(
                case=case,
                by=world.staff,
                occurred_on=timezone.localdate() + timedelta(days=2),
                actor="北九州市",
                text="未来",
            )
        assert error.value.field == "occurred_on"


def test_no_model_has_a_field_for_an_individual_number():
    from django.apps import apps

    suspicious = ("my_number", "mynumber", "individual_number", "kojin_bango")
    for model in apps.get_app_config("cases").get_models():
        for field in model._meta.get_fields():
            assert not any(word in field.name.lower() for word in suspicious), (model, field)
    assert Party._meta.get_field("name")  # sanity: the scan did look at Party


def test_held_today_is_the_day_the_block_began(monkeypatch):
    """An import reads today once (services.held_today): a date after that day is in the
    future inside the block even if the clock has passed midnight meanwhile."""
    began = timezone.localdate()
    with services.held_today():
        monkeypatch.setattr(timezone, "localdate", lambda: began + timedelta(days=1))
        assert services.today() == began
        with pytest.raises(CaseError):
            services.not_in_future(began + timedelta(days=1), "on")
    assert services.today() == began + timedelta(days=1)  # the clock's again, outside
