"""Repayment plans (分割納付): agree, derive each instalment's state from the ledger, show a
missed one in the queues and on the dashboard, remind, collect late, close."""

import io
import re
from datetime import date, timedelta
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone, translation
from django_scopes import scopes_disabled
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pypdf import PdfReader

from cases import services
from cases.audit import AuditEntry
from cases.deadlines import BusinessCalendar
from cases.models import Agency, CaseKind, CauseCategory, DataKind, TimelineEvent
from cases.scoping import tenant_scope
from remedies import ledger, plans
from remedies import services as remedies
from remedies.documents import services as documents
from remedies.errors import RemedyError
from remedies.models import (
    Channel,
    Document,
    DocumentKind,
    Instalment,
    Method,
    Purpose,
    RepaymentPlan,
    Side,
)
from remedies.workflow import CaseFile, case_transition

from .test_documents import pdf_text

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()
AGREED = TODAY - timedelta(days=100)
# Due dates on Wednesdays well away from today: the first paid, the second missed (past by
# weeks, so overdue in business days whatever the holidays), the third to come.
FIRST = TODAY - timedelta(days=70)
SECOND = TODAY - timedelta(days=35)
THIRD = TODAY + timedelta(days=30)


def _excess_case(world, *, by=None, office=None, contractor=None, excess=15000):
    """A case at its settlement stage (every party visited), in which D holds `excess`."""
    by = by or world.staff
    office = office or world.office
    with tenant_scope(by):
        case = services.case_open(
            by=by,
            office=office,
            kind=CaseKind.CASHLESS_LINK,
            contractor=contractor if contractor is not None else world.contractor_co,
            discovered_on=TODAY - timedelta(days=200),
            cause_category=CauseCategory.LOGOUT_OMITTED,
            cause_text="ログアウト漏れ",
            prevention="一人の対応を終える度に必ずログアウトする。",
        )
        c = services.party_add(case=case, by=by, label="C氏", name="佐藤 花子")
        d = services.party_add(
            case=case, by=by, label="D氏", name="鈴木 次郎", address="北九州市八幡西区黒崎1-1-1"
        )
        services.misregistration_add(
            case=case,
            by=by,
            source=d,
            target=c,
            data_kind=DataKind.CASHLESS_ACCOUNT,
            paid_through=True,
            # Corrected at once: closing needs every link corrected (cases/links.py).
            corrected_on=TODAY - timedelta(days=195),
        )
        agency, _ = Agency.objects.get_or_create(name="デジタル庁", kind=Agency.Kind.NATIONAL)
        on = TODAY - timedelta(days=190)
        remedies.contact_add(
            case=case,
            by=by,
            agencies=[agency],
            contacted_on=on,
            channel=Channel.PHONE,
            request="照会",
            answered_on=on,
            answer="付与済み",
        )
        for step in ("refer", "negotiate", "agree", "settle"):
            if step == "negotiate":
                ledger.ledger_post_misallocation(
                    case=case, owed=c, holder=d, amount=excess, on=on, by=by
                )
            if step == "agree":
                remedies.agreement_add(
                    case=case,
                    by=by,
                    payer=Side.CONTRACTOR,
                    amount=excess,
                    form=Method.CASH,
                    agreed_on=on,
                )
            if step == "settle":
                for party, purpose in ((c, Purpose.HAND_OVER), (d, Purpose.APOLOGY)):
                    remedies.visit_record(
                        case=case,
                        by=by,
                        party=party,
                        visited_on=on,
                        place="区役所",
                        purpose=purpose,
                        handed_over=excess if party == c else None,
                        hand_over_side=Side.CONTRACTOR,
                        hand_over_method=Method.CASH,
                    )
            with translation.override("ja"):
                case_transition(case=case, step=step, by=by, on=on)
    return case, c, d


def _agree(world, case, d, rows=None, by=None, agreed_on=AGREED):
    rows = [(FIRST, 5000), (SECOND, 5000), (THIRD, 5000)] if rows is None else rows
    by = by or world.staff
    with tenant_scope(by):
        return plans.plan_agree(case=case, party=d, agreed_on=agreed_on, instalments=rows, by=by)


def _collect(world, case, d, amount, on):
    with tenant_scope(world.staff):
        ledger.ledger_post_collection(
            case=case,
            party=d,
            amount=amount,
            side=Side.MUNICIPALITY,
            method=Method.BANK_TRANSFER,
            on=on,
            by=world.staff,
        )


def _states(d, on=TODAY):
    with scopes_disabled():
        state = plans.party_plan_state(d, on)
    return [(s.number, s.status, s.unpaid) for s in state.instalments]


@pytest.fixture
def plan_case(world):
    case, c, d = _excess_case(world)
    return case, c, d


def test_a_plan_is_agreed_with_audit_and_timeline(world, plan_case):
    case, _c, d = plan_case
    plan = _agree(world, case, d)
    with scopes_disabled():
        assert plan.total == 15000 and plan.active
        assert list(plan.instalments.values_list("number", "amount", "cumulative")) == [
            (1, 5000, 5000),
            (2, 5000, 10000),
            (3, 5000, 15000),
        ]
        entry = AuditEntry.objects.get(action="tadasu.plan.agree")
        assert entry.data["total"] == 15000 and len(entry.data["instalments"]) == 3
        line = TimelineEvent.objects.get(case=case, action="plan.agree")
    assert line.occurred_on == AGREED and not line.public  # amounts: internal by default
    assert line.text.startswith("D氏と15,000円を令和") and "までの3回の分割で返還" in line.text
    # Nothing returned yet: the first two are overdue, the third not yet due.
    assert _states(d) == [(1, "overdue", 5000), (2, "overdue", 5000), (3, "due", 5000)]
    assert _states(d, on=AGREED) == [(1, "due", 5000), (2, "due", 5000), (3, "due", 5000)]


def test_collections_are_allocated_in_due_order_and_reversals_undo_them(world, plan_case):
    case, _c, d = plan_case
    _agree(world, case, d)
    _collect(world, case, d, 7000, FIRST)
    assert _states(d) == [(1, "paid", 0), (2, "overdue", 3000), (3, "due", 5000)]
    with scopes_disabled():
        state = plans.party_plan_state(d, TODAY)
    first = state.instalments[0]
    assert first.paid_on == FIRST and first.days_late == 0
    assert state.overdue_amount == 3000 and state.remaining == 8000
    with scopes_disabled():
        collection = d.ledger.get(kind="collection")
    with tenant_scope(world.staff):
        ledger.ledger_reverse(entry=collection, reason="二重計上", on=TODAY, by=world.staff)
    assert _states(d)[0] == (1, "overdue", 5000)


def test_a_day_late_is_counted_in_the_municipalitys_business_days(world, unscoped):
    friday = date(2026, 10, 30)  # a Friday; the next Monday is 11/2, 11/3 is a holiday
    calendar = BusinessCalendar.for_municipality(world.city)
    assert plans.days_late(calendar, friday, date(2026, 10, 31)) == 0  # Saturday
    assert plans.days_late(calendar, friday, date(2026, 11, 2)) == 1
    assert plans.days_late(calendar, friday, date(2026, 11, 4)) == 2  # 11/3 not counted
    # Due on a Sunday: the next business day is the due date; late from the day after.
    assert plans.days_late(calendar, date(2026, 11, 1), date(2026, 11, 2)) == 0
    assert plans.days_late(calendar, date(2026, 11, 1), date(2026, 11, 4)) == 1
    assert plans.overdue_cutoff(calendar, date(2026, 11, 2)) == friday


@pytest.mark.parametrize(
    ("rows", "field", "message"),
    [
        ([(FIRST, 5000), (SECOND, 5000)], "schedule", "合計"),
        ([(AGREED - timedelta(days=1), 15000)], "due_1", "合意"),
        ([(SECOND, 5000), (FIRST, 10000)], "due_2", "前の回"),
        ([(FIRST, 0), (SECOND, 15000)], "amount_1", "1円"),
        ([(FIRST, 10**12), (SECOND, 5000)], "amount_1", "10,000,000円"),
        ([(FIRST, "5000"), (SECOND, 10000)], "amount_1", "円単位"),
        ([(None, 15000)], "due_1", "期限"),
        ([], "due_1", "1回"),
    ],
)
def test_a_bad_schedule_is_refused_next_to_its_field(world, plan_case, rows, field, message):
    case, _c, d = plan_case
    with pytest.raises(RemedyError) as error, translation.override("ja"):
        _agree(world, case, d, rows=rows)
    assert error.value.field == field
    assert message in error.value.message
    with scopes_disabled():
        assert not RepaymentPlan.objects.exists()


def test_nobody_without_an_excess_gets_a_plan_and_contractors_cannot_agree(world, plan_case):
    case, c, d = plan_case
    with pytest.raises(RemedyError) as error, translation.override("ja"):
        _agree(world, case, c)
    assert error.value.field == "party"
    with pytest.raises(PermissionDenied):
        _agree(world, case, d, by=world.contractor)


def test_renegotiating_supersedes_and_keeps_the_old_plan(world, plan_case):
    case, _c, d = plan_case
    old = _agree(world, case, d)
    _collect(world, case, d, 5000, FIRST)
    new = _agree(
        world,
        case,
        d,
        rows=[(TODAY + timedelta(days=10), 4000), (TODAY + timedelta(days=40), 6000)],
        agreed_on=TODAY,
    )
    with scopes_disabled():
        old.refresh_from_db()
        assert old.superseded_on == TODAY and not old.active
        assert new.replaces_id == old.pk and new.total == 10000
        assert AuditEntry.objects.filter(action="tadasu.plan.replace").count() == 1
        text = TimelineEvent.objects.get(case=case, action="plan.replace").text
    assert "10,000円" in text and "2回" in text
    assert _states(d) == [(1, "due", 4000), (2, "due", 6000)]


def _head(case) -> int:
    with scopes_disabled():
        return ledger.ledger_head(case)


def _page(client, url):
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def _section(page: str, anchor: str) -> str:
    match = re.search(rf'<section class="card" id="{anchor}".*?</section>', page, re.S)
    assert match, f"no section #{anchor}"
    return match.group(0)


def test_a_missed_instalment_end_to_end_through_the_pages(client, world, plan_case):
    case, _c, d = plan_case
    url = f"/cases/{case.reference}/plans/new/"
    client.force_login(world.staff)
    head = _head(case)
    blank = _page(client, url)
    assert "D氏の返還対象額 15,000円" in blank  # the only person with an excess, chosen
    assert f'<option value="{d.pk}" selected' in blank
    # The form proposes an even split, saves nothing.
    filled = client.post(
        url,
        {
            "expected_head": head,
            "party": d.pk,
            "agreed_on": AGREED.isoformat(),
            "count": "3",
            "first_due": FIRST.isoformat(),
            "fill": "1",
        },
    ).content.decode()
    assert 'name="amount_3" value="5000"' in filled
    with scopes_disabled():
        assert not RepaymentPlan.objects.exists()
    rows = {"due_1": FIRST, "due_2": SECOND, "due_3": THIRD}
    post = {"expected_head": head, "party": d.pk, "agreed_on": AGREED.isoformat()}
    post |= {k: v.isoformat() for k, v in rows.items()}
    post |= {"amount_1": "5,000", "amount_2": "５０００円", "amount_3": "5000"}
    assert client.post(url, post).status_code == 302
    _collect(world, case, d, 5000, FIRST)

    page = _page(client, f"/cases/{case.reference}/")
    assert "第2回" in page and "期限超過" in page and "督促状を作成" in page
    assert f"kind=repayment_reminder&amp;party={d.pk}" in page

    queue = _section(_page(client, "/queues/"), "instalments")
    assert case.reference in queue and "D氏" in queue and "5,000円" in queue
    assert re.search(r"分割納付 第2回 期限超過（\d+開庁日）", queue)
    assert "第1回" not in queue and "第3回" not in queue

    client.force_login(world.manager)
    board = _page(client, "/dashboard/")
    card = re.search(r'id="instalments-overdue".*?</div>', board, re.S).group(0)
    assert "1件" in card and "5,000円" in card

    # The request names the schedule; the reminder names the missed instalment.
    client.force_login(world.staff)
    doc_url = f"/cases/{case.reference}/documents/new/"
    form = _page(client, f"{doc_url}?kind=repayment_reminder&party={d.pk}")
    assert f'<option value="{d.pk}" selected' in form
    assert '<input type="hidden" name="kind" value="repayment_reminder"' in form
    dated = TODAY.isoformat()
    assert client.post(doc_url, {"kind": "repayment_request", "party": d.pk, "dated": dated})
    assert client.post(doc_url, {"kind": "repayment_reminder", "party": d.pk, "dated": dated})
    with scopes_disabled():
        request = Document.objects.get(kind=DocumentKind.REPAYMENT_REQUEST)
        reminder = Document.objects.get(kind=DocumentKind.REPAYMENT_REMINDER)
    request_text = pdf_text(client.get(f"/documents/{request.pk}/download/").content)
    assert "分割によるご返還" in request_text and "第2回" in request_text
    assert "第1回" not in request_text  # paid: not asked for again
    pdf = client.get(f"/documents/{reminder.pk}/download/").content
    text = pdf_text(pdf)
    assert "（督促）" in text and "第2回分（金5,000円）について" in text
    assert "金5,000円（第2回分、当初の期限" in text and "3　返還期限" in text
    assert len(PdfReader(io.BytesIO(pdf)).pages) == 1  # a letter to a citizen: one page
    assert request.data["number_text"] in text
    assert "次回以降のご返還" in text and "第3回" in text

    # Paid late, then the rest: the queue empties, and the manager closes the case.
    _collect(world, case, d, 5000, TODAY)
    assert _states(d)[:2] == [(1, "paid", 0), (2, "paid", 0)]
    assert "instalments" in _page(client, "/queues/")
    assert case.reference not in _section(_page(client, "/queues/"), "instalments")
    with (
        pytest.raises(RemedyError) as error,
        tenant_scope(world.manager),
        translation.override("ja"),
    ):
        case_transition(case=case, step="close", by=world.manager, on=TODAY)
    assert "D氏" in error.value.message  # the third instalment is still owed
    _collect(world, case, d, 5000, TODAY)
    with tenant_scope(world.manager), translation.override("ja"):
        case_transition(case=case, step="close", by=world.manager, on=TODAY)
    with scopes_disabled():
        assert CaseFile.objects.get(pk=case.pk).stage == "closed"


@pytest.mark.parametrize(
    ("rows", "field_id", "message"),
    [
        ({"amount_1": "五千", "due_1": FIRST}, "id_amount_1_error", "5,000"),
        ({"amount_1": "9" * 40, "due_1": FIRST}, "id_amount_1_error", "10,000,000円"),
        ({"amount_1": "10000", "due_1": FIRST}, "id_schedule_error", "合計"),
        ({"amount_1": "15000", "due_1": AGREED - timedelta(days=3)}, "id_due_1_error", "合意"),
        ({"amount_1": "15000", "due_1": "2026-02-30"}, "id_due_1_error", "年・月・日の順"),
        ({"amount_1": "15000"}, "id_due_1_error", "期限"),
    ],
)
def test_the_plan_page_answers_bad_input_next_to_the_field(
    client, world, plan_case, rows, field_id, message
):
    case, _c, d = plan_case
    client.force_login(world.staff)
    post = {"expected_head": _head(case), "party": d.pk}
    post["agreed_on"] = AGREED.isoformat()
    post |= {k: v.isoformat() if isinstance(v, date) else v for k, v in rows.items()}
    response = client.post(f"/cases/{case.reference}/plans/new/", post)
    assert response.status_code == 200
    page = response.content.decode()
    error = re.search(rf'id="{field_id}">(.*?)</p>', page, re.S)
    assert error and message in error.group(1), page[:0]
    with scopes_disabled():
        assert not RepaymentPlan.objects.exists() and not Instalment.objects.exists()


def test_other_city_and_contractors_cannot_see_or_act(client, world, plan_case):
    case, _c, d = plan_case
    _agree(world, case, d)
    url = f"/cases/{case.reference}/plans/new/"
    client.force_login(world.contractor)
    assert client.get(url).status_code == 403
    assert 'id="instalments"' not in _page(client, "/queues/")
    client.force_login(world.staff_other_city)
    assert client.get(url).status_code == 404
    assert case.reference not in _page(client, "/queues/")
    client.force_login(world.auditor)
    assert client.get(url).status_code == 403
    assert case.reference in _section(_page(client, "/queues/"), "instalments")


def test_queue_and_dashboard_queries_do_not_grow_with_plans(
    client, world, django_assert_max_num_queries
):
    def counted(url):
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries)

    case, _c, d = _excess_case(world)
    _agree(world, case, d)
    client.force_login(world.manager)
    from django.core.cache import cache

    cache.clear()
    one = (counted("/queues/"), counted("/dashboard/"))
    for _ in range(4):
        more, _c2, d2 = _excess_case(world)
        _agree(world, more, d2)
        other, _c3, d3 = _excess_case(
            world,
            by=world.staff_other_city,
            office=world.other_city_office,
            contractor=world.other_co,
        )
        _agree(world, other, d3, by=world.staff_other_city)
    cache.clear()
    with django_assert_max_num_queries(one[0]):
        page = client.get("/queues/").content.decode()
    assert _section(page, "instalments").count("第2回") == 5
    with django_assert_max_num_queries(one[1]):
        board = client.get("/dashboard/").content.decode()
    card = re.search(r'id="instalments-overdue".*?</div>', board, re.S).group(0)
    assert "10件" in card and "50,000円" in card  # the other city's are not counted


def _plans_of_every_kind(world) -> None:
    """Plans partly paid, paid early, superseded, in a withdrawn case, and in another city."""
    partly, _c, d = _excess_case(world)
    _agree(world, partly, d)
    _collect(world, partly, d, 3000, FIRST)  # the first instalment partly paid
    paid, _c, d2 = _excess_case(world)
    _agree(world, paid, d2)
    _collect(world, paid, d2, 10000, FIRST)  # two instalments paid early
    renegotiated, _c, d3 = _excess_case(world)
    _agree(world, renegotiated, d3)  # superseded below: its missed instalments no longer count
    _agree(world, renegotiated, d3, rows=[(TODAY + timedelta(days=10), 15000)], agreed_on=TODAY)
    withdrawn, _c, d4 = _excess_case(world, excess=20000)
    _agree(world, withdrawn, d4, rows=[(FIRST, 20000)])
    with tenant_scope(world.manager), translation.override("ja"):
        case_transition(case=withdrawn, step="withdraw", by=world.manager, note="取下げ")
    other, _c, d5 = _excess_case(
        world, by=world.staff_other_city, office=world.other_city_office, contractor=world.other_co
    )
    _agree(world, other, d5, by=world.staff_other_city)


def test_the_dashboards_total_is_the_sum_of_the_overdue_instalments(world):
    """`overdue_instalments_total` (the dashboard's figure, written as SQL) counts and sums
    what `overdue_instalments` lists (the work queue's rows), whatever the cutoff: plans
    partly paid, paid, superseded, in a withdrawn case, and in another city."""
    from django.db.models import Count, Sum

    _plans_of_every_kind(world)

    seen = set()
    for city, user in ((world.city, world.manager), (world.other_city, world.staff_other_city)):
        for cutoff in (FIRST - timedelta(days=1), FIRST, SECOND, TODAY):
            with tenant_scope(user):
                rows = plans.overdue_instalments({city.pk: cutoff})
                expected = rows.aggregate(n=Count("id"), amount=Sum("unpaid"))
                total = plans.overdue_instalments_total(city.pk, cutoff)
            assert total == (expected["n"], expected["amount"] or 0), (city, cutoff)
            seen.add(total)
    # The cases above make the figures differ: nothing, a first partly paid, then a second.
    assert {(0, 0), (1, 2000), (2, 7000), (1, 5000), (2, 10000)} <= seen, seen


def test_the_queues_picked_instalments_are_the_overdue_instalments(world):
    """`overdue_instalments_picked` (the work queue's rows, written as SQL) finds the same
    instalments, with the same amounts unpaid, in the same order, as `overdue_instalments`,
    whatever the cutoff: plans partly paid, paid, superseded, in a withdrawn case, and in
    another city; one city's cutoff or two at once, unscoped."""
    _plans_of_every_kind(world)

    order = ("due_on", "plan_id", "number")
    columns = ("pk", "plan_id", "number", "due_on", "unpaid")
    seen = set()
    for cutoff in (FIRST - timedelta(days=1), FIRST, SECOND, TODAY):
        for city, user in ((world.city, world.manager), (world.other_city, world.staff_other_city)):
            with tenant_scope(user):
                expected = list(
                    plans.overdue_instalments({city.pk: cutoff})
                    .order_by(*order)
                    .values_list(*columns)
                )
                picked = plans.overdue_instalments_picked({city.pk: cutoff}).order_by(*order)
                assert list(picked.values_list(*columns)) == expected, (city, cutoff)
                assert picked.count() == len(expected)
            seen.add(tuple(row[2:] for row in expected))
        both = {world.city.pk: cutoff, world.other_city.pk: SECOND}
        with scopes_disabled():
            expected = list(plans.overdue_instalments(both).order_by(*order).values_list(*columns))
            picked = plans.overdue_instalments_picked(both).order_by(*order)
            assert list(picked.values_list(*columns)) == expected, cutoff
    # The cases above make the rows differ: none, a first partly paid, then a second.
    assert len(seen) >= 4, seen


def test_a_reminder_needs_a_missed_instalment_when_a_plan_is_in_force(world, plan_case):
    case, _c, d = plan_case
    _agree(world, case, d, rows=[(THIRD, 15000)])
    with tenant_scope(world.staff), translation.override("ja"):
        documents.document_issue(
            kind=DocumentKind.REPAYMENT_REQUEST, by=world.staff, case=case, party=d, dated=TODAY
        )
        with pytest.raises(RemedyError) as error:
            documents.document_issue(
                kind=DocumentKind.REPAYMENT_REMINDER,
                by=world.staff,
                case=case,
                party=d,
                dated=TODAY,
            )
    assert "期限を過ぎた回はありません" in error.value.message


def test_a_stale_form_conflicts_and_writes_nothing(client, world, plan_case):
    case, _c, d = plan_case
    client.force_login(world.staff)
    post = {"expected_head": _head(case), "party": d.pk, "agreed_on": AGREED.isoformat()}
    post |= {"due_1": FIRST.isoformat(), "amount_1": "15000"}
    _collect(world, case, d, 1000, FIRST)  # someone else posts meanwhile
    response = client.post(f"/cases/{case.reference}/plans/new/", post)
    assert response.status_code == 409
    assert "他の職員" in response.content.decode() or "再読み込み" in response.content.decode()
    with scopes_disabled():
        assert not RepaymentPlan.objects.exists()


def test_filling_in_ignores_the_rows_it_replaces_and_says_what_it_needs(client, world, plan_case):
    case, _c, d = plan_case
    client.force_login(world.staff)
    url = f"/cases/{case.reference}/plans/new/"
    post = {"expected_head": _head(case), "party": d.pk, "agreed_on": AGREED.isoformat()}
    page = client.post(url, post | {"amount_1": "abc", "fill": "1"}).content.decode()
    assert re.search(r'id="id_count_error">[^<]*分割回数', page)
    assert re.search(r'id="id_first_due_error">[^<]*納期限', page)
    post |= {"count": "4", "first_due": "2026-01-31", "amount_1": "abc", "fill": "1"}
    page = client.post(url, post).content.decode()
    # 15,000 in four: 3,750 each; the month's end is kept (28 February).
    assert 'name="due_2" value="2026-02-28"' in page
    assert 'name="amount_4" value="3750"' in page and "abc" not in page


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    amounts=st.lists(st.integers(1, 9000), min_size=1, max_size=6),
    returns=st.lists(st.integers(1, 9000), max_size=6),
)
def test_what_came_in_is_allocated_in_due_order(world, amounts, returns):
    """Whatever the schedule and the payments: the instalments paid are a prefix, at most
    one is partly paid, and what is paid across them is what came in (up to the total)."""
    with transaction.atomic():
        case, _c, d = _excess_case(world, excess=sum(amounts))
        rows = [(AGREED + timedelta(days=10 * (n + 1)), a) for n, a in enumerate(amounts)]
        _agree(world, case, d, rows=rows)
        came_in = 0
        for amount in returns:
            amount = min(amount, sum(amounts) - came_in)
            if amount:
                _collect(world, case, d, amount, TODAY)
                came_in += amount
        with scopes_disabled():
            state = plans.party_plan_state(d, TODAY)
        paid = [s.paid for s in state.instalments]
        assert sum(paid) == state.returned == came_in
        full = [s.paid == s.amount for s in state.instalments]
        assert full == sorted(full, reverse=True)  # paid ones first
        assert sum(1 for s in state.instalments if 0 < s.paid < s.amount) <= 1
        assert all((s.status == "paid") == (s.unpaid == 0) for s in state.instalments)
        transaction.set_rollback(True)


def test_a_reminder_lists_every_missed_instalment(world, plan_case):
    case, _c, d = plan_case
    _agree(world, case, d)
    with tenant_scope(world.staff), translation.override("ja"):
        request = documents.document_issue(
            kind=DocumentKind.REPAYMENT_REQUEST, by=world.staff, case=case, party=d, dated=AGREED
        )
        reminder = documents.document_issue(
            kind=DocumentKind.REPAYMENT_REMINDER, by=world.staff, case=case, party=d, dated=TODAY
        )
    # The request names the whole schedule, and stays on one page.
    assert [row["number"] for row in request.data["instalments"]] == [1, 2, 3]
    assert "3　返還期限　　分割によるご返還" in pdf_text(bytes(request.pdf))
    assert len(PdfReader(io.BytesIO(bytes(request.pdf))).pages) == 1
    assert [row["number"] for row in reminder.data["plan"]["missed"]] == [1, 2]
    text = pdf_text(bytes(reminder.pdf))
    assert "第1回・第2回分（金10,000円）について" in text
    assert "当初の期限" in text and "未納額" in text and "金10,000円" in text
    # The new due date is a business day, counted from the letter's date.
    with scopes_disabled():
        calendar = BusinessCalendar.for_municipality(world.city)
    due = date.fromisoformat(reminder.data["due_on"])
    assert due >= TODAY and calendar.is_business_day(due)


@pytest.mark.parametrize("role", ["staff", "auditor"])
@pytest.mark.parametrize("language", ["ja", "en"])
def test_the_queues_missed_instalments_read_as_values_are_the_instalments_read_whole(
    world, role, language
):
    """The work queue reads the missed instalments as values (MissedInstalment): its table is
    what the former template (tests/overview/instalment_rows.html) made of the instalments
    read whole, with their plan, person, case and assignee."""
    from types import SimpleNamespace

    from django.template import engines
    from django.template.loader import render_to_string

    from cases.selectors import deadline_book
    from overview.queues import Queue, queues_for

    held, _c, d = _excess_case(world)
    _agree(world, held, d)
    with tenant_scope(world.staff):
        services.case_take(case=held, by=world.staff)
    nobodys, _c2, d2 = _excess_case(world, excess=9000)
    _agree(world, nobodys, d2, rows=[(FIRST, 4000), (SECOND, 4000), (THIRD, 1000)])
    user = getattr(world, role)
    reference = engines["django"].from_string(
        (Path(__file__).parent.parent / "overview" / "instalment_rows.html").read_text()
    )
    section = re.compile(r'<section class="card" id="instalments".*?</section>', re.S)
    with tenant_scope(user) as membership, translation.override(language):
        book = deadline_book(membership)
        q = queues_for(user, membership, book)
        assert len(q.instalments.rows) == 4
        cutoff = plans.overdue_cutoff(book.of(world.city.pk).calendar, book.today)
        whole = list(
            plans.overdue_instalments({world.city.pk: cutoff})
            .select_related("plan__party", "plan__case", "plan__case__assignee")
            .order_by("due_on", "plan_id", "number")
        )
        for row in whole:
            row.days_late = plans.days_late(book.of(world.city.pk).calendar, row.due_on, TODAY)
        before = reference.render(
            {
                "q": SimpleNamespace(instalments=Queue("instalments", whole, len(whole))),
                "membership": membership,
            }
        )
        page = render_to_string("overview/queues.html", {"q": q, "membership": membership})
    assert section.search(page).group(0) == section.search(before).group(0)
