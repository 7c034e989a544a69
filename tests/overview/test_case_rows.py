"""A work queue's table of cases, written out in Python (overview/case_rows.py), is the same
bytes as the template it replaced (case_rows.html beside this file, kept as the reference)."""

from datetime import date
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.template import engines
from django.utils import translation
from hypothesis import given, settings
from hypothesis import strategies as st

from cases.deadlines import Deadline
from cases.models import Agency, CaseKind, Stage
from overview.case_rows import case_rows_html
from overview.queues import Queue, WaitingRequest

REFERENCE = engines["django"].from_string(
    (Path(__file__).parent / "case_rows.html").read_text(encoding="utf-8")
)

texts = st.text(alphabet=st.sampled_from("aZ0-_ &<>\"'/?#%北九州 区"), max_size=12)
deadlines = st.one_of(
    st.none(),
    st.builds(
        Deadline,
        stage=st.sampled_from([s.value for s in Stage if s not in (Stage.CLOSED, Stage.WITHDRAWN)]),
        due_on=st.one_of(st.none(), st.dates(date(2020, 1, 1), date(2030, 12, 31))),
        overdue=st.booleans(),
        business_days_left=st.integers(-30, 30),
    ),
)


def _case(reference, office, kind, stage, due, assignee):
    case = SimpleNamespace(
        reference=reference,
        office=office,
        kind=kind,
        stage=stage,
        assignee=assignee,
        # A label to escape, and a different one for each kind (rows share a kind's cell).
        get_kind_display=lambda: f"{CaseKind(kind).label} & <{kind}>",
        get_stage_display=lambda: Stage(stage).label,
    )
    if due is not ...:  # a row the clock did not mark has no deadline at all
        case.deadline = due
    return case


cases = st.builds(
    _case,
    reference=st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9_-]{0,11}\Z"),
    office=texts,
    kind=st.sampled_from([k.value for k in CaseKind]),
    stage=st.sampled_from([s.value for s in Stage]),
    due=st.one_of(st.just(...), deadlines),
    assignee=st.one_of(
        st.none(),
        st.builds(SimpleNamespace, last_name=texts, first_name=texts, username=texts),
    ),
)


@pytest.mark.parametrize("language", ["ja", "en"])
@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(cases, max_size=4),
    extra=st.integers(0, 3),
    list_query=st.sampled_from(["", "stage=open&assignee=me&sort=stage-since", "a=<b>"]),
    with_assignee=st.booleans(),
)
def test_the_rows_are_what_the_template_rendered(language, rows, extra, list_query, with_assignee):
    queue = Queue("due", rows, len(rows) + extra if rows else 0, list_query=list_query)
    with translation.override(language):
        empty = translation.gettext("Every open case has an assignee.")
        expected = REFERENCE.render(
            {"queue": queue, "empty": empty, "with_assignee": with_assignee}
        )
        assert case_rows_html(queue, empty, with_assignee=with_assignee) == expected


def _deadline_as_before(value) -> str:
    """The deadline filter as it was written (format_html), for the comparison below."""
    from django.utils.html import format_html
    from django.utils.translation import gettext, ngettext

    from cases.templatetags.tadasu import jdate

    if not value:
        return '<span class="muted">—</span>'
    if value.overdue:
        n = value.business_days_late
        late = ngettext(
            "%(stage)s: %(n)s business day late", "%(stage)s: %(n)s business days late", n
        ) % {"stage": value.stage_label, "n": n}
        return format_html(
            '<span class="badge overdue-badge">{}</span> {}<span class="muted">（{}）</span>',
            gettext("Overdue"),
            jdate(value.due_on),
            late,
        )
    n = value.business_days_left
    if value.due_on is None:
        left = ngettext("%(n)s business day left", "%(n)s business days left", n) % {"n": n}
        return format_html(
            '<span class="badge paused-badge">{}</span><span class="muted">（{}）</span>',
            gettext("Clock stopped: awaiting an agency"),
            left,
        )
    if n == 0:
        left = gettext("due today")
    else:
        left = ngettext("%(n)s business day left", "%(n)s business days left", n) % {"n": n}
    return format_html('{}<span class="muted">（{}）</span>', jdate(value.due_on), left)


@pytest.mark.parametrize("language", ["ja", "en"])
@settings(max_examples=100, deadline=None)
@given(due=deadlines)
def test_the_deadline_filter_is_what_format_html_wrote(language, due):
    from cases.templatetags.tadasu import deadline

    with translation.override(language):
        assert deadline(due) == _deadline_as_before(due)


AGENCY_TABLE = engines["django"].get_template("overview/agency_table.html")


class _Agencies(list):
    def all(self):
        return self


@pytest.mark.parametrize("language", ["ja", "en"])
@settings(max_examples=60, deadline=None)
@given(
    contacts=st.lists(
        st.builds(
            WaitingRequest,
            pk=st.integers(1, 10**6),
            reference=st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9_-]{0,11}\Z"),
            municipality_id=st.just(1),
            contacted_on=st.dates(date(2020, 1, 1), date(2030, 12, 31)),
            request=st.text(alphabet=st.sampled_from("ab &<>\"'照会 。"), max_size=120),
            agencies=st.lists(texts, max_size=3),
            waiting_days=st.integers(0, 400),
        ),
        max_size=4,
    ),
    show_wait=st.booleans(),
)
def test_the_agency_rows_are_what_the_template_rendered(language, contacts, show_wait):
    """The rows as the queue reads them (values) against the template given the requests as
    it was given them before: each with its case, and its agencies (named by str())."""
    from overview.case_rows import agency_rows_html

    as_models = [
        SimpleNamespace(
            case=SimpleNamespace(reference=c.reference),
            agencies=_Agencies(Agency(name=name) for name in c.agencies),
            contacted_on=c.contacted_on,
            request=c.request,
            waiting_days=c.waiting_days,
        )
        for c in contacts
    ]
    with translation.override(language):
        expected = AGENCY_TABLE.render({"contacts": as_models, "show_wait": show_wait})
        assert agency_rows_html(contacts, show_wait=show_wait) == expected


@settings(max_examples=300, deadline=None)
@given(
    text=st.text(
        alphabet=st.sampled_from(["a", " ", "照", "e", "\u0301", "\u00e9", "ｶ", "\u3099"]),
        max_size=90,
    ),
    length=st.integers(1, 90),
)
def test_a_request_is_cut_as_truncator_cuts_it(text, length):
    """The agency rows cut "What was asked" as Django's Truncator does, which they call only
    for a text that may be too long: combining characters (not counted; e + U+0301 composes
    to é, ｶ + U+3099 does not), just under, at and over the length."""
    from django.utils.text import Truncator

    from overview.case_rows import _truncated

    assert _truncated(text, length) == Truncator(text).chars(length)
