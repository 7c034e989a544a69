"""Every form of the project, fed junk: never a 5xx, and a refused form writes nothing.

The endpoints are the routes of the URL resolver (tests/endpoints.py) that take a form; the
field names are those of the valid form in tests/endpoints.PAYLOADS together with every
control the page itself renders (a GET of the form page). Hypothesis keeps, replaces or drops
each field, with huge strings, empty ones, wrong types, control characters, U+202E, NUL,
full-width digits and the like, and sometimes adds fields nobody asked for. Each call runs in
a savepoint that is rolled back, so every example meets the same world.

Whatever is posted: the answer is below 500; and unless it is a redirect (a save that went
through), no row of the project's tables changed, so there are no half-written saves. Forms
read with GET (previews, filters) are fuzzed the same way.

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
)

pytestmark = pytest.mark.django_db

# TADASU_FUZZ_EXAMPLES=500 for a deeper run than CI's.
EXAMPLES = int(os.environ.get("TADASU_FUZZ_EXAMPLES", "25"))
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
# Who posts: a manager may post every form; the contractor fills in its own versions.
EXTRA_ROLES = {
    "cases:new": ["contractor"],  # the contractor's report form
    "remedies:visit_new": ["contractor"],
    "cases:attachment_new": ["contractor"],
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

CONTROL_NAME = re.compile(r'<(?:input|select|textarea)\b[^>]*\bname="([^"]+)"', re.IGNORECASE)


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


def field_names(client, url: str, valid: dict) -> list[str]:
    names = set(valid)
    response = client.get(url)
    if response.status_code == 200 and response.get("Content-Type", "").startswith("text/html"):
        names |= set(CONTROL_NAME.findall(response.content.decode()))
    names.discard("csrfmiddlewaretoken")
    return sorted(names)


@st.composite
def mutated(draw, valid: dict, names: list[str]) -> tuple[str, dict]:
    data = dict(valid)
    for name in names:
        action = draw(st.sampled_from(["keep", "keep", "junk", "junk", "drop"]))
        if action == "drop":
            data.pop(name, None)
        elif action == "junk":
            data[name] = draw(junk_file if name == "file" else junk_value)
    if draw(st.booleans()):
        data[draw(st.text(min_size=1, max_size=12))] = draw(junk_value)
    method = draw(st.sampled_from(["post", "post", "post", "get"]))
    return method, data


@pytest.fixture
def estates(world, settings, tmp_path):
    settings.TADASU_ATTACHMENT_DIR = tmp_path / "attachments"
    return build_estates(world, foreign=False)


def _fuzz(callers, route, role: str, url: str, inputs, figures: dict, baseline: dict) -> None:
    counts = baseline["counts"]

    @hypothesis_settings(
        max_examples=EXAMPLES if route.name in PAYLOADS else EXAMPLES_WITHOUT_FORM,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(attempt=inputs)
    def fuzz(attempt):
        method, data = attempt
        with callers.call(role) as (client, _queries):
            figures["inputs"] += 1
            if method == "get":
                data = {k: v for k, v in data.items() if not hasattr(v, "read")}
            try:
                # The test client raises what the view raised: that would have been a 500.
                response = getattr(client, method)(url, data)
            except Exception:
                figures["errors5xx"] += 1
                raise
            if response.status_code >= 500:
                figures["errors5xx"] += 1
            assert response.status_code < 500, (route.name, method, data)
            if 300 <= response.status_code < 400:
                # Never away from this site, whatever "next" said.
                location = response["Location"]
                assert url_has_allowed_host_and_scheme(location, {"testserver"}), location
                # What was saved must also show: a stored value that breaks the page it lands
                # on is a 500 waiting for the next reader.
                try:
                    landing = client.get(location)
                except Exception:
                    figures["errors5xx"] += 1
                    raise
                assert landing.status_code < 500, (route.name, method, data, location)
                return
            exclude = AUDITED_READS.get(route.name, frozenset())
            if snapshot(exclude=exclude) != baseline[exclude]:
                figures["partial_writes"] += 1
                changed = {k: v - counts[k] for k, v in row_counts().items() if v != counts[k]}
                raise AssertionError(
                    f"{route.name} {method} as {role} answered {response.status_code} "
                    f"but wrote {changed or 'changes to existing rows'}: {data!r:.500}"
                )

    fuzz()


def test_no_form_answers_5xx_or_writes_half(world, estates):
    callers = Callers(world)
    estate = estates["own"]
    baseline = {
        exclude: snapshot(exclude=exclude) for exclude in {frozenset(), *AUDITED_READS.values()}
    }
    baseline["counts"] = row_counts()
    figures = {"endpoints": 0, "inputs": 0, "errors5xx": 0, "partial_writes": 0}
    failures: list[str] = []

    for route, variant, role in form_endpoints():
        url = url_for(route, variant, "own", estates)
        valid = payload(route, world, estate, variant) or {}
        with callers.call(role) as (client, _queries):
            names = field_names(client, url, valid)
        figures["endpoints"] += 1
        # The form is built afresh for each example (an uploaded file is read only once).
        inputs = st.builds(lambda: payload(route, world, estate, variant) or {}).flatmap(
            lambda fresh: mutated(fresh, names)
        )
        # Every endpoint is fuzzed even after one fails, so one run shows every problem.
        try:
            _fuzz(callers, route, role, url, inputs, figures, baseline)
        except Exception as error:  # noqa: BLE001
            failures.append(f"{route.name}[{variant}] as {role}: {type(error).__name__}: {error}")

    print(
        f"FUZZ inputs={figures['inputs']} errors5xx={figures['errors5xx']} "
        f"endpoints={figures['endpoints']} partial_writes={figures['partial_writes']}"
    )
    out = settings.VAR_DIR / "figures" / "fuzz-forms.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, indent=2) + "\n")
    assert failures == [], "\n\n".join(failures)
