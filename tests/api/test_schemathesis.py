"""Schemathesis against the served OpenAPI schema, in `make test`: for every operation a
bounded number of generated requests, each sent with a token of every role (and none).
No answer may be a 5xx, and every answer must match the schema (status documented, body and
content type as declared).

Bounded for CI: TADASU_API_FUZZ_EXAMPLES examples per operation (default 8), derandomized in
CI like the other Hypothesis tests (tests/conftest.py)."""

import os

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django_scopes import scopes_disabled
from hypothesis import HealthCheck, given, settings
from schemathesis import checks

from remedies import ledger
from tests.endpoints import ROLES, build_estates
from tests.receptions.sheets import reception_csv

from .conftest import token_for
from .test_access_matrix import api_routes

CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
]
EXAMPLES = int(os.environ.get("TADASU_API_FUZZ_EXAMPLES", "8"))
# Which estate's case each role addresses: the one it may see (anonymous: the city's).
CASE_OF = {
    "staff": "own",
    "manager": "own",
    "contractor": "own",
    "auditor": "own",
    "other_contractor": "foreign",
    "staff_other_city": "foreign",
    "anonymous": "own",
}


@pytest.fixture
def settings_for_fuzz(settings, tmp_path):
    settings.ALLOWED_HOSTS = ["localhost", "testserver"]
    settings.TADASU_ATTACHMENT_DIR = tmp_path / "attachments"
    # Many calls per token: the rate limit is tested elsewhere (test_tokens.py).
    from api.authentication import TokenRateThrottle

    original = TokenRateThrottle.THROTTLE_RATES
    TokenRateThrottle.THROTTLE_RATES = {"token": "100000/minute"}
    yield settings
    TokenRateThrottle.THROTTLE_RATES = original


@pytest.fixture
def wsgi_keeps_the_test_connection():
    # A plain WSGIHandler closes the database connection before and after each request
    # (Django's test client turns that off the same way): here it would close the test's
    # transaction (on PostgreSQL).
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def callers(world, settings_for_fuzz, wsgi_keeps_the_test_connection):
    estates = build_estates(world)
    tokens = {role: token_for(getattr(world, role)) for role in ROLES if role != "anonymous"}
    return estates, tokens


pytestmark = pytest.mark.django_db


def test_no_5xx_and_every_answer_matches_the_schema(callers):
    estates, tokens = callers
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", WSGIHandler())
    operations = [result.ok() for result in schema.get_all_operations()]
    # The schema documents every API route and method (and so every one is tried below).
    documented = [r for r in api_routes() if r[0] != "api:not_found"]
    assert len(operations) == len(documented)
    tried = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
        def send(case):
            for role in ROLES:
                _send_as(role, case, estates, tokens)

        send()
        tried.append(operation.label)
    print(f"API-FUZZ operations={len(tried)} examples_each<={EXAMPLES} roles={len(ROLES)}")


def test_a_reception_sheet_accepted_matches_the_schema(callers, world):
    # Generated files are never a readable sheet: this sends one, so that the 202 answer
    # (the job, its Location header) is checked against the schema too.
    _estates, tokens = callers
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", WSGIHandler())
    operation = schema["/api/v1/reception-sheets/"]["POST"]
    rows = [(world.office.name, "1", "2023-02-07 10:15", "10:25", "窓口 太郎", "完了")]
    for role, expected in (("staff", 202), ("manager", 202), ("contractor", 403)):
        case = operation.Case(
            body={"file": reception_csv(rows), "contractor": world.contractor_co.pk},
            media_type="multipart/form-data",
        )
        headers = {"Authorization": f"Bearer {tokens[role]}"}
        response = case.call(headers=headers)
        assert response.status_code == expected, response.text[:500]
        case.validate_response(response, checks=CHECKS, headers=headers)


def _send_as(role: str, case, estates, tokens) -> None:
    estate = estates[CASE_OF[role]]
    if "ref" in (case.path_parameters or {}):
        case.path_parameters["ref"] = estate.case.reference
    headers = {}
    if role in tokens:
        headers["Authorization"] = f"Bearer {tokens[role]}"
    if case.headers and "If-Match" in case.headers:
        # The case's real ledger head, so that generated bodies reach the service, not only
        # the precondition check (whose answers test_writes.py covers).
        with scopes_disabled():
            headers["If-Match"] = f'"{ledger.ledger_head(estate.case)}"'
    response = case.call(headers=headers)
    assert response.status_code < 500, (role, case.method, case.path, response.text[:500])
    # What the schema promises: no server error, a documented status, content type, headers
    # and body. (Not whether a schema-valid body is accepted: a business rule, such as a
    # party id of another case or a date before the error, is the form's, not the schema's.)
    case.validate_response(response, checks=CHECKS, headers=headers)
