"""The compiled path of the import for links between parties (with their corrections and
excuses) and agency contacts (with their answers): remedies/interchange/compiled_links.py
and compiled_contacts.py. Each file is imported both ways (both_ways.py: every case
replayed, then compiled) and every table, the many-to-many table of a request's agencies
included, and every audit entry is compared; a case with links and contacts takes the
compiled path (counted). A file the replay refuses is refused the same way, with the same
message, and nothing is written."""

import io
import json
from datetime import date, timedelta

import pytest
from django.db import connection
from django_scopes import scopes_disabled

from cases.audit_verify import verify_chain
from cases.deadlines import STILL_WAITING
from cases.models import Agency
from remedies.demo import _organisations, _users
from remedies.interchange import import_file

from .both_ways import (
    assert_same,
    case_file,
    copies,
    import_both_ways,
    interleaved,
    made_to_replay,
    reduced,
    refused_both_ways,
    seqs,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def reference_data() -> None:
    with scopes_disabled():
        _users(_organisations())


def _cut(case: dict, **options) -> dict:
    """A demo case with its people, links and contacts; no money, no stage step."""
    return reduced(case, links_and_contacts=True, **options)


def _day(case: dict, days: int) -> str:
    return (date.fromisoformat(case["discovered_on"]) + timedelta(days=days)).isoformat()


def _link(seq: int, source: str, target: str, data_kind: str, **values) -> dict:
    return {
        "seq": seq,
        "by": "staff",
        "source": source,
        "target": target,
        "data_kind": data_kind,
        "registered_on": None,
        "corrected_on": None,
        "paid_through": False,
        "note": "",
        "corrected_how": "",
        "correction_note": "",
        "correction_recorded": None,
        "uncorrectable_reason": "",
        "excused_by": None,
        "excused_on": None,
        "excuse_recorded": None,
        **values,
    }


def _contact(seq: int, agencies: list[str], on: str, **values) -> dict:
    return {
        "seq": seq,
        "by": "staff",
        "agencies": agencies,
        "made_by": "municipality",
        "contacted_on": on,
        "channel": "phone",
        "request": "状況の調査を依頼。",
        "answered_on": None,
        "answer": "",
        "answer_recorded": None,
        **values,
    }


_FOUR_AGENCIES = ["総務省", "キャッシュレス決済事業者", "マイナポイント緊急窓口", "デジタル庁"]


def _many_shapes(case: dict) -> dict:
    """The demo's case of G and H (a correction and an answer each recorded later) with
    more links and requests: a correction recorded with its link, with and without a
    closing 。; a registration date; an excuse recorded later by the manager; a request to
    four agencies, one named twice, answered with it; two requests still unanswered, the
    later one asked first; one made by the contractor."""
    case = _cut(case)
    top = max(seqs(case))
    case["links"] += [
        _link(
            top + 1,
            "G氏",
            "H氏",
            "bank_account",
            registered_on=_day(case, 0),
            corrected_on=_day(case, 3),
            corrected_how="person",
            correction_note="本人がマイナポータルで修正した",
        ),
        _link(
            top + 2,
            "H氏",
            "G氏",
            "other",
            paid_through=True,
            note="付与済みの分は戻せない",
            uncorrectable_reason="国の仕組みでは訂正できない。",
            excused_by="manager",
            excused_on=_day(case, 9),
            excuse_recorded={"seq": top + 8, "by": "manager"},
        ),
        _link(
            top + 3,
            "G氏",
            "H氏",
            "cashless_account",
            corrected_on=_day(case, 4),
            corrected_how="municipality",
            correction_note="市の職員が修正した。",
            correction_recorded={"seq": top + 7, "by": "manager"},
        ),
    ]
    case["contacts"] += [
        _contact(
            top + 4,
            [*_FOUR_AGENCIES, "総務省"],
            _day(case, 2),
            channel="email",
            answered_on=_day(case, 6),
            answer="各機関から、対応を確認したとの回答。",
        ),
        _contact(top + 5, ["デジタル庁"], _day(case, 5), request="本人確認の状況を照会。"),
        _contact(
            top + 6,
            ["マイナポイント緊急窓口"],
            _day(case, 1),
            made_by="contractor",
            channel="meeting",
            request="委託事業者から緊急窓口に連絡。",
        ),
    ]
    return case


# ---- equivalence ------------------------------------------------------------------------


def test_the_demo_cases_with_their_links_and_contacts_are_compiled_as_the_replay_writes_them(
    reference_data,
):
    cases = [_cut(case, hand_lines=i % 2, identify=i % 2 == 1) for i, case in enumerate(copies(8))]
    replayed, compiled, counts = import_both_ways(case_file(cases))
    assert counts == [0, 8]
    assert len(compiled["cases.Misregistration"]) == 8
    assert len(compiled["remedies.AgencyContact"]) == 12
    lines = {row["action"] for row in compiled["cases.TimelineEvent"]}
    assert {"link.corrected", "link.excused", "contact.made", "contact.answered"} <= lines
    assert_same(replayed, compiled)


def test_links_and_contacts_of_cases_worked_at_the_same_time_chain_as_on_replay(reference_data):
    cases = interleaved([_cut(case, hand_lines=1) for case in copies(6)])
    replayed, compiled, counts = import_both_ways(case_file(cases))
    assert counts == [0, 6]
    assert_same(replayed, compiled)


def test_links_and_contacts_in_many_shapes_are_compiled_as_the_replay_writes_them(
    reference_data,
):
    case = _many_shapes(copies(4)[3])
    replayed, compiled, counts = import_both_ways(case_file([case]))
    assert counts == [0, 1]
    assert_same(replayed, compiled)
    # The request to four agencies names each once, in the agencies' order, on its answer.
    answers = [r for r in compiled["cases.TimelineEvent"] if r["action"] == "contact.answered"]
    named = [r["actor"].split("・") for r in answers]
    assert sorted(max(named, key=len)) == sorted(_FOUR_AGENCIES)
    assert len(compiled["remedies.AgencyContact_agencies"]) == 2 + 4 + 1 + 1  # 2: the demo's
    # Corrected with the link, later, and excused later: each its own 経過 line.
    texts = [r["text"] for r in compiled["cases.TimelineEvent"] if r["action"] == "link.corrected"]
    assert any(t.endswith("本人がマイナポータルで修正した。") for t in texts)
    assert any(t.endswith("市の職員が修正した。") for t in texts)
    excused = [r for r in compiled["cases.TimelineEvent"] if r["action"] == "link.excused"]
    assert [(r["occurred_on"], r["public"]) for r in excused] == [
        (date.fromisoformat(_day(case, 9)), False)
    ]
    # Still waiting on two requests: the clock stops from the earlier one's day.
    (row,) = compiled["cases.Case"]
    assert row["waits_until"] == STILL_WAITING
    assert row["waiting_since"] == date.fromisoformat(_day(case, 1))


def test_a_case_keeps_the_waits_its_requests_and_answers_leave(reference_data):
    cases = [_cut(case) for case in copies(4)]
    cases[2]["contacts"] = []  # asked nobody: never waited
    replayed, compiled, counts = import_both_ways(case_file(cases))
    assert counts == [0, 4]
    assert_same(replayed, compiled)
    waits = [(row["waits_until"], row["waiting_since"]) for row in compiled["cases.Case"]]
    assert sorted(waits, key=str) == sorted(
        [
            (STILL_WAITING, date(2023, 3, 1)),  # A and B: the request for B's details
            (date(2022, 10, 18), None),  # E and F: the operator's answer, the last
            (None, None),
            (date(2023, 2, 3), None),  # G and H: the answer recorded later
        ],
        key=str,
    )


def test_compiled_cases_with_links_and_contacts_and_whole_demo_cases_chain_as_on_replay(
    reference_data,
):
    whole = [made_to_replay(case) for case in copies(4)]
    cut = [_cut(case, hand_lines=1) for case in copies(8)[4:]]
    cases = interleaved([case for pair in zip(whole, cut, strict=True) for case in pair])
    replayed, compiled, counts = import_both_ways(case_file(cases))
    assert counts == [0, 4]
    assert_same(replayed, compiled)


def test_an_answer_naming_more_than_its_column_holds_is_left_to_the_replay(reference_data):
    with scopes_disabled():
        Agency.objects.create(name="架空の機関" * 19, kind=Agency.Kind.OTHER)  # 95 characters
    cases = [_cut(case) for case in copies(3)]
    cases[1]["contacts"][0]["agencies"].append("架空の機関" * 19)  # answered: 2 + 1 agencies
    if connection.vendor == "postgresql":  # the database refuses the 経過 line's actor
        refused_both_ways(cases)
    else:  # SQLite keeps it whole: the same rows both ways, that case replayed
        replayed, compiled, counts = import_both_ways(case_file(cases))
        assert counts == [0, 2]
        assert_same(replayed, compiled)


def test_a_link_note_longer_than_its_column_is_left_to_the_replay(reference_data):
    cases = [_cut(case) for case in copies(3)]
    cases[1]["links"][0]["note"] = "あ" * 201
    if connection.vendor == "postgresql":
        refused_both_ways(cases)
    else:
        replayed, compiled, counts = import_both_ways(case_file(cases))
        assert counts == [0, 2]
        assert_same(replayed, compiled)


# ---- refusals ---------------------------------------------------------------------------
#
# Each breaks the second of three cut-down demo cases: the case of E and F, whose link is
# excused by the manager with it, and whose two requests are answered with them.


def _future(case: dict) -> str:
    return (date.today() + timedelta(days=3)).isoformat()


def _unknown_party(case):
    case["links"][0]["source"] = "Z氏"


def _linked_to_itself(case):
    case["links"][0]["target"] = case["links"][0]["source"]


def _linked_twice(case):
    case["links"].append(dict(case["links"][0], seq=max(seqs(case)) + 1))


def _unknown_data(case):
    case["links"][0]["data_kind"] = "passport"


def _registered_in_future(case):
    case["links"][0]["registered_on"] = _future(case)


def _corrected_before_registered(case):
    link = case["links"][0]
    link.update(uncorrectable_reason="", excused_by=None, excused_on=None)
    link.update(registered_on=_day(case, 4), corrected_on=_day(case, 2), corrected_how="person")


def _corrected_no_way(case):
    link = case["links"][0]
    link.update(uncorrectable_reason="", excused_by=None, excused_on=None)
    link.update(corrected_on=_day(case, 2), corrected_how="magic")


def _correction_note_too_long(case):
    link = case["links"][0]
    link.update(uncorrectable_reason="", excused_by=None, excused_on=None)
    link.update(corrected_on=_day(case, 2), corrected_how="person", correction_note="あ" * 201)


def _correction_before_its_link(case):
    link, top = case["links"][0], max(seqs(case))
    link.update(uncorrectable_reason="", excused_by=None, excused_on=None, seq=top + 2)
    link.update(corrected_on=_day(case, 2), corrected_how="person")
    link["correction_recorded"] = {"seq": top + 1, "by": "staff"}


def _excused_by_staff(case):
    case["links"][0]["excused_by"] = "staff"


def _excused_though_corrected(case):
    case["links"][0]["corrected_on"] = _day(case, 1)


def _reason_too_long(case):
    case["links"][0]["uncorrectable_reason"] = "理由" * 501


def _excused_before_case_began(case):
    case["links"][0]["excused_on"] = "2001-01-01"


def _no_agency(case):
    case["contacts"][0]["agencies"] = []


def _unknown_agency(case):
    case["contacts"][0]["agencies"] = ["架空庁"]


def _unknown_channel(case):
    case["contacts"][0]["channel"] = "pigeon"


def _made_by_the_nation(case):
    case["contacts"][0]["made_by"] = "national"


def _blank_request(case):
    case["contacts"][0]["request"] = "  "


def _asked_before_case_began(case):
    case["contacts"][0]["contacted_on"] = "2001-01-01"


def _answered_before_asked(case):
    case["contacts"][1]["answered_on"] = _day(case, 5)  # asked on the 6th day


def _answer_without_text(case):
    case["contacts"][0]["answer"] = ""


def _answer_before_its_request(case):
    contact, top = case["contacts"][1], max(seqs(case))
    contact.update(seq=top + 2, answer_recorded={"seq": top + 1, "by": "staff"})


def _answered_in_future(case):
    case["contacts"][1]["answered_on"] = _future(case)


def _answered_by_nobody(case):
    contact, top = case["contacts"][1], max(seqs(case))
    contact["answer_recorded"] = {"seq": top + 1, "by": "nobody"}


@pytest.mark.parametrize(
    "break_it",
    [
        _unknown_party,
        _linked_to_itself,
        _linked_twice,
        _unknown_data,
        _registered_in_future,
        _corrected_before_registered,
        _corrected_no_way,
        _correction_note_too_long,
        _correction_before_its_link,
        _excused_by_staff,
        _excused_though_corrected,
        _reason_too_long,
        _excused_before_case_began,
        _no_agency,
        _unknown_agency,
        _unknown_channel,
        _made_by_the_nation,
        _blank_request,
        _asked_before_case_began,
        _answered_before_asked,
        _answer_without_text,
        _answer_before_its_request,
        _answered_in_future,
        _answered_by_nobody,
    ],
)
def test_a_broken_link_or_contact_is_refused_the_same_way_and_nothing_is_written(
    reference_data, break_it
):
    cases = [_cut(case) for case in copies(3)]
    break_it(cases[1])
    refused_both_ways(cases)


def test_unbroken_the_three_cases_of_the_refusals_are_all_compiled(reference_data):
    # So each refusal above is one the compiled path had to leave to the replay.
    cases = [_cut(case) for case in copies(3)]
    replayed, compiled, counts = import_both_ways(case_file(cases))
    assert counts == [0, 3]
    assert_same(replayed, compiled)


def test_links_and_contacts_are_written_in_a_few_statements(
    reference_data, django_assert_max_num_queries
):
    data = case_file([_cut(case) for case in copies(40)])
    with scopes_disabled():
        # Reference data (users, offices, agencies…) once, the sequence and the audit head
        # once, then per batch of entries one INSERT per model.
        with django_assert_max_num_queries(60):
            imported = import_file(io.BytesIO(json.dumps(data).encode()))
        assert len(imported.cases) == 40
        assert verify_chain()[1] == []
