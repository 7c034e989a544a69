"""Every form of the project, sent empty, answers in the Digital Agency's form pattern (DADS):
an error summary at the top whose every line links to a field that exists on the page and is
marked invalid (aria-invalid="true", its message tied by aria-describedby), every invalid
control listed there, and nothing written.

"Empty" is what a person gets by pressing the button without filling anything in: the
page's hidden inputs (the ledger head, the stage) are sent as the page holds them; every
visible control is sent blank. The forms are those tests/endpoints.PAYLOADS knows, posted
as a role allowed to post them, on the same world the access matrix and the form fuzzer use.
"""

import re
from html.parser import HTMLParser

import pytest

from .endpoints import (
    PAYLOADS,
    Callers,
    build_estates,
    project_routes,
    snapshot,
    url_for,
    variants,
    wrote,
)

pytestmark = pytest.mark.django_db

# Forms that take no visible input or answer differently on purpose.
NOT_FILLED_IN = {
    "login": "its own single message: it must not say which of the two was wrong",
    "set_language": "a language switch, not filled in",
    "cases:timeline_publish": "a button",
    "remedies:transition": "a button; its note and date are optional",
    "receptions:counterpart_add": "a button",
    "receptions:checklist": "ticks only: an empty checklist is a valid answer",
    "documents:municipal[checklist]": "a button: the blank desk checklist",
}
ROLE = {"municipality_setup": "superuser"}
# Forms shown on another page than the one they post to (from the URL posted to and the
# valid payload): a case document's fields appear once its kind is chosen.
SHOWN_ON = {
    "overview:closed_day_new": lambda url, valid: "/dashboard/deadlines/",
    "documents:municipal": lambda url, valid: "/documents/",
    "remedies:document_new": lambda url, valid: f"{url}?kind={valid['kind']}",
}


class Page(HTMLParser):
    """The ids on the page with their attributes, the controls of each POST form, and the
    links in the error summary."""

    def __init__(self, html: str):
        super().__init__()
        self.by_id: dict[str, dict] = {}
        self.forms: list[list[dict]] = []
        self.summary_links: list[str] = []
        self.summaries = 0
        self._in_form = False
        self._summary_depth = 0
        self._div_depth = 0
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = {k: (v or "") for k, v in attrs}
        a["_tag"] = tag
        if "id" in a:
            self.by_id[a["id"]] = a
        if tag == "form" and a.get("method", "").lower() == "post":
            self._in_form = True
            self.forms.append([])
        elif tag in ("input", "select", "textarea") and self._in_form:
            self.forms[-1].append(a)
        if tag == "div":
            self._div_depth += 1
            if "error-summary" in a.get("class", "").split():
                self.summaries += 1
                self._summary_depth = self._div_depth
        if tag == "a" and self._summary_depth and a.get("href", "").startswith("#"):
            self.summary_links.append(a["href"][1:])

    def handle_endtag(self, tag):
        if tag == "form":
            self._in_form = False
        if tag == "div":
            if self._summary_depth == self._div_depth:
                self._summary_depth = 0
            self._div_depth -= 1


def _main_form(page: Page, names: set[str]) -> list[dict]:
    """The page's form holding most of the fields the valid payload fills in."""
    return max(page.forms, key=lambda controls: len({c.get("name") for c in controls} & names))


def _empty(controls: list[dict]) -> dict:
    data = {}
    for c in controls:
        name = c.get("name")
        if not name:
            continue
        if c["_tag"] == "input" and c.get("type") == "hidden":
            data[name] = c.get("value", "")
        elif c["_tag"] == "input" and c.get("type") in ("checkbox", "radio", "file", "submit"):
            continue  # unticked, nothing chosen: not sent at all
        else:
            data.setdefault(name, "")
    return data


def _cases():
    names = {route.name: route for route in project_routes()}
    for name in sorted(PAYLOADS):
        if name in NOT_FILLED_IN:
            continue
        route = names[name]
        for variant in variants(route):
            label = f"{name}[{variant}]" if variant else name
            if variant == "bogus" or label in NOT_FILLED_IN:
                continue
            yield pytest.param(route, variant, id=label)


@pytest.fixture
def estate_and_callers(world):
    return build_estates(world, foreign=False), Callers(world)


@pytest.mark.parametrize(("route", "variant"), list(_cases()))
def test_a_form_sent_empty_lists_each_mistake_linked_to_its_field(
    estate_and_callers, world, route, variant
):
    estates, callers = estate_and_callers
    url = url_for(route, variant, "own", estates)
    role = ROLE.get(route.name, "manager")
    valid = PAYLOADS[route.name](world, estates["own"], variant)
    with callers.call(role) as (client, _queries):
        shown_on = SHOWN_ON.get(route.name, lambda url, valid: url)(url, valid)
        form_page = client.get(shown_on)
        assert form_page.status_code == 200, url
        page = Page(form_page.content.decode())
        sent = _empty(_main_form(page, set(valid)))
    baseline = snapshot()
    with callers.call(role) as (client, queries):
        response = client.post(url, sent)
        answer = response.content.decode()
        assert not wrote(queries, baseline), f"{url}: an empty form wrote something"
    assert response.status_code == 200, (url, response.status_code)
    page = Page(answer)
    assert page.summaries == 1, f"{url}: no error summary"
    assert page.summary_links, f"{url}: the summary links to no field"
    invalid = {i for i, a in page.by_id.items() if a.get("aria-invalid") == "true"}
    for anchor in page.summary_links:
        control = page.by_id.get(anchor)
        assert control is not None, f"{url}: the summary links to #{anchor}, not on the page"
        if control["_tag"] not in ("input", "select", "textarea"):
            continue  # a mistake about a group of rows links to the group
        assert control.get("aria-invalid") == "true", f"{url}: #{anchor} is not marked invalid"
        described = control.get("aria-describedby", "").split()
        assert any(d.endswith("_error") for d in described), f"{url}: #{anchor} has no message"
    # Every control marked invalid is in the summary (the boxes of a group by the first).
    for control_id in invalid:
        group = re.sub(r"_\d+$", "_0", control_id)
        assert control_id in page.summary_links or group in page.summary_links, (
            f"{url}: #{control_id} is invalid but not in the summary"
        )
