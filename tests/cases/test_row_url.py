"""{% row_url %}: the rows' links of a table, the same text as {% url %} gives."""

from django.template import engines
from hypothesis import given
from hypothesis import strategies as st

ROW_URL = engines["django"].from_string(
    "{% load tadasu %}{% for pk in ids %}"
    "{% row_url 'cases:party_edit' 'party_id' pk ref=ref %}|"
    "{% row_url 'documents:download' 'document_id' pk %}|{% endfor %}"
)
URL = engines["django"].from_string(
    "{% for pk in ids %}"
    "{% url 'cases:party_edit' ref=ref party_id=pk %}|"
    "{% url 'documents:download' document_id=pk %}|{% endfor %}"
)


def render_both(ref: str, ids: list[int]) -> tuple[str, str]:
    context = {"ref": ref, "ids": ids}
    return ROW_URL.render(context), URL.render(context)


def test_row_url_gives_the_same_links_as_url():
    row_urls, urls = render_both("401005-2022-001", [1, 7, 10, 123456789])
    assert row_urls == urls
    assert "/cases/401005-2022-001/parties/123456789/edit/" in row_urls


def test_row_url_is_right_when_the_reference_holds_the_stand_in():
    # The stand-in's digits in the case reference itself: reversed row by row instead.
    row_urls, urls = render_both("987654321987654321987654321", [3, 4])
    assert row_urls == urls


@given(
    ref=st.text(
        alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="/"),
        min_size=1,
        max_size=30,
    ),
    ids=st.lists(st.integers(min_value=0, max_value=2**63), max_size=5),
)
def test_row_url_agrees_with_url_for_any_reference_and_ids(ref, ids):
    assert render_both(ref, ids)[0] == render_both(ref, ids)[1]


DETAIL = engines["django"].from_string(
    "{% load tadasu %}{% for ref in refs %}{% row_url 'cases:detail' 'ref' ref %}|{% endfor %}"
)
DETAIL_URL = engines["django"].from_string(
    "{% for ref in refs %}{% url 'cases:detail' ref=ref %}|{% endfor %}"
)


def test_row_url_takes_a_case_reference_for_the_row():
    refs = ["401005-2022-003", "401005-2023-010"]
    assert DETAIL.render({"refs": refs}) == DETAIL_URL.render({"refs": refs})
    assert DETAIL.render({"refs": refs}).startswith("/cases/401005-2022-003/|")


@given(
    refs=st.lists(
        st.one_of(
            st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{0,19}", fullmatch=True),
            st.text(
                alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="/"),
                min_size=1,
                max_size=20,
            ),
        ),
        max_size=4,
    )
)
def test_row_url_agrees_with_url_for_any_text_id(refs):
    assert DETAIL.render({"refs": refs}) == DETAIL_URL.render({"refs": refs})
