"""The compiled path of the import for money, apologies and stage steps: agreements,
visits (with the money handed over or collected there), apology letters made outside
Tadasu, the ledger's postings with the per-case and per-municipality totals they move, and
the stage machine's steps with their guards (remedies/interchange/compiled_money.py,
compiled_stages.py). Each file is imported both ways (both_ways.py: every case replayed,
then compiled) and every table and audit entry is compared, the totals and the case
order too; a case of these shapes takes the compiled path (counted). A file the replay
refuses is refused the same way, with the same message, and nothing is written."""

import copy

import pytest
from django.core.management import call_command
from django_scopes import scopes_disabled

from remedies.demo import _organisations, _users
from remedies.models import CityLedgerTotal, LedgerEntry, LedgerTotal

from .both_ways import (
    assert_same,
    case_file,
    copies,
    demo_cases,
    import_both_ways,
    interleaved,
    made_to_replay,
    refused_both_ways,
    seqs,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def reference_data() -> None:
    with scopes_disabled():
        _users(_organisations())


def _scaled(case: dict, factor: int = 10) -> dict:
    """The case with every seq multiplied by `factor`: room for actions in between."""
    case = copy.deepcopy(case)

    def walk(obj: object) -> None:
        if isinstance(obj, dict):
            for key, value in obj.items():
                if key == "seq" and isinstance(value, int):
                    obj[key] = value * factor
                else:
                    walk(value)
        elif isinstance(obj, list):
            for value in obj:
                walk(value)

    walk(case)
    return case


def _ef() -> dict:
    """The demo's case of E and F (5,000 yen of points to the wrong account, handed over
    at a visit by the contractor, F's excess written off, closed), seqs ×10."""
    return _scaled(copies(4)[1])


def _posting(seq: int, kind: str, on: str, **values) -> dict:
    return {"seq": seq, "by": "staff", "kind": kind, "on": on, "note": "", **values}


def _paid_by_hand(case: dict) -> dict:
    """E/F with the money moved by ledger postings instead of at the visit: points
    re-granted by the national system, a payment by the city with a note (its own 経過
    line), a collection by the contractor, then the remaining excess written off."""
    misallocation = next(i for i in case["ledger"] if i["kind"] == "misallocation")
    seq, on = misallocation["seq"], misallocation["on"]
    case["ledger"] += [
        _posting(seq + 1, "regrant", on, party="E氏", amount=2000),
        _posting(seq + 2, "payment", on, party="E氏", amount=3000, side="municipality",
                 method="bank_transfer", note="口座へ振り込んだ。"),
        _posting(seq + 3, "collection", on, party="F氏", amount=1000, side="contractor",
                 method="cash"),
    ]  # fmt: skip
    case["ledger"].sort(key=lambda item: item["seq"])
    for visit in case["visits"]:
        visit.update(purpose="apology", handed_over=0, hand_over_side="", hand_over_method="")
    return case


def _millions(case: dict) -> dict:
    """E/F with 16,000,000 yen astray (two misallocations, one entry holds at most
    10,000,000): each side's balance is written off in two parts sharing a group."""
    misallocation = next(i for i in case["ledger"] if i["kind"] == "misallocation")
    misallocation["amount"] = 8_000_000
    write_off = next(i for i in case["ledger"] if i["kind"] == "write_off")
    case["ledger"] += [
        {**misallocation, "seq": misallocation["seq"] + 1, "note": ""},
        {**write_off, "seq": write_off["seq"] + 1, "party": "E氏", "reason": "回収不能のため"},
    ]
    case["ledger"].sort(key=lambda item: item["seq"])
    return case


# ---- equivalence ------------------------------------------------------------------------


def test_the_demo_cases_whole_are_compiled_as_the_replay_writes_them(reference_data):
    replayed, compiled, counts = import_both_ways(case_file(demo_cases()))
    assert counts == [0, 4]
    assert_same(replayed, compiled)
    lines = {row["action"] for row in compiled["cases.TimelineEvent"]}
    assert {
        "agreement.added",
        "note.agreement.added",
        "visit.recorded",
        "letter.sent",
        "ledger.misallocation",
        "ledger.write_off",
        "ledger.national_correction",
        "stage.refer",
        "stage.close",
    } <= lines
    assert {row["stage"] for row in compiled["cases.Case"]} == {"agency_contact", "closed"}


def test_copies_worked_at_the_same_time_chain_and_total_as_on_replay(reference_data):
    cases = interleaved(copies(12))
    replayed, compiled, counts = import_both_ways(case_file(cases))
    assert counts == [0, 12]
    assert_same(replayed, compiled)
    with scopes_disabled():
        call_command("ledger_totals", "--check", stdout=open("/dev/null", "w"))  # noqa: SIM115


def test_money_moved_by_every_kind_of_posting_is_compiled_as_the_replay_writes_it(
    reference_data,
):
    replayed, compiled, counts = import_both_ways(case_file([_paid_by_hand(_ef())]))
    assert counts == [0, 1]
    assert_same(replayed, compiled)
    kinds = sorted(row["kind"] for row in compiled["remedies.LedgerEntry"])
    assert kinds == sorted(
        ["misallocation", "misallocation", "regrant", "payment", "collection", "write_off"]
    )
    [total] = compiled["remedies.LedgerTotal"]
    assert (total["owed"], total["held"]) == (0, 0)
    assert (total["cost_national"], total["cost_municipality"], total["cost_contractor"]) == (
        2000,
        3000,
        -1000,
    )
    [city] = compiled["remedies.CityLedgerTotal"]
    assert city["cost_municipality"] == 3000 and city["cost_contractor"] == -1000
    notes = [r["text"] for r in compiled["cases.TimelineEvent"] if r["action"].startswith("note.")]
    assert "口座へ振り込んだ。" in notes


def test_a_balance_over_ten_million_is_written_off_in_parts_as_on_replay(reference_data):
    replayed, compiled, counts = import_both_ways(case_file([_millions(_ef())]))
    assert counts == [0, 1]
    assert_same(replayed, compiled)
    parts = [r["delta"] for r in compiled["remedies.LedgerEntry"] if r["kind"] == "write_off"]
    # F held 16,000,000; E was owed it less the 5,000 handed over at the visit.
    assert sorted(parts) == [-10_000_000, -5_995_000, 6_000_000, 10_000_000]


def test_a_visit_recorded_by_the_contractor_is_compiled_as_the_replay_writes_it(
    reference_data,
):
    case = _ef()
    case["visits"][0].update(by="contractor", city_attendees="")
    replayed, compiled, counts = import_both_ways(case_file([case]))
    assert counts == [0, 1]
    assert_same(replayed, compiled)
    [visit] = compiled["remedies.Visit"]
    assert visit["recorded_by_side"] == "contractor"


def test_a_withdrawn_and_reopened_case_is_compiled_as_the_replay_writes_it(reference_data):
    case = _scaled(copies(4)[0])  # A and B, waiting on an agency
    last = max(seqs(case))
    on = case["transitions"][-1]["on"]
    case["transitions"] += [
        {"seq": last + 1, "by": "manager", "step": "withdraw", "on": on,
         "note": "重複して登録した案件のため"},
        {"seq": last + 2, "by": "manager", "step": "reopen", "on": on,
         "note": "重複ではなかったため"},
        {"seq": last + 3, "by": "staff", "step": "refer", "on": on,
         "note": "関係機関への照会を再開した。"},
    ]  # fmt: skip
    replayed, compiled, counts = import_both_ways(case_file([case]))
    assert counts == [0, 1]
    assert_same(replayed, compiled)
    stages = [r for r in compiled["cases.TimelineEvent"] if r["action"].startswith("stage.")]
    # The reasons are not the story; the clerk's own words on a step are.
    assert [(r["action"], r["in_story"]) for r in stages] == [
        ("stage.refer", False),
        ("stage.withdraw", False),
        ("stage.reopen", False),
        ("stage.refer", True),
    ]


def test_compiled_and_replayed_cases_with_money_total_per_contractor_as_on_replay(
    reference_data,
):
    # Cases of two contractors and of none, compiled and replayed, worked together: each
    # municipality-and-contractor row moves by exactly what its cases posted.
    cases = copies(8)
    # E/F opened by the city's staff without a contractor: the city's own row.
    cases[1].update(contractor=None, reported_by_contractor=False)
    cases[1]["opened"]["by"] = "staff"
    cases[1]["visits"][0].update(hand_over_side="municipality")
    cases[1]["agreements"][0].update(payer="municipality")
    cases[5] = made_to_replay(cases[5])
    replayed, compiled, counts = import_both_ways(case_file(interleaved(cases)))
    assert counts == [0, 7]
    assert_same(replayed, compiled)
    rows = {row["contractor"] for row in compiled["remedies.CityLedgerTotal"]}
    assert len(rows) == 2  # the contractor's and the city's own (no contractor)


# ---- refusals ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spoil",
    [
        # A payment of more than the person is owed.
        lambda c: c["visits"][0].update(handed_over=6000),
        # Closed by staff: only a manager closes.
        lambda c: c["transitions"][-1].update(by="staff"),
        # Settled before anybody was visited.
        lambda c: c["visits"][0].update(seq=c["transitions"][-1]["seq"] + 1),
        # The contractor books the city's money.
        lambda c: c["visits"][0].update(by="contractor", hand_over_side="municipality"),
        # An agreement of nothing.
        lambda c: c["agreements"][0].update(amount=0),
        # A write-off by staff.
        lambda c: next(i for i in c["ledger"] if i["kind"] == "write_off").update(by="staff"),
        # Closed with F's excess still held (the write-off left out).
        lambda c: (
            c["ledger"].remove(next(i for i in c["ledger"] if i["kind"] == "write_off")),
            c["parties"][1].update(balance=-5000),  # the file as consistent as it can be
        ),
        # Talks begun before any money was recorded astray.
        lambda c: c["ledger"][0].update(seq=c["transitions"][1]["seq"] + 1),
        # Referred to the agencies without a misregistration recorded.
        lambda c: c.update(links=[]),
        # Closed though E was visited without an apology (settling needs only the visit).
        lambda c: c["visits"][0].update(apologised=False),
        # Agreed with no agreement recorded.
        lambda c: c.update(agreements=[]),
        # A posting dated before the error.
        lambda c: c["ledger"][0].update(on="2000-01-01"),
    ],
)
def test_a_case_the_replay_refuses_is_refused_the_same_way(reference_data, spoil):
    good, bad = _ef(), _scaled(copies(8)[5])
    spoil(bad)
    refused_both_ways([good, bad])
    with scopes_disabled():
        assert not LedgerEntry.objects.exists()
        assert not LedgerTotal.objects.exists()
        assert not CityLedgerTotal.objects.exists()
