# ruff: noqa: E501 — the matrix below reads best one route per line, full width.
"""Every API route × method × role × own and foreign objects answers as the table says.

The routes and their methods come from the URL resolver (every view under api/v1/), so a
new endpoint without rows here fails this test. Each call runs in a savepoint that is rolled
back; a refused call must leave every table unchanged and show nothing of a case the role
may not see. The same world and rules as the pages' matrix (tests/test_access_matrix.py):
nothing is reachable through the API that the same user cannot reach in the browser.
"""

import json
from contextlib import contextmanager

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, reset_queries, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django_scopes import scopes_disabled

from cases.models import Agency
from remedies import ledger
from tests.endpoints import ROLES, build_estates, snapshot, wrote
from tests.receptions.sheets import reception_csv

from .conftest import ApiClient, token_for

pytestmark = pytest.mark.django_db

# Status per role; columns follow ROLES. Objects: "-" none; own: the city's case at
# contractor_co's desk; foreign: a case of みなと市 at other_co's desk (other_co also serves
# the city). 401: no token (anonymous).
MATRIX = """
route          method objects  staff manager contractor other_contractor auditor staff_other_city anonymous
api:me         GET    -        200   200     200        200              200     200              401
api:cases      GET    -        200   200     200        200              200     200              401
# staff_other_city may open cases, but for its own city only: the city's office is refused.
api:cases      POST   -        201   201     201        201              403     400              401
# The name search: a POST that reads (names never in a URL); each sees only its own cases.
api:case_search POST  -        200   200     200        200              200     200              401
api:case       GET    own      200   200     200        404              200     404              401
api:case       GET    foreign  404   404     404        200              404     200              401
api:timeline   GET    own      200   200     200        404              200     404              401
api:timeline   GET    foreign  404   404     404        200              404     200              401
api:timeline   POST   own      201   201     403        404              403     404              401
api:timeline   POST   foreign  404   404     404        403              404     201              401
api:visits     GET    own      200   200     200        404              200     404              401
api:visits     GET    foreign  404   404     404        200              404     200              401
api:visits     POST   own      201   201     201        404              403     404              401
api:visits     POST   foreign  404   404     404        201              404     201              401
api:parties    GET    own      200   200     200        404              200     404              401
api:parties    GET    foreign  404   404     404        200              404     200              401
api:parties    POST   own      201   201     403        404              403     404              401
api:parties    POST   foreign  404   404     404        403              404     201              401
# Details in clear: everyone who sees the case, as the case page's “Show” (audited).
api:party_reveal POST own      200   200     200        404              200     404              401
api:party_reveal POST foreign  404   404     404        200              404     200              401
api:party_reveal POST mixed    404   404     404        404              404     404              401
api:links      GET    own      200   200     200        404              200     404              401
api:links      GET    foreign  404   404     404        200              404     200              401
api:links      POST   own      201   201     403        404              403     404              401
api:links      POST   foreign  404   404     404        403              404     201              401
api:contacts   GET    own      200   200     200        404              200     404              401
api:contacts   GET    foreign  404   404     404        200              404     200              401
api:contacts   POST   own      201   201     403        404              403     404              401
api:contacts   POST   foreign  404   404     404        403              404     201              401
api:contact_answer POST own    200   200     403        404              403     404              401
api:contact_answer POST foreign 404  404     404        403              404     200              401
api:contact_answer POST mixed  404   404     403        404              403     404              401
api:stage      GET    own      200   200     200        404              200     404              401
api:stage      GET    foreign  404   404     404        200              404     200              401
api:step[refer] POST  own      200   200     403        404              403     404              401
api:step[refer] POST  foreign  404   404     404        403              404     200              401
api:step[bogus] POST  own      403   403     403        404              403     404              401
api:step[bogus] POST  foreign  404   404     404        403              404     403              401
api:ledger     GET    own      200   200     200        404              200     404              401
api:ledger     GET    foreign  404   404     404        200              404     200              401
api:ledger_payments POST own   201   201     403        404              403     404              401
api:ledger_payments POST foreign 404 404     404        403              404     201              401
api:ledger_collections POST own 201  201     403        404              403     404              401
api:ledger_collections POST foreign 404 404  404        403              404     201              401
# Jobs: the municipality's (city roles) and one's own, as the jobs pages.
api:jobs       GET    -        200   200     200        200              200     200              401
api:job        GET    own      200   200     404        404              200     404              401
api:job        GET    foreign  404   404     404        404              404     200              401
# Reception sheets: imported by city staff and managers, as on the upload page (each for
# their own city); contractors' and auditors' tokens are refused before the file is read.
api:reception_sheets POST - 202  202     403        403              403     202              401
api:documents  GET    own      200   200     200        404              200     404              401
api:documents  GET    foreign  404   404     404        200              404     200              401
api:documents  POST   own      201   201     403        404              403     404              401
api:documents  POST   foreign  404   404     404        403              404     201              401
api:document_download GET own  200   200     200        404              200     404              401
api:document_download GET foreign 404 404   404        200              404     200              401
api:document_download GET mixed 404  404     404        404              404     404              401
# Any other address under /api/v1/ (here /api/v1/ itself): a problem document.
api:not_found  GET    -        404   404     404        404              404     404              401
api:not_found  POST   -        404   404     404        404              404     404              401
api:not_found  PUT    -        404   404     404        404              404     404              401
api:not_found  PATCH  -        404   404     404        404              404     404              401
api:not_found  DELETE -        404   404     404        404              404     404              401
"""
# Values tried for a URL parameter that is not an object.
VARIANTS = {"step": ["refer", "bogus"]}

VISIBLE = {
    "staff": {"own"},
    "manager": {"own"},
    "contractor": {"own"},
    "auditor": {"own"},
    "other_contractor": {"foreign"},
    "staff_other_city": {"foreign"},
    "anonymous": set(),
}
METHODS = ("get", "post", "put", "patch", "delete")


def api_routes() -> list[tuple[str, str, tuple[str, ...]]]:
    """(route name, METHOD, URL parameters) of every view under api/v1/."""
    found = []

    def walk(patterns, prefix: str, namespace: str | None):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                ns = pattern.namespace or namespace
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern).lstrip("^"), ns)
            elif isinstance(pattern, URLPattern):
                yield prefix + str(pattern.pattern).lstrip("^"), namespace, pattern

    for path, namespace, pattern in walk(get_resolver().url_patterns, "", None):
        if not path.startswith("api/v1/"):
            continue
        view = pattern.callback.view_class
        params = tuple(pattern.pattern.regex.groupindex)
        for method in METHODS:
            if hasattr(view, method):
                found.append((f"{namespace}:{pattern.name}", method.upper(), params))
    return found


def parse(text: str) -> dict[tuple[str, str, str], dict[str, int]]:
    rows = {}
    for line in text.strip().splitlines()[1:]:
        if not line.strip() or line.startswith("#"):
            continue
        route, method, objects, *codes = line.split()
        assert len(codes) == len(ROLES), line
        rows[(route, method, objects)] = dict(zip(ROLES, map(int, codes), strict=True))
    return rows


def _payload(route: str, world, estate) -> dict:
    with scopes_disabled():
        head = ledger.ledger_head(estate.case)
    money = {"amount": 1000, "side": "contractor", "method": "cash", "on": "2023-02-10"}
    return {
        "api:cases": {
            "office": world.office.pk,
            "kind": "cashless",
            "discovered_on": "2023-02-07",
            "summary": "窓口での誤登録",
        },
        "api:case_search": {"q": "C"},
        "api:timeline": {
            "occurred_on": "2023-02-08",
            "actor": "北九州市",
            "text": "電話で確認した。",
        },
        "api:visits": {
            "party": estate.c.pk,
            "visited_on": "2023-02-10",
            "place": "自宅",
            "purpose": "apology",
            "apologised": True,
            "_head": head,
        },
        "api:parties": {"label": "Z氏", "identified": True, "name": "新規 三郎"},
        "api:party_reveal": {"reason": "監査での照合"},
        "api:links": {"source": estate.c.pk, "target": estate.d.pk, "data_kind": "other"},
        "api:contacts": {
            "agencies": list(Agency.objects.values_list("pk", flat=True)[:1]),
            "made_by": "municipality",
            "contacted_on": "2023-02-08",
            "channel": "email",
            "request": "口座の状況を照会。",
        },
        "api:contact_answer": {"answered_on": "2023-02-09", "answer": "双方とも修正済み。"},
        "api:step": {"expected_stage": estate.case.stage, "on": "2023-02-10"},
        "api:ledger_payments": {"party": estate.c.pk, **money, "_head": head},
        "api:documents": {"kind": "apology", "party": estate.d.pk, "dated": "2023-02-10"},
        "api:ledger_collections": {"party": estate.d.pk, **money, "_head": head},
    }.get(route, {})


def _sheet(world, estate) -> dict:
    rows = [(world.office.name, "1", "2023-02-07 10:15", "10:25", "窓口 太郎", "完了", "済", "済")]
    return {"file": SimpleUploadedFile("uketsuke.csv", reception_csv(rows))}


# Routes whose POST is a multipart upload, with the form each role sends.
MULTIPART = {"api:reception_sheets": _sheet}


def _objects(params) -> list[str]:
    ids = [p for p in params if p.endswith("_id")]
    if "ref" not in params:
        return ["own", "foreign"] if ids else ["-"]
    return ["own", "foreign", "mixed"] if ids else ["own", "foreign"]


def _kwargs(params, objects: str, estates, variant) -> dict:
    kwargs = {}
    for param in params:
        if param == "ref":
            kwargs[param] = estates["own" if objects == "mixed" else objects].case.reference
        elif param in VARIANTS:
            kwargs[param] = variant
        else:
            estate = estates["foreign" if objects == "mixed" else objects]
            found = {
                "party_id": estate.c,
                "contact_id": estate.contact,
                "document_id": estate.document,
                "job_id": estate.extra["job"],
            }.get(param)
            assert found is not None, f"no object for {param}: add one to _kwargs"
            kwargs[param] = found.pk
    return kwargs


@contextmanager
def rolled_back():
    reset_queries()
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        try:
            yield queries
        finally:
            transaction.set_rollback(True)


def test_every_api_route_answers_every_role_as_the_matrix_says(world, settings, tmp_path):
    settings.TADASU_ATTACHMENT_DIR = tmp_path / "attachments"
    estates = build_estates(world)
    clients = {
        role: ApiClient(None if role == "anonymous" else token_for(getattr(world, role)))
        for role in ROLES
    }
    expected = parse(MATRIX)
    # Tokens note when they were last used: that is no write of the caller's.
    untouched = frozenset({"api.ApiToken"})
    baseline = snapshot(exclude=untouched)
    observed, problems = {}, []
    calls = [
        (route, method, params, variant, objects)
        for route, method, params in api_routes()
        for variant in next((VARIANTS[p] for p in params if p in VARIANTS), [None])
        for objects in _objects(params)
    ]
    for route, method, params, variant, objects in calls:
        estate = estates["foreign" if objects == "foreign" else "own"]
        url = reverse(route, kwargs=_kwargs(params, objects, estates, variant))
        key_route = f"{route}[{variant}]" if variant else route
        row = {}
        for role in ROLES:
            body = dict(_payload(route, world, estate))
            headers = {}
            if "_head" in body:
                headers["If-Match"] = f'"{body.pop("_head")}"'
            with rolled_back() as queries:
                client = clients[role]
                if method == "GET":
                    answer = client.get(url)
                elif method == "POST" and route in MULTIPART:
                    # A file upload: multipart, as a browser or `curl -F` sends it.
                    body = MULTIPART[route](world, estate)
                    answer = Client.post(client, url, body, headers=client._headers(headers))
                elif method == "POST":
                    answer = client.post(url, body, headers=headers)
                else:
                    answer = client.generic(
                        method,
                        url,
                        json.dumps(body),
                        "application/json",
                        headers=client._headers(headers),
                    )
                changed = wrote(queries, baseline, exclude=untouched)
            row[role] = answer.status_code
            text = answer.content.decode(errors="replace")
            for name, other in estates.items():
                if name not in VISIBLE[role] and other.tag in text:
                    problems.append(f"{route} {method} {objects} {role}: shows {name} data")
            if answer.status_code >= 400:
                if changed:
                    problems.append(f"{route} {method} {objects} {role}: refused, yet wrote")
                if answer["Content-Type"] != "application/problem+json":
                    problems.append(f"{route} {method} {objects} {role}: not a problem")
        observed[(key_route, method, objects)] = row
    missing = [key for key in observed if key not in expected]
    for key in missing:
        problems.append(
            f"not in the matrix: {' '.join(key)} " + " ".join(map(str, observed[key].values()))
        )
    for key in expected:
        if key not in observed:
            problems.append(f"in the matrix but no such route: {' '.join(key)}")
        elif observed[key] != expected[key]:
            diff = {
                r: (expected[key][r], observed[key][r])
                for r in ROLES
                if expected[key][r] != observed[key][r]
            }
            problems.append(f"{' '.join(key)}: expected, observed {diff}")
    assert problems == []
