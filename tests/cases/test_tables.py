"""The case page's tables written out in Python (cases/tables.py) are the same bytes as the
template loops they replaced, kept beside this file: party_rows.html (the affected people of
cases/case_detail_body.html) and timeline_rows.html (cases/timeline_table.html's rows, which
the whole timeline's page shares). Any labels, names, contact details (shown masked), texts,
dates and flags, in Japanese and English."""

from datetime import date
from pathlib import Path
from types import SimpleNamespace

from django.template import Context, engines
from django.utils import translation
from hypothesis import given, settings
from hypothesis import strategies as st

from cases.tables import party_rows_html, timeline_rows_html


def _template(name: str):
    return engines["django"].from_string(
        (Path(__file__).parent / name).read_text(encoding="utf-8").rstrip("\n")
    )


PARTY_ROWS = _template("party_rows.html")
TIMELINE_ROWS = _template("timeline_rows.html")

# Texts that need escaping, line breaks, full-width and half-width Japanese, empty ones.
text = st.one_of(
    st.just(""),
    st.sampled_from(
        ["A氏", "<b>B氏</b>", "山田 & 太郎", '"引用"', "ﾔﾏﾀﾞ", "一行目\n二行目", "x\r\ny"]
    ),
    st.text(max_size=30),
)
address = st.one_of(
    text,
    st.sampled_from(
        [
            "福岡県北九州市小倉北区城内1-1",
            "〒802-8501 北九州市戸畑区千防一丁目1番1号",
            "東京都千代田区",
        ]
    ),
)
number = st.one_of(st.just(""), st.from_regex(r"\A[0-9-]{1,14}\Z"), text)
case = SimpleNamespace(reference="401005-2022-001")
CSRF = "csrf-token-abcdefghijkl"


@st.composite
def parties(draw):
    return [
        SimpleNamespace(
            pk=i + 1,
            label=draw(text),
            identified=draw(st.booleans()),
            name=draw(text),
            name_kana=draw(text),
            identification_note=draw(text),
            phone=draw(number),
            address=draw(address),
            account_number=draw(number),
            payment_account=draw(number),
            can_reveal=draw(st.booleans()),
        )
        for i in range(draw(st.integers(0, 4)))
    ]


@st.composite
def events(draw):
    days = sorted(draw(st.lists(st.dates(date(1990, 1, 1), date(2030, 12, 31)), max_size=5)))
    # Some days repeated, as a timeline's entries of one day are ("Same day").
    return [
        SimpleNamespace(
            pk=1000 + i,
            occurred_on=day if not (i and draw(st.booleans())) else days[i - 1],
            actor=draw(text),
            text=draw(text),
            public=draw(st.booleans()),
        )
        for i, day in enumerate(days)
    ]


@settings(max_examples=60, deadline=None)
@given(
    rows=parties(),
    masked_accounts=st.booleans(),
    can_edit=st.booleans(),
    language=st.sampled_from(["ja", "en"]),
)
def test_party_rows_are_what_the_template_rendered(rows, masked_accounts, can_edit, language):
    values = {
        "case": case,
        "parties": rows,
        "reveal_rule": SimpleNamespace(masked_accounts=masked_accounts),
        "can_edit": can_edit,
        "csrf_token": CSRF,
    }
    with translation.override(language):
        rendered = PARTY_ROWS.render(values)
        written = party_rows_html(Context(values), rows)
    assert rendered == "\n    " + written


@settings(max_examples=60, deadline=None)
@given(rows=events(), can_edit=st.booleans(), language=st.sampled_from(["ja", "en"]))
def test_timeline_rows_are_what_the_template_rendered(rows, can_edit, language):
    values = {"case": case, "timeline": rows, "can_edit": can_edit, "csrf_token": CSRF}
    with translation.override(language):
        rendered = TIMELINE_ROWS.render(values)
        written = timeline_rows_html(Context(values), rows)
    assert rendered == "\n    " + written


def test_the_masks_hide_the_contact_details():
    person = SimpleNamespace(
        pk=1,
        label="A氏",
        identified=True,
        name="山田 太郎",
        name_kana="",
        identification_note="",
        phone="093-582-2144",
        address="福岡県北九州市小倉北区城内1-1",
        account_number="1234567",
        payment_account="PAY-98765",
        can_reveal=True,
    )
    values = {
        "case": case,
        "reveal_rule": SimpleNamespace(masked_accounts=True),
        "can_edit": False,
        "csrf_token": CSRF,
    }
    written = party_rows_html(Context(values), [person])
    for secret in ("093-582", "小倉北区", "城内", "1234567", "PAY-98765"):
        assert secret not in written
    assert "＊＊＊＊2144" in written and "福岡県北九州市＊＊＊＊" in written
