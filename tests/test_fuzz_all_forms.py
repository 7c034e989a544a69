"""Every form of the project, fed junk: never a 5xx, and a refused form writes nothing.

The endpoints are all routes of the URL resolver (tests/endpoints.py); the field names are
those of the valid form in tests/endpoints.PAYLOADS together with every control of the
page's own forms (a GET of the page). Two passes over each endpoint, starting from its valid
form:

- a sweep: each field in turn gets each value of PROBES (NUL, an id beyond 64 bits, a date
  before 明治, U+202E, 20,000 characters, two values for one field), posted and, where the
  view reads request.GET (filters, previews), also sent as a query;
- Hypothesis: fields kept, replaced or dropped at random, with huge strings, empty ones, wrong
  types, control characters, full-width digits and the like, plus fields nobody asked for.

Each call runs in a savepoint that is rolled back, so every input meets the same world.
Whatever is sent: the answer is below 500; a redirect stays on this site and the page it
leads to also answers below 500 (a saved value must not break the page that shows it); and
any other answer leaves every row of the project's tables as it was: no half-written saves.

Figures: printed as `FUZZ inputs=… errors5xx=…` and written to var/figures/fuzz-forms.json.
"""

import json
import os
import re

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils.http import url_has_allowed_host_and_scheme
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from .endpoints import (
    PAYLOADS,
    Callers,
    build_estates,
    payload,
    project_routes,
    row_counts,
    snapshot,
    url_for,
    variants,
    wrote,
)

pytestmark = pytest.mark.django_db

# TADASU_FUZZ_EXAMPLES=500 for a deeper run than CI's.
EXAMPLES = int(os.environ.get("TADASU_FUZZ_EXAMPLES", "15"))
EXAMPLES_WITHOUT_FORM = max(1, EXAMPLES // 3)
AUDIT = frozenset({"cases.AuditEntry", "cases.AuditHead"})
# Reads recorded by design (who saw what, who failed to log in): their answers may come with
# these rows, whatever the method. A document's download is also a line on the 経過.
AUDITED_READS = {
    "login": AUDIT,
    "cases:party_edit": AUDIT,
    "cases:party_reveal": AUDIT,
    "cases:attachment_download": AUDIT,
    "documents:download": AUDIT | {"cases.TimelineEvent"},
    "audit_export": AUDIT,
}
# Pages that answer a successful write with the page itself, not a redirect, because what
# they show cannot be shown again: the new API token (api/token_views.py), kept nowhere. The
# mark says the write succeeded; a write without it is still a half-write.
SHOWN_ONCE = {"api_tokens": 'class="token-value"'}
# Who posts: a manager may post every form; the contractor fills in its own versions.
EXTRA_ROLES = {
    "cases:new": ["contractor"],  # the contractor's report form
    "remedies:visit_new": ["contractor"],
    "cases:attachment_new": ["contractor"],
    "receptions:checklist": ["contractor"],
    # Only a superuser sets up a municipality; the manager's 403 is fuzzed too.
    "municipality_setup": ["superuser"],
    "municipality_setup_done": ["superuser"],
}

SPECIAL = [
    "",
    " ",
    "\u3000",
    "0",
    "-1",
    "1e309",
    "NaN",
    "None",
    "null",
    "true",
    "[]",
    "{}",
    "0x10",
    "１２３４５",
    "５，０００円",
    "¥-5,000",
    "2023-02-30",
    "2023-13-01",
    "9999-12-31",
    "0000-00-00",
    "0001-01-01",
    "令和5年2月7日",
    "2023/02/07",
    "' OR 1=1 --",
    "<script>alert(1)</script>",
    "../../etc/passwd",
    "%(name)s %s {0}",
    "{{ 7|add:7 }}",
    "😀",
    "\u202egnp.exe",
    "abc\u202edef",
    "\x00",
    "a\x00b",
    "\x1b[2J",
    "\r\n\r\n",
    "\ufeff",
    "\u2028",
    "\u200b",
    str(2**63),
    str(-(2**63) - 1),
    "9" * 40,
    "A" * 10_000,
    "あ" * 100_000,
]
controls = st.sampled_from(["\x00", "\x01", "\x07", "\x1b", "\x7f", "\u202e", "\u200f", "\ufeff"])
junk_text = st.one_of(
    st.sampled_from(SPECIAL),
    st.text(max_size=60),
    st.integers(min_value=-(10**20), max_value=10**20).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.tuples(st.text(max_size=20), controls, st.text(max_size=20)).map("".join),
)
junk_file = st.builds(
    lambda name, head, body: SimpleUploadedFile(name or "x", head + body),
    st.one_of(st.sampled_from(["scan.pdf", "a.exe", "\u202efdp.exe", "x" * 500]), junk_text),
    st.sampled_from([b"", b"%PDF-", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"MZ"]),
    st.binary(max_size=64),
)
# A field may also come twice or more (a list), which a single-valued field must survive.
junk_value = st.one_of(junk_text, st.lists(junk_text, min_size=2, max_size=3))

FILE_FIELDS = ("file", "seal")
FORM = re.compile(r"<form\b([^>]*)>(.*?)</form>", re.IGNORECASE | re.DOTALL)
ACTION = re.compile(r'\baction="([^"]*)"', re.IGNORECASE)
CONTROL_NAME = re.compile(r'<(?:input|select|textarea)\b[^>]*\bname="([^"]+)"', re.IGNORECASE)
# Parameters a view reads that its own page does not render as a control.
QUERY_FIELDS = {
    "cases:list": ["page"],
    "audit_list": ["page"],
    "audit_export": ["action", "case", "user", "date_from", "date_to"],
}
PROBES = [
    "a\x00b",
    str(2**63),
    "0001-01-01",
    "\u202e1",
    "あ" * 20_000,  # 60,000 bytes: past any column, and past SQLite's LIKE pattern limit
    ["1", "2"],
]


def form_endpoints() -> list[tuple]:
    """(route, variant, role) for every route: those that take a form, and also the pages and
    buttons that take none (their filters, or fields nobody asked for, are fuzzed too)."""
    found = []
    for route in project_routes():
        for variant in variants(route):
            if variant == "bogus":
                continue
            for role in ["manager", *EXTRA_ROLES.get(route.name, [])]:
                found.append((route, variant, role))
    return found


def field_names(client, route, url: str, valid: dict) -> list[str]:
    """The valid form's fields and the controls of the page's forms that post to this URL
    (not, say, the language switcher every page carries)."""
    names = set(valid) | set(QUERY_FIELDS.get(route.name, []))
    response = client.get(url)
    if response.status_code == 200 and response.get("Content-Type", "").startswith("text/html"):
        for attributes, inner in FORM.findall(response.content.decode()):
            action = ACTION.search(attributes)
            if action is None or action.group(1) in ("", url):
                names |= set(CONTROL_NAME.findall(inner))
    names.discard("csrfmiddlewaretoken")
    return sorted(names)


@st.composite
def mutated(draw, valid: dict, names: list[str], methods: list[str]) -> tuple[str, dict]:
    data = dict(valid)
    for name in names:
        action = draw(st.sampled_from(["keep", "keep", "junk", "junk", "drop"]))
        if action == "drop":
            data.pop(name, None)
        elif action == "junk":
            data[name] = draw(junk_file if name in FILE_FIELDS else junk_value)
    if draw(st.booleans()):
        data[draw(st.text(min_size=1, max_size=12))] = draw(junk_value)
    return draw(st.sampled_from(methods)), data


@pytest.fixture
def estates(world, settings, tmp_path):
    settings.TADASU_ATTACHMENT_DIR = tmp_path / "attachments"
    return build_estates(world, foreign=False)


class Checker:
    """Sends one input and checks the answer; counts what it sent and what went wrong."""

    def __init__(self, world):
        self.callers = Callers(world)
        self.baseline = {
            exclude: snapshot(exclude=exclude) for exclude in {frozenset(), *AUDITED_READS.values()}
        }
        self.counts = row_counts()
        self.figures = {"endpoints": 0, "inputs": 0, "errors5xx": 0, "partial_writes": 0}

    def _call(self, client, method: str, url: str, data: dict):
        try:
            # The test client raises what the view raised: that would have been a 500.
            response = getattr(client, method)(url, data)
        except Exception:
            self.figures["errors5xx"] += 1
            raise
        if response.status_code >= 500:
            self.figures["errors5xx"] += 1
        return response

    def check(self, route, role: str, url: str, method: str, data: dict) -> None:
        if method == "get":
            data = {k: v for k, v in data.items() if not hasattr(v, "read")}
        with self.callers.call(role) as (client, queries):
            self.figures["inputs"] += 1
            response = self._call(client, method, url, data)
            assert response.status_code < 500, (route.name, method, data)
            if 300 <= response.status_code < 400:
                location = response["Location"]
                # Never away from this site, whatever "next" said.
                assert url_has_allowed_host_and_scheme(location, {"testserver"}), location
                landing = self._call(client, "get", location, {})
                assert landing.status_code < 500, (route.name, method, data, location)
                return
            shown = SHOWN_ONCE.get(route.name)
            if shown and response.status_code == 200 and shown in response.content.decode():
                return
            exclude = AUDITED_READS.get(route.name, frozenset())
            if wrote(queries, self.baseline[exclude], exclude=exclude):
                self.figures["partial_writes"] += 1
                changed = {
                    k: v - self.counts[k] for k, v in row_counts().items() if v != self.counts[k]
                }
                raise AssertionError(
                    f"{route.name} {method} as {role} answered {response.status_code} "
                    f"but wrote {changed or 'changes to existing rows'}: {data!r:.300}"
                )


def _sweep(checker: Checker, route, role, url, fresh, names, methods, failures) -> None:
    for name in names:
        for probe in PROBES:
            for method in methods:
                data = fresh() | {name: probe}
                try:
                    checker.check(route, role, url, method, data)
                except Exception as error:
                    failures.append(
                        f"{route.name} {method} {name}={probe!r:.40} as {role}: "
                        f"{type(error).__name__}: {error!s:.300}"
                    )


def _hypothesis(checker: Checker, route, role, url, fresh, names, methods) -> None:
    # The valid form is built afresh for each example: an uploaded file is read only once.
    inputs = st.builds(fresh).flatmap(lambda valid: mutated(valid, names, methods))

    @hypothesis_settings(
        max_examples=EXAMPLES if route.name in PAYLOADS else EXAMPLES_WITHOUT_FORM,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(attempt=inputs)
    def fuzz(attempt):
        method, data = attempt
        checker.check(route, role, url, method, data)

    fuzz()


def test_no_form_answers_5xx_or_writes_half(world, estates):
    checker = Checker(world)
    estate = estates["own"]
    failures: list[str] = []

    swept = set()
    for route, variant, role in form_endpoints():
        url = url_for(route, variant, "own", estates)

        def fresh(route=route, variant=variant) -> dict:
            return payload(route, world, estate, variant) or {}

        with checker.callers.call(role) as (client, _queries):
            names = field_names(client, route, url, fresh())
        methods = ["post", "get"] if route.reads_query() else ["post"]
        checker.figures["endpoints"] += 1
        # Variants with the same form (the stage steps) are swept once; Hypothesis tries all.
        if (route.name, role, tuple(names)) not in swept:
            swept.add((route.name, role, tuple(names)))
            _sweep(checker, route, role, url, fresh, names, methods, failures)
        # Every endpoint is fuzzed even after one fails, so one run shows every problem.
        try:
            _hypothesis(checker, route, role, url, fresh, names, methods)
        except Exception as error:
            failures.append(f"{route.name}[{variant}] as {role}: {type(error).__name__}: {error}")

    figures = checker.figures
    print(
        f"FUZZ inputs={figures['inputs']} errors5xx={figures['errors5xx']} "
        f"endpoints={figures['endpoints']} partial_writes={figures['partial_writes']}"
    )
    out = settings.VAR_DIR / "figures" / "fuzz-forms.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, indent=2) + "\n")
    assert failures == [], "\n\n".join(failures)
