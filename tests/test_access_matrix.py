# ruff: noqa: E501 — the matrix below reads best one route per line, full width.
"""Every route × every role × own and foreign objects answers as the table below says.

The routes are walked from the URL resolver (tests/endpoints.py), so a new view cannot slip
in untested: a route, ledger kind or stage step the table does not cover fails the test,
which then prints what that route answered, to be reviewed before it goes in the table.

Each call runs in a savepoint that is rolled back, so every call meets the same world. Pages
are fetched with GET; every route is also posted a valid form (tests/endpoints.PAYLOADS) as
every role, and a role that is refused must leave every table of the project unchanged.

Figures: printed as `ACCESS-MATRIX tried=… leaks=…` and written to
var/figures/access-matrix.json for docs/SECURITY.md.
"""

import json
from dataclasses import dataclass, field

import pytest
from django.conf import settings
from django.shortcuts import resolve_url

from .endpoints import (
    ROLES,
    Callers,
    build_estates,
    object_sets,
    payload,
    project_routes,
    snapshot,
    url_for,
    variants,
    wrote,
)

pytestmark = pytest.mark.django_db

# What each role gets. Columns follow ROLES; rows are "route[variant] objects".
#   ok     allowed: 200 or a redirect (for POST-only routes: and something was written)
#   noop   POST-only route that answers (a message, a redirect) but writes nothing: the
#          role passed the access check and a rule refused the action
#   login  sent to the log-in page (anonymous)
#   403    a case the role sees but may not change, or an action its role may not take
#   404    not the role's to see (another city, another company, an object of another case)
# Objects: "-" none; own: the city's case at contractor_co's desk, and its objects;
# foreign: a case of みなと市 at other_co's desk (other_co also serves the city);
# mixed: the own case's reference with the foreign case's object id.
# POST-only routes (GET answers 405 to everyone) are judged on their POST.
MATRIX = """
route                                  objects  staff manager contractor other_contractor auditor staff_other_city anonymous
home                                   -        ok    ok      ok         ok               ok      ok               ok
login                                  -        ok    ok      ok         ok               ok      ok               ok
logout                                 -        ok    ok      ok         ok               ok      ok               noop
set_language                           -        ok    ok      ok         ok               ok      ok               noop
audit_list                             -        403   ok      403        403              ok      403              login
audit_export                           -        403   ok      403        403              ok      403              login
# A superuser's pages (tests/cases/test_municipality_setup.py): no member may use them.
municipality_setup                     -        403   403     403        403              403     403              login
municipality_setup_done                -        403   403     403        403              403     403              login
# API tokens (api/token_views.py): everyone's own; a manager also those made for contractors'
# service accounts of the city, not a colleague's own token.
api_tokens                             -        ok    ok      ok         ok               ok      ok               login
api_token_revoke                       own      ok    404     404        404              404     404              login
api_token_revoke                       foreign  404   404     404        404              404     ok               login

cases:list                             -        ok    ok      ok         ok               ok      ok               login
# staff_other_city may open cases, but only for its own city: the form refuses this office.
cases:new                              -        ok    ok      ok         ok               403     ok               login
cases:detail                           own      ok    ok      ok         404              ok      404              login
cases:detail                           foreign  404   404     404        ok               404     ok               login
cases:timeline                         own      ok    ok      ok         404              ok      404              login
cases:timeline                         foreign  404   404     404        ok               404     ok               login
cases:edit                             own      ok    ok      403        404              403     404              login
cases:edit                             foreign  404   404     404        403              404     ok               login
cases:take                             own      ok    ok      403        404              403     404              login
cases:take                             foreign  404   404     404        403              404     ok               login
cases:party_new                        own      ok    ok      403        404              403     404              login
cases:party_new                        foreign  404   404     404        403              404     ok               login
cases:party_edit                       own      ok    ok      403        404              403     404              login
cases:party_edit                       foreign  404   404     404        403              404     ok               login
cases:party_edit                       mixed    404   404     403        404              403     404              login
# Contact details in clear: everyone who sees the case (the desk's contractor visits them).
cases:party_reveal                     own      ok    ok      ok         404              ok      404              login
cases:party_reveal                     foreign  404   404     404        ok               404     ok               login
cases:party_reveal                     mixed    404   404     404        404              404     404              login
cases:link_new                         own      ok    ok      403        404              403     404              login
cases:link_new                         foreign  404   404     404        403              404     ok               login
cases:link_correct                     own      ok    ok      403        404              403     404              login
cases:link_correct                     foreign  404   404     404        403              404     ok               login
cases:link_correct                     mixed    404   404     403        404              403     404              login
# Why a link cannot be corrected: a manager's word only.
cases:link_excuse                      own      403   ok      403        404              403     404              login
cases:link_excuse                      foreign  404   404     404        403              404     403              login
cases:link_excuse                      mixed    404   404     403        404              403     404              login
cases:timeline_new                     own      ok    ok      403        404              403     404              login
cases:timeline_new                     foreign  404   404     404        403              404     ok               login
cases:timeline_publish                 own      ok    ok      403        404              403     404              login
cases:timeline_publish                 foreign  404   404     404        403              404     ok               login
cases:timeline_publish                 mixed    404   404     403        404              403     404              login
cases:attachment_new                   own      ok    ok      ok         404              403     404              login
cases:attachment_new                   foreign  404   404     404        ok               404     ok               login
cases:attachment_download              own      ok    ok      ok         404              ok      404              login
cases:attachment_download              foreign  404   404     404        ok               404     ok               login
cases:attachment_download              mixed    404   404     404        404              404     404              login

remedies:contact_new                   own      ok    ok      403        404              403     404              login
remedies:contact_new                   foreign  404   404     404        403              404     ok               login
remedies:contact_answer                own      ok    ok      403        404              403     404              login
remedies:contact_answer                foreign  404   404     404        403              404     ok               login
remedies:contact_answer                mixed    404   404     403        404              403     404              login
remedies:agreement_new                 own      ok    ok      403        404              403     404              login
remedies:agreement_new                 foreign  404   404     404        403              404     ok               login
remedies:plan_new                      own      ok    ok      403        404              403     404              login
remedies:plan_new                      foreign  404   404     404        403              404     ok               login
remedies:visit_new                     own      ok    ok      ok         404              403     404              login
remedies:visit_new                     foreign  404   404     404        ok               404     ok               login
remedies:letter_delivery               own      ok    ok      403        404              403     404              login
remedies:letter_delivery               foreign  404   404     404        403              404     ok               login
remedies:letter_delivery               mixed    404   404     403        404              403     404              login
remedies:ledger_new[misallocation]     own      ok    ok      403        404              403     404              login
remedies:ledger_new[misallocation]     foreign  404   404     404        403              404     ok               login
remedies:ledger_new[payment]           own      ok    ok      403        404              403     404              login
remedies:ledger_new[payment]           foreign  404   404     404        403              404     ok               login
remedies:ledger_new[collection]        own      ok    ok      403        404              403     404              login
remedies:ledger_new[collection]        foreign  404   404     404        403              404     ok               login
remedies:ledger_new[regrant]           own      ok    ok      403        404              403     404              login
remedies:ledger_new[regrant]           foreign  404   404     404        403              404     ok               login
remedies:ledger_new[national_correction] own    ok    ok      403        404              403     404              login
remedies:ledger_new[national_correction] foreign 404   404     404        403              404     ok               login
remedies:ledger_new[write_off]         own      403   ok      403        404              403     404              login
remedies:ledger_new[write_off]         foreign  404   404     404        403              404     403              login
# An unknown kind is refused before the case is looked up: the same 403 for any reference,
# so it tells nothing about the case.
remedies:ledger_new[bogus]             own      403   403     403        403              403     403              login
remedies:ledger_new[bogus]             foreign  403   403     403        403              403     403              login
remedies:ledger_reverse                own      ok    ok      403        404              403     404              login
remedies:ledger_reverse                foreign  404   404     404        403              404     ok               login
remedies:ledger_reverse                mixed    404   404     403        404              403     404              login
# The own case is in 調査: refer is the one step forward, withdraw is the manager's. A step
# not possible from 調査 is refused with a message (noop) before the role is considered.
remedies:transition[refer]             own      ok    ok      403        404              403     404              login
remedies:transition[refer]             foreign  404   404     404        403              404     ok               login
remedies:transition[negotiate]         own      noop  noop    noop       404              noop    404              login
remedies:transition[negotiate]         foreign  404   404     404        noop             404     noop             login
remedies:transition[plan_visits]       own      noop  noop    noop       404              noop    404              login
remedies:transition[plan_visits]       foreign  404   404     404        noop             404     noop             login
remedies:transition[agree]             own      noop  noop    noop       404              noop    404              login
remedies:transition[agree]             foreign  404   404     404        noop             404     noop             login
remedies:transition[settle]            own      noop  noop    noop       404              noop    404              login
remedies:transition[settle]            foreign  404   404     404        noop             404     noop             login
remedies:transition[close]             own      noop  noop    noop       404              noop    404              login
remedies:transition[close]             foreign  404   404     404        noop             404     noop             login
remedies:transition[withdraw]          own      403   ok      403        404              403     404              login
remedies:transition[withdraw]          foreign  404   404     404        403              404     403              login
remedies:transition[reopen]            own      noop  noop    noop       404              noop    404              login
remedies:transition[reopen]            foreign  404   404     404        noop             404     noop             login
remedies:transition[bogus]             own      403   403     403        404              403     404              login
remedies:transition[bogus]             foreign  404   404     404        403              404     403              login
# Documents are the city's to issue: contractors are refused by role before the case is
# looked up (403 whatever the case, so nothing is told about it).
remedies:document_new                  own      ok    ok      403        403              403     404              login
remedies:document_new                  foreign  404   404     403        403              403     ok               login

documents:list                         -        ok    ok      ok         ok               ok      ok               login
documents:municipal[press_release]     -        ok    ok      403        403              403     ok               login
documents:municipal[checklist]         -        ok    ok      403        403              403     ok               login
documents:municipal[bogus]             -        403   403     403        403              403     403              login
documents:download                     own      ok    ok      ok         404              ok      404              login
documents:download                     foreign  404   404     404        ok               404     ok               login
documents:approve                      own      403   ok      403        404              403     404              login
documents:approve                      foreign  404   404     404        403              404     403              login
documents:reissue                      own      ok    ok      403        403              403     404              login
documents:reissue                      foreign  404   404     403        403              403     ok               login

# Reception sheets: the city imports them; contractor staff see and record the checklists of
# their own company's desks; auditors read. The preview without an upload sends back to the
# upload page (a redirect: ok). A counterpart is named by those who work the case.
receptions:index                       -        ok    ok      ok         ok               ok      ok               login
receptions:upload                      -        ok    ok      403        403              403     ok               login
receptions:preview                     -        ok    ok      403        403              403     ok               login
receptions:sheet                       own      ok    ok      ok         404              ok      404              login
receptions:sheet                       foreign  404   404     404        ok               404     ok               login
receptions:checklist                   own      ok    ok      ok         404              403     404              login
receptions:checklist                   foreign  404   404     404        ok               404     ok               login
receptions:counterpart_add             own      ok    ok      403        404              403     404              login
receptions:counterpart_add             foreign  404   404     404        403              404     ok               login
receptions:counterpart_add             mixed    404   404     403        404              403     404              login
# The reception search on the case page keeps the name in the session (no table is
# written: noop) for whoever may read the case; the case's scope answers 404 to the rest.
receptions:search                      own      noop  noop    noop       404              noop    404              login
receptions:search                      foreign  404   404     404        noop             404     noop             login

# Everyone has a work queue; the dashboard and deadline settings are the city managers' and
# auditors', and only managers change deadlines (roles are checked before any object).
# A job: its municipality's city staff, managers and auditors, and whoever asked for it.
jobs:list                              -        ok    ok      ok         ok               ok      ok               login
jobs:detail                            own      ok    ok      404        404              ok      404              login
jobs:detail                            foreign  404   404     404        404              404     ok               login
# Health for the load balancer: no log-in, no personal data.
healthz                                -        ok    ok      ok         ok               ok      ok               ok

overview:queues                        -        ok    ok      ok         ok               ok      ok               login
overview:dashboard                     -        403   ok      403        403              ok      403              login
overview:deadlines                     -        403   ok      403        403              ok      403              login
overview:closed_day_new                -        403   ok      403        403              403     403              login
overview:closed_day_delete             own      403   ok      403        403              403     403              login
overview:closed_day_delete             foreign  403   404     403        403              403     403              login
"""


@dataclass
class Tally:
    tried: int = 0
    cells: int = 0
    leaks: list[str] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)


def parse(table: str) -> dict[tuple[str, str], dict[str, str]]:
    lines = [
        line.split()
        for line in table.strip().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    header, rows = lines[0], lines[1:]
    assert tuple(header[2:]) == ROLES
    parsed = {}
    for row in rows:
        assert len(row) == len(header), row
        key = (row[0], row[1])
        assert key not in parsed, f"row {key} appears twice"
        parsed[key] = dict(zip(ROLES, row[2:], strict=True))
    return parsed


def row_key(route, variant) -> str:
    return f"{route.name}[{variant}]" if variant is not None else route.name


DENIED = {"login", "403", "404"}
VISIBLE = {  # whose personal data each role may ever see
    "staff": {"own"},
    "manager": {"own"},
    "contractor": {"own"},
    "auditor": {"own"},
    "other_contractor": {"foreign"},
    "staff_other_city": {"foreign"},
    "anonymous": set(),
}


def classify(response, *, wrote_rows: bool) -> str:
    status = response.status_code
    if status in (301, 302, 303):
        location = response["Location"]
        if location.startswith(resolve_url(settings.LOGIN_URL)) and "next=" in location:
            return "login"
    if 200 <= status < 400:
        return "ok" if wrote_rows else "noop"
    return str(status)


def body_text(response) -> str:
    kind = response.get("Content-Type", "")
    if getattr(response, "streaming", False) or not kind.startswith(("text/", "application/json")):
        return ""
    return response.content.decode(errors="replace")


@pytest.fixture
def estates(world, settings, tmp_path):
    settings.TADASU_ATTACHMENT_DIR = tmp_path / "attachments"
    return build_estates(world)


def test_every_route_answers_every_role_as_the_matrix_says(world, estates):
    expected = parse(MATRIX)
    callers = Callers(world)
    baseline = snapshot()
    tally = Tally()
    observed_rows: dict[tuple[str, str], dict[str, str]] = {}
    payload_wrote: dict[tuple[str, str], bool] = {}

    for route in project_routes():
        for variant in variants(route):
            for objects in object_sets(route):
                key = (row_key(route, variant), objects)
                url = url_for(route, variant, objects, estates)
                owner = estates["own" if objects in ("-", "mixed") else objects]
                answers: dict[str, tuple[str, str, bool, bool]] = {}
                for role in ROLES:
                    with callers.call(role) as (client, queries):
                        get = client.get(url)
                        get_wrote = wrote(queries, baseline)
                    data = payload(route, world, owner, variant) or {}
                    with callers.call(role) as (client, queries):
                        post = client.post(url, data)
                        post_wrote = wrote(queries, baseline)
                    tally.tried += 2
                    get_code = classify(get, wrote_rows=get_wrote)
                    post_code = classify(post, wrote_rows=post_wrote)
                    answers[role] = (get_code, post_code, get_wrote, post_wrote)
                    for response in (get, post):
                        text = body_text(response)
                        for name, estate in estates.items():
                            if name not in VISIBLE[role] and estate.tag in text:
                                tally.leaks.append(
                                    f"{key} {role}: {response.status_code} shows {name} data"
                                )
                post_only = all(a[0] == "405" for a in answers.values())
                observed = {}
                for role, (get_code, post_code, get_wrote, post_wrote) in answers.items():
                    tally.cells += 1
                    if post_only:
                        observed[role] = post_code
                    else:
                        observed[role] = "ok" if get_code in ("ok", "noop") else get_code
                        if get_code in DENIED and post_code != get_code:
                            tally.mismatches.append(
                                f"{key} {role}: GET {get_code} but POST {post_code}"
                            )
                    if observed[role] in DENIED and (get_wrote or post_wrote):
                        tally.leaks.append(f"{key} {role}: refused, yet something was written")
                observed_rows[key] = observed
                if payload(route, world, owner, variant):
                    payload_wrote[key] = any(a[1] == "ok" for a in answers.values())

    problems = []
    missing = [key for key in observed_rows if key not in expected]
    if missing:
        problems.append(
            "routes the matrix does not cover (observed answers; review before adding):\n"
            + "\n".join(
                f"{k[0]:<38} {k[1]:<8} " + " ".join(observed_rows[k][r] for r in ROLES)
                for k in missing
            )
        )
    stale = [key for key in expected if key not in observed_rows]
    if stale:
        problems.append(f"rows for routes that no longer exist: {stale}")
    for key, observed in observed_rows.items():
        if key not in expected:
            continue
        for role in ROLES:
            want, got = expected[key][role], observed[role]
            if want != got:
                line = f"{key} {role}: expected {want}, got {got}"
                tally.mismatches.append(line)
                if want in DENIED and got not in DENIED:
                    tally.leaks.append(line)
    # A form that no allowed role could save proves nothing about the roles refused it.
    allowed_keys = {k for k, row in expected.items() if "ok" in row.values()}
    useless = [k for k, w in payload_wrote.items() if k in allowed_keys and not w]
    if useless:
        problems.append(f"valid forms that wrote nothing for any allowed role: {useless}")

    figures = {
        "routes": len(project_routes()),
        "rows": len(observed_rows),
        "cells": tally.cells,
        "tried": tally.tried,
        "leaks": len(tally.leaks),
        "mismatches": len(tally.mismatches),
        "roles": list(ROLES),
    }
    print(
        f"ACCESS-MATRIX tried={figures['tried']} leaks={figures['leaks']} "
        f"routes={figures['routes']} cells={figures['cells']} "
        f"mismatches={figures['mismatches']}"
    )
    out = settings.VAR_DIR / "figures" / "access-matrix.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, indent=2) + "\n")

    assert tally.leaks == [], "\n".join(tally.leaks)
    assert tally.mismatches == [], "\n".join(tally.mismatches)
    assert problems == [], "\n\n".join(problems)
