"""Work queues: each person sees what waits on them, inside their own tenant."""

import re
from datetime import date, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.db import connection
from django.db.models import Prefetch
from django.template import engines
from django.template.loader import render_to_string
from django.test.utils import CaptureQueriesContext
from django.utils import translation
from django_scopes import scopes_disabled

from cases import services
from cases.deadlines import BusinessCalendar, DeadlineBook, refresh_waits
from cases.models import Agency, Case, CaseKind, Membership, Role, Stage, User
from cases.scoping import tenant_scope
from cases.selectors import deadline_book
from overview.case_rows import agency_rows_html, case_rows_html
from overview.queues import Queue, queues_for
from remedies import services as remedies
from remedies.models import (
    AgencyContact,
    Channel,
    Document,
    DocumentKind,
    DocumentStatus,
    Purpose,
    Side,
    Visit,
)
from remedies.workflow import OPEN_STAGES
from tests.factories import CaseFactory, PartyFactory, member

AGENCY_TABLE = engines["django"].get_template("overview/agency_table.html")

pytestmark = pytest.mark.django_db


def _section(page: str, anchor: str) -> str:
    match = re.search(rf'<section class="card" id="{anchor}".*?</section>', page, re.S)
    assert match, f"no section #{anchor}"
    return match.group(0)


def test_staff_see_their_overdue_cases_and_cases_nobody_has_taken(client, world, today):
    late = CaseFactory(
        office=world.office, assignee=world.staff, stage=Stage.INQUIRY, stage_since=date(2023, 2, 1)
    )
    calm = CaseFactory(
        office=world.office, assignee=world.staff, stage=Stage.INQUIRY, stage_since=today
    )
    nobody = CaseFactory(office=world.office, stage=Stage.INQUIRY, stage_since=today)
    other_city = CaseFactory(office=world.other_city_office, stage=Stage.INQUIRY)
    client.force_login(world.staff)
    page = client.get("/queues/").content.decode()
    waiting = _section(page, "waiting-on-me")
    assert late.reference in waiting and "期限超過" in waiting
    assert calm.reference not in waiting.split("担当者未定の案件")[0]
    assert nobody.reference in waiting
    mine = _section(page, "mine")
    assert late.reference in mine and calm.reference in mine
    assert other_city.reference not in page


def test_a_case_waiting_on_an_agency_is_not_waiting_on_me(client, world, today, story):
    case, _c, _d = story
    agency = Agency.objects.get_or_create(name="デジタル庁", kind=Agency.Kind.NATIONAL)[0]
    with tenant_scope(world.staff):
        services.case_take(case=case, by=world.staff)
        remedies.contact_add(
            case=case,
            by=world.staff,
            agencies=[agency],
            contacted_on=date(2023, 2, 8),
            channel=Channel.PHONE,
            request="口座の状況を照会。",
        )
    # In inquiry since 2/6 (10 business days): overdue by 3/1 if the clock had run, but it
    # stopped when the agency was asked on 2/8, so not mine to chase.
    with scopes_disabled():
        Case.objects.filter(pk=case.pk).update(stage_since=date(2023, 2, 6))
    client.force_login(world.staff)
    page = client.get("/queues/").content.decode()
    assert case.reference not in _section(page, "waiting-on-me").split("担当者未定の案件")[0]
    assert "回答待ち" in _section(page, "mine")
    agencies = _section(page, "agencies")
    assert case.reference in agencies and "口座の状況を照会。" in agencies
    # 2/8 → 3/1 is 14 business days (2/11 建国記念の日 and 2/23 天皇誕生日 are holidays).
    assert "14開庁日" in agencies


def test_contractor_sees_its_company_cases_waiting_for_visits_only(client, world, today):
    ours = CaseFactory(office=world.office, contractor=world.contractor_co, stage=Stage.VISIT)
    theirs = CaseFactory(office=world.office, contractor=world.other_co, stage=Stage.VISIT)
    client.force_login(world.contractor)
    page = client.get("/queues/").content.decode()
    assert ours.reference in _section(page, "to-visit")
    assert theirs.reference not in page
    assert 'id="agencies"' not in page  # agency requests are the city's business


def test_manager_sees_cases_to_close(client, world, today):
    settling = CaseFactory(office=world.office, stage=Stage.SETTLEMENT, stage_since=today)
    client.force_login(world.manager)
    page = client.get("/queues/").content.decode()
    assert "精算段階の案件（管理職による完了処理待ち）" in page
    assert settling.reference in _section(page, "waiting-on-me")


def test_queue_query_count_does_not_grow(client, world, today):
    client.force_login(world.manager)
    counts = []
    # 2 cases, then 62: past the 50 rows a queue shows, so its total is counted too.
    for n in (2, 60):
        for i in range(n):
            case = CaseFactory(
                office=world.office,
                assignee=world.manager,
                stage=Stage.AGENCY_CONTACT,
                stage_since=today - timedelta(days=i),
            )
            AgencyContact.objects.create(  # still unanswered: the case waits on an agency
                case=case,
                municipality=world.city,
                made_by=Side.MUNICIPALITY,
                contacted_on=today,
                channel=Channel.PHONE,
                request="照会",
                created_by=world.manager,
            )
            refresh_waits([case.pk])  # what the services keep, written around them here
        with CaptureQueriesContext(connection) as queries:
            response = client.get("/queues/")
        assert response.status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1], counts
    page = response.content.decode()
    # The totals count every row, not only the 50 shown.
    assert "62件" in _section(page, "mine")
    assert "62件" in _section(page, "agencies")
    assert len(_listed(_section(page, "mine"))) == 50


def test_case_list_marks_and_filters_overdue_cases(client, world, today):
    late = CaseFactory(office=world.office, stage=Stage.VISIT, stage_since=date(2023, 1, 10))
    calm = CaseFactory(office=world.office, stage=Stage.VISIT, stage_since=date(2023, 2, 28))
    client.force_login(world.staff)
    page = client.get("/cases/").content.decode()
    row = re.search(
        rf'<tr class="overdue"[^>]*>\s*<td class="nowrap"[^>]*><a href="[^"]*">{late.reference}',
        page,
    )
    assert row, "the overdue case's row is marked"
    assert "期限超過" in page and "あと" in page
    only = client.get("/cases/?overdue=on").content.decode()
    assert late.reference in only and calm.reference not in only


def _blocks(section: str) -> list[tuple[str, int, int, int]]:
    """Each list of a queue section: (heading, count in the heading, rows, rows marked
    overdue)."""
    blocks = []
    for part in re.split(r"(?=<h3>)", section)[1:]:
        heading = re.search(r"<h3>(.*?)<span", part, re.S).group(1).strip()
        count = int(re.search(r'class="queue-count">(\d+)件', part).group(1))
        rows = len(re.findall(r"<tr[ >]", part)) - len(re.findall(r"<thead>", part))
        rows += len(re.findall(r"<li>", part))  # documents awaiting approval
        overdue = len(re.findall(r'<tr class="overdue"', part))
        blocks.append((heading, count, rows, overdue))
    return blocks


@pytest.mark.parametrize("role", ["staff", "manager"])
def test_every_queue_count_agrees_with_its_rows_and_says_why_they_are_shown(
    client, world, today, role
):
    # Overdue in settlement, held by the staff member: the manager closes it.
    late = CaseFactory(
        office=world.office,
        assignee=world.staff,
        stage=Stage.SETTLEMENT,
        stage_since=date(2023, 2, 1),
    )
    CaseFactory(office=world.office, stage=Stage.INQUIRY, stage_since=today)
    client.force_login(getattr(world, role))
    waiting = _section(client.get("/queues/").content.decode(), "waiting-on-me")
    blocks = _blocks(waiting)
    assert blocks, waiting
    for heading, count, rows, _overdue in blocks:
        assert count == rows, (heading, count, rows)
    # The list of cases due soon or overdue comes first and counts the overdue case shown
    # further down: no 「0件」 above a row marked 期限超過.
    heading, count, rows, overdue = blocks[0]
    assert "期限間近・期限超過" in heading and count == 1 and overdue == 1, blocks
    assert late.reference in waiting.split("<h3>")[1]
    assert waiting.count('class="queue-why"') == len(blocks)
    assert "期限を過ぎた" in waiting.split("<h3>")[1]


def _listed(page: str) -> list[str]:
    """The references of the rows of a case list or a queue, in their order."""
    return re.findall(r'<td class="nowrap"[^>]*><a href="/cases/([^/"?#]+)/">', page)


def _more_link(section: str) -> str:
    match = re.search(r'<a href="(/cases/\?[^"]+)">([^<]*)</a>', section)
    assert match, f"no link to the case list in {section}"
    return match.group(1).replace("&amp;", "&"), match.group(2)


@pytest.mark.parametrize("role", ["staff", "manager"])
def test_and_n_more_leads_to_the_case_list_holding_the_whole_queue_in_its_order(
    client, world, today, role, monkeypatch
):
    user = getattr(world, role)
    for i in range(4):  # mine, open, the first three overdue
        CaseFactory(
            office=world.office,
            assignee=user,
            stage=Stage.INQUIRY,
            stage_since=date(2023, 1, 10 + i) if i < 3 else today,
        )
    for i in range(3):  # nobody's, open
        CaseFactory(office=world.office2, stage=Stage.VISIT, stage_since=today - timedelta(days=i))
    for i in range(3):  # in settlement, another's, overdue: the manager's to close
        CaseFactory(
            office=world.office,
            assignee=world.manager if role == "staff" else world.staff,
            stage=Stage.SETTLEMENT,
            stage_since=date(2023, 1, 5 + i),
        )
    CaseFactory(office=world.office, assignee=user, stage=Stage.CLOSED)  # mine, closed
    CaseFactory(office=world.other_city_office, stage=Stage.INQUIRY)  # another city's
    client.force_login(user)
    # Each queue whole, as the page shows it when nothing is cut.
    whole = client.get("/queues/").content.decode()
    monkeypatch.setattr("overview.queues.QUEUE_LENGTH", 2)
    cut = client.get("/queues/").content.decode()
    sections = {"mine": _section(cut, "mine")}
    waiting, waiting_whole = _section(cut, "waiting-on-me"), _section(whole, "waiting-on-me")
    parts, parts_whole = waiting.split("<h3>")[1:], waiting_whole.split("<h3>")[1:]
    sections.update(zip(["due", "unassigned", "to_close"], parts, strict=False))
    wholes = {"mine": _section(whole, "mine")}
    wholes.update(zip(["due", "unassigned", "to_close"], parts_whole, strict=False))
    expected_keys = {"mine", "due", "unassigned"} | ({"to_close"} if role == "manager" else set())
    assert set(sections) == expected_keys
    for key, section in sections.items():
        queue = _listed(wholes[key])
        assert len(queue) > 2, (key, queue)
        assert _listed(section) == queue[:2]
        assert f"ほか{len(queue) - 2}件" in section
        url, text = _more_link(section)
        assert text == f"案件一覧で全{len(queue)}件を表示"
        listed = client.get(url).content.decode()
        assert _listed(listed) == queue, (key, url)
        assert f'<p class="list-count">{len(queue)}件</p>' in listed


def test_a_contractors_queue_leads_to_its_companys_cases_in_visits(
    client, world, today, monkeypatch
):
    monkeypatch.setattr("overview.queues.QUEUE_LENGTH", 1)
    theirs = [
        CaseFactory(
            office=world.office,
            contractor=world.contractor_co,
            stage=Stage.VISIT,
            stage_since=today - timedelta(days=i),
        )
        for i in range(3)
    ]
    CaseFactory(office=world.office, contractor=world.other_co, stage=Stage.VISIT)
    CaseFactory(office=world.office, contractor=world.contractor_co, stage=Stage.SETTLEMENT)
    client.force_login(world.contractor)
    section = _section(client.get("/queues/").content.decode(), "to-visit")
    url, _text = _more_link(section)
    listed = client.get(url).content.decode()
    # Longest in the visit stage first, as the queue.
    assert _listed(listed) == [case.reference for case in reversed(theirs)]
    # A company's cases have no assignee of the city to filter by.
    assert 'name="assignee"' not in listed


def test_the_case_lists_queue_filters_refuse_a_value_they_do_not_know(client, world):
    CaseFactory(office=world.office, assignee=world.staff, stage=Stage.INQUIRY)
    client.force_login(world.staff)
    for query in ("assignee=someone", "stage=finished"):
        page = client.get(f"/cases/?{query}")
        assert page.status_code == 200
        text = page.content.decode()
        assert "入力内容に誤りがあります" in text, query
        assert _listed(text) == [], query


def _varied_cases(world, today) -> None:
    """Open cases of every kind and stage, at both offices, held by someone with a name, by
    someone known by user name only and by nobody, their clocks at every point; some waiting
    on agencies (answered or not), and a closed case with an unanswered request."""
    nameless = member(Role.STAFF, municipality=world.city, username="nameless")
    User.objects.filter(pk=nameless.pk).update(first_name="", last_name="")
    agencies = [
        Agency.objects.get_or_create(name=name, kind=Agency.Kind.NATIONAL)[0]
        for name in ("総務省", "デジタル庁", "A&B <庁>")
    ]
    holders = [world.manager, world.staff, nameless, None]
    open_stages = [s for s in Stage if s not in (Stage.CLOSED, Stage.WITHDRAWN)]
    for i in range(40):
        case = CaseFactory(
            office=(world.office, world.office2)[i % 2],
            kind=list(CaseKind)[i % len(CaseKind)],
            assignee=holders[i % len(holders)],
            stage=open_stages[i % len(open_stages)] if i < 38 else Stage.CLOSED,
            stage_since=today - timedelta(days=3 * i),
        )
        if i % 3 == 0:
            AgencyContact.objects.create(
                case=case,
                municipality=world.city,
                made_by=Side.MUNICIPALITY,
                contacted_on=today - timedelta(days=i),
                answered_on=today if i % 6 == 3 else None,
                channel=Channel.PHONE,
                request=f"照会 <{i}> " * (i % 7),
                created_by=world.manager,
            ).agencies.set(agencies[: 1 + i // 3 % 3])
            refresh_waits([case.pk])


@pytest.mark.parametrize("role", ["staff", "manager"])
@pytest.mark.parametrize("language", ["ja", "en"])
def test_the_rows_read_as_values_are_the_cases_read_whole(world, today, role, language):
    """The queues read their cases and their agency requests as values (CaseRow,
    WaitingRequest): written out, they are what the cases read whole (with their office and
    assignee, marked by a deadline book of their own) and the requests read whole (with
    their cases, and their agencies prefetched) gave."""
    _varied_cases(world, today)
    user = getattr(world, role)
    with tenant_scope(user), translation.override(language):
        membership = Membership.objects.get(user=user)
        q = queues_for(user, membership, deadline_book(membership))
        case_queues = [q.mine, q.unassigned, q.due, q.to_close]
        assert sum(len(queue.rows) for queue in case_queues if queue) > 20
        for queue in case_queues:
            if queue is None:
                continue
            whole = Case.objects.select_related("office", "assignee").in_bulk(
                [row.pk for row in queue.rows]
            )
            cases = DeadlineBook([world.city.pk], today).mark([whole[r.pk] for r in queue.rows])
            as_before = Queue(queue.key, cases, queue.total, list_query=queue.list_query)
            assert case_rows_html(queue, "none", with_assignee=True) == case_rows_html(
                as_before, "none", with_assignee=True
            )
        contacts = list(
            AgencyContact.objects.filter(case__stage__in=OPEN_STAGES, answered_on__isnull=True)
            .select_related("case")
            .prefetch_related(Prefetch("agencies", queryset=Agency.objects.order_by("name")))
            .order_by("contacted_on", "id")
        )
        assert [c.pk for c in contacts] == [row.pk for row in q.agencies.rows]
        assert {len(c.agencies.all()) for c in contacts} == {1, 2, 3}
        for contact in contacts:
            contact.waiting_days = BusinessCalendar.for_municipality(world.city).between(
                contact.contacted_on, today
            )
        expected = AGENCY_TABLE.render({"contacts": contacts, "show_wait": True})
        assert agency_rows_html(q.agencies.rows, show_wait=True) == expected


@pytest.mark.parametrize("language", ["ja", "en"])
def test_the_approvals_and_visits_read_as_values_are_the_rows_read_whole(world, today, language):
    """The documents awaiting approval and this week's visits are read as values
    (AwaitingDocument, WeekVisit): the page shows what the former template
    (approval_and_visit_rows.html beside this file) made of the rows read whole."""
    nameless = member(Role.STAFF, municipality=world.city, username="nameless")
    User.objects.filter(pk=nameless.pk).update(first_name="", last_name="")
    cases = [CaseFactory(office=world.office, stage=Stage.VISIT) for _ in range(2)]
    with scopes_disabled():
        for kind, case, by in [
            (DocumentKind.APOLOGY, cases[0], world.staff),
            (DocumentKind.PRESS_RELEASE, None, nameless),
            (DocumentKind.REPAYMENT_REMINDER, cases[1], world.staff),
        ]:
            Document.objects.create(
                municipality=world.city,
                case=case,
                kind=kind,
                fiscal_year=2022,
                status=DocumentStatus.AWAITING_APPROVAL,
                dated=today,
                created_by=by,
            )
        monday = today - timedelta(days=today.weekday())
        for i, day in enumerate([monday, monday + timedelta(days=6), monday - timedelta(days=1)]):
            Visit.objects.create(
                case=cases[i % 2],
                party=PartyFactory(case=cases[i % 2], label=f"<P&{i}>"),
                visited_on=day,
                place=f"区役所 & 自宅 {i}",
                purpose=list(Purpose)[i % len(Purpose)],
                recorded_by_side=Side.MUNICIPALITY,
                created_by=world.staff,
            )
    reference = engines["django"].from_string(
        (Path(__file__).parent / "approval_and_visit_rows.html").read_text(encoding="utf-8")
    )
    with tenant_scope(world.manager) as membership, translation.override(language):
        q = queues_for(world.manager, membership, deadline_book(membership))
        assert (len(q.approvals.rows), len(q.visits.rows)) == (3, 2)
        docs = list(
            Document.objects.filter(status=DocumentStatus.AWAITING_APPROVAL)
            .select_related("case", "created_by")
            .order_by("created_at", "id")
        )
        visits = list(
            Visit.objects.filter(visited_on__range=q.week)
            .select_related("case", "party")
            .order_by("visited_on", "id")
        )
        whole = SimpleNamespace(
            approvals=Queue("approvals", docs, len(docs)),
            visits=Queue("visits", visits, len(visits)),
            week=q.week,
        )
        before = reference.render({"q": whole})
        page = render_to_string("overview/queues.html", {"q": q, "membership": membership})
    approvals, visits_section = before.split('<section class="card" id="visits"')
    assert approvals.strip() in page
    assert '<section class="card" id="visits"' + visits_section.rstrip() in page


def test_the_agency_requests_total_is_every_unanswered_request_of_an_open_case(
    client, world, today, monkeypatch
):
    """The total of "Waiting on an agency" (counted from the open cases waiting until
    STILL_WAITING and the index of unanswered requests) is the number of unanswered
    requests of the city's open cases, past the rows shown: two in one case, one answered
    beside one not, one answered alone, a closed and a withdrawn case with a request
    unanswered, another city's; then one recorded and one answered through the services."""
    monkeypatch.setattr("overview.queues.QUEUE_LENGTH", 1)  # one row: the total is counted
    agency = Agency.objects.get_or_create(name="デジタル庁", kind=Agency.Kind.NATIONAL)[0]

    def case_with(stage, answered, office=world.office):
        case = CaseFactory(office=office, stage=stage, stage_since=today - timedelta(days=9))
        for i, done in enumerate(answered):
            AgencyContact.objects.create(
                case=case,
                municipality_id=case.municipality_id,
                made_by=Side.MUNICIPALITY,
                contacted_on=today - timedelta(days=8 - i),
                answered_on=today if done else None,
                channel=Channel.PHONE,
                request="照会",
                created_by=world.manager,
            )
        refresh_waits([case.pk])  # what the services keep, written around them here
        return case

    case_with(Stage.INQUIRY, [False, False])
    case_with(Stage.NEGOTIATION, [True, False])
    case_with(Stage.VISIT, [True])
    case_with(Stage.CLOSED, [False])
    case_with(Stage.WITHDRAWN, [False])
    case_with(Stage.AGENCY_CONTACT, [False], office=world.other_city_office)
    later = case_with(Stage.SETTLEMENT, [])

    def total() -> str:
        client.force_login(world.manager)
        section = _section(client.get("/queues/").content.decode(), "agencies")
        with scopes_disabled():
            expected = AgencyContact.objects.filter(
                municipality=world.city, answered_on__isnull=True, case__stage__in=OPEN_STAGES
            ).count()
        assert f"{expected}件" in section, (expected, section)
        return expected

    assert total() == 3
    with tenant_scope(world.manager):
        contact = remedies.contact_add(
            case=later,
            by=world.manager,
            agencies=[agency],
            contacted_on=today,
            channel=Channel.PHONE,
            request="照会",
        )
    assert total() == 4
    with tenant_scope(world.manager):
        remedies.contact_answer(contact=contact, by=world.manager, answered_on=today, answer="回答")
    assert total() == 3
