from datetime import date

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from django_scopes import scopes_disabled

from cases.models import Case, Membership, Misregistration, Party, TimelineEvent, User
from remedies import ledger
from remedies.models import AgencyContact, LedgerEntry

pytestmark = pytest.mark.django_db

STORY_DATES = {
    "八幡東区役所 マイナポイント支援窓口": [date(2023, 2, 22), date(2023, 3, 1)],
    "小倉南区役所 マイナポイント支援窓口": [
        date(2022, 9, 21),
        date(2022, 9, 22),
        date(2022, 9, 27),
        date(2022, 10, 18),
        date(2022, 10, 27),
        date(2022, 11, 10),
        date(2022, 11, 29),
    ],
    "八幡西区役所 マイナポイント支援窓口": [
        date(2023, 2, 7),
        date(2023, 2, 10),
        date(2023, 3, 7),
        date(2023, 3, 10),
        date(2023, 3, 16),
    ],
}


@pytest.fixture
def demo(settings):
    settings.DEBUG = True
    call_command("load_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115


def _counts():
    with scopes_disabled():
        return [
            m.objects.count()
            for m in (User, Membership, Case, Party, Misregistration, TimelineEvent)
        ]


def test_load_demo_is_idempotent(demo):
    before = _counts()
    call_command("load_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert _counts() == before
    # The three reference cases, the national correction and the instalment case.
    assert before[2] == 5


def test_load_demo_refuses_without_debug(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError):
        call_command("load_demo")
    assert not User.objects.exists()


def test_demo_users_can_log_in_with_the_published_password(demo, client):
    for username in (
        "staff",
        "manager",
        "contractor",
        "other-contractor",
        "auditor",
        "staff-other-city",
    ):
        assert client.login(username=username, password="tadasu-demo"), username
        assert client.get("/cases/").status_code == 200


def test_demo_reads_back_as_the_story(demo):
    with scopes_disabled():
        cases = {c.office.name: c for c in Case.objects.select_related("office")}
        for office, dates in STORY_DATES.items():
            case = cases[office]
            assert sorted(set(case.timeline.values_list("occurred_on", flat=True))) == dates
            assert case.cause_category == "logout_omitted"
            assert "ログアウト" in case.prevention

        first = cases["八幡東区役所 マイナポイント支援窓口"]
        b = first.parties.get(label="B氏")
        assert not b.identified and b.identification_note == "身元をデジタル庁に照会中"
        link = first.misregistrations.get()
        assert (link.source.label, link.target.label, link.data_kind) == (
            "B氏",
            "A氏",
            "bank_account",
        )
        assert link.corrected_on == date(2023, 2, 22) and not link.paid_through

        third = cases["八幡西区役所 マイナポイント支援窓口"]
        link = third.misregistrations.get()
        assert (link.source.label, link.target.label, link.paid_through) == ("D氏", "C氏", True)
        report = third.timeline.get(action="case.opened")
        assert report.occurred_on == date(2023, 2, 10)
        assert report.text == "委託事業者（株式会社エイジェック）から北九州市に報告。"


def test_demo_scoping_other_contractor_and_other_city_see_nothing(demo, client):
    for username in ("other-contractor", "staff-other-city"):
        client.login(username=username, password="tadasu-demo")
        assert "401005-" not in client.get("/cases/").content.decode()


def _by_office(name_start: str) -> Case:
    return Case.objects.select_related("office").get(office__name__startswith=name_start)


def test_demo_stages_balances_and_costs_are_the_story(demo):
    with scopes_disabled():
        first, second, third = (_by_office(n) for n in ("八幡東", "小倉南", "八幡西"))

        # Case 1: waiting in 関係機関照会; B unidentified; the Digital Agency's answer (no
        # disbursement) recorded; B's identity requested and not yet answered.
        assert first.stage == "agency_contact"
        answered = AgencyContact.objects.get(case=first, answered_on__isnull=False)
        assert "交付もなされていない" in answered.answer
        assert AgencyContact.objects.filter(case=first, answered_on__isnull=True).count() == 1
        assert not LedgerEntry.objects.filter(case=first).exists()

        # Case 2: closed; the contractor bore the compensation.
        assert second.stage == "closed"
        assert all(b.amount == 0 for b in ledger.balances(second))
        assert ledger.costs(second) == {"contractor": 5000, "municipality": 0, "national": 0}

        # Case 3: closed; C was handed what went to D, D's excess collected at the joint check.
        assert third.stage == "closed"
        assert {b.party.label: b.amount for b in ledger.balances(third)} == {"C氏": 0, "D氏": 0}
        c_entries = LedgerEntry.objects.filter(case=third, party__label="C氏")
        d_entries = LedgerEntry.objects.filter(case=third, party__label="D氏")
        assert sorted(c_entries.values_list("kind", "delta", "on")) == [
            ("misallocation", 5000, date(2023, 3, 7)),
            ("payment", -5000, date(2023, 3, 10)),
        ]
        assert sorted(d_entries.values_list("kind", "delta", "on")) == [
            ("collection", 5000, date(2023, 3, 16)),
            ("misallocation", -5000, date(2023, 3, 7)),
        ]
        assert d_entries.get(kind="collection").visit.purpose == "joint_check"
        assert ledger.costs(third)["contractor"] == 0  # paid to C, collected back from D


def test_demo_has_a_case_with_a_missed_instalment(demo, client):
    from remedies import plans

    with scopes_disabled():
        case = _by_office("戸畑")
        f = case.parties.get(label="F氏")
        state = plans.party_plan_state(f, timezone.localdate())
        assert case.stage == "settlement"
        assert [s.status for s in state.instalments] == ["paid", "overdue", "due"]
    client.login(username="staff", password="tadasu-demo")
    queue = client.get("/queues/").content.decode()
    assert case.reference in queue and "分割納付 第2回 期限超過" in queue
    client.login(username="manager", password="tadasu-demo")
    assert "5,000円" in client.get("/dashboard/").content.decode()
