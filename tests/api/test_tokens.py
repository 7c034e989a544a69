"""Personal API tokens: made on a page, shown once, stored hashed, revoked, audited; the
Bearer scheme, HTTPS only in production, a rate limit per token."""

import hashlib

import pytest
from django.urls import reverse
from django_scopes import scopes_disabled

from api.authentication import TokenRateThrottle
from api.models import ApiToken
from api.tokens import token_create, token_revoke
from cases.models import AuditEntry
from tests.factories import CaseFactory

from .conftest import ApiClient, token_for

pytestmark = pytest.mark.django_db


def _audit_actions() -> list[str]:
    with scopes_disabled():
        return list(AuditEntry.objects.order_by("id").values_list("action", flat=True))


def test_a_token_is_shown_once_and_only_its_hash_is_kept(world, client):
    client.force_login(world.staff)
    page = client.post(reverse("api_tokens"), {"name": "受付管理システム連携"})
    assert page.status_code == 200
    row = ApiToken.objects.get(user=world.staff)
    token = page.context["created"]["token"]
    assert token.startswith(f"tds_{row.prefix}_")
    assert token in page.content.decode()
    assert row.key_hash == hashlib.sha256(token.encode()).hexdigest()
    secret = token.rsplit("_", 1)[1]
    assert all(secret not in str(value) for value in ApiToken.objects.values_list().get())
    assert "no-store" in page["Cache-Control"]
    # Listed afterwards by its prefix, never in full.
    listed = client.get(reverse("api_tokens")).content.decode()
    assert row.prefix in listed and token not in listed
    assert _audit_actions()[-1] == "tadasu.api_token.created"


def test_a_token_of_the_page_works_until_it_is_revoked(world, client):
    token = token_for(world.contractor)
    api = ApiClient(token)
    assert api.get("/api/v1/me/").json()["role"] == "contractor"
    row = ApiToken.objects.get(user=world.contractor)
    assert row.last_used_at is not None
    client.force_login(world.contractor)
    answer = client.post(reverse("api_token_revoke", kwargs={"token_id": row.pk}))
    assert answer.status_code == 302
    refused = api.get("/api/v1/me/")
    assert refused.status_code == 401
    assert refused["Content-Type"] == "application/problem+json"
    assert refused["WWW-Authenticate"].startswith("Bearer")
    assert _audit_actions()[-1] == "tadasu.api_token.revoked"


@pytest.mark.parametrize(
    "authorization",
    ["", "Bearer", "Bearer tds_", "Bearer tds_0123456789ab_nope", "Token abc", "Bearer \x00"],
)
def test_no_valid_token_is_a_401_problem(world, authorization):
    token_for(world.staff)
    answer = ApiClient().get("/api/v1/cases/", headers={"Authorization": authorization})
    assert answer.status_code == 401
    body = answer.json()
    assert body["status"] == 401 and body["type"].endswith("/unauthenticated")


def test_a_signed_in_browser_session_does_not_reach_the_api(world, client):
    client.force_login(world.staff)
    assert client.get("/api/v1/me/").status_code == 401


def test_a_manager_makes_a_token_for_a_contractor_account_that_reaches_the_city_only(world):
    # other_co serves both cities; the city's manager's token for it sees the city's cases.
    with scopes_disabled():
        ours = CaseFactory(office=world.office, contractor=world.other_co)
        theirs = CaseFactory(office=world.other_city_office, contractor=world.other_co)
    row, token = token_create(user=world.other_contractor, name="委託先連携", by=world.manager)
    assert row.municipality == world.city
    seen = [c["reference"] for c in ApiClient(token).get("/api/v1/cases/").json()["results"]]
    assert seen == [ours.reference]
    assert ApiClient(token).get(f"/api/v1/cases/{theirs.reference}/").status_code == 404
    # The contractor's own token still sees both cities, as on its pages.
    own = ApiClient(token_for(world.other_contractor)).get("/api/v1/cases/").json()
    assert {c["reference"] for c in own["results"]} == {ours.reference, theirs.reference}
    # Opening a case in the other city is refused through the city's token.
    report = {"office": world.other_city_office.pk, "kind": "other", "discovered_on": "2023-02-07"}
    answer = ApiClient(token).post("/api/v1/cases/", report)
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["field"] == "office"


def test_the_manager_lists_and_revokes_the_service_token_but_not_a_colleagues(world, client):
    service, _token = token_create(user=world.contractor, name="委託先連携", by=world.manager)
    colleague, _token = token_create(user=world.staff, name="個人", by=world.staff)
    client.force_login(world.manager)
    page = client.get(reverse("api_tokens")).content.decode()
    assert service.prefix in page and colleague.prefix not in page
    url = reverse("api_token_revoke", kwargs={"token_id": colleague.pk})
    assert client.post(url).status_code == 404
    url = reverse("api_token_revoke", kwargs={"token_id": service.pk})
    assert client.post(url).status_code == 302
    service.refresh_from_db()
    assert service.revoked_by == world.manager


@pytest.mark.parametrize("maker", ["staff", "auditor", "contractor"])
def test_only_a_manager_makes_tokens_for_someone_else(world, maker):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        token_create(user=world.other_contractor, name="x", by=getattr(world, maker))


def test_a_manager_cannot_make_a_token_for_a_company_that_does_not_serve_the_city(world):
    from django.core.exceptions import PermissionDenied

    from cases.models import Role
    from tests.factories import ContractorFactory, member

    stranger_co = ContractorFactory(name="株式会社よそ", serves=[world.other_city])
    stranger = member(Role.CONTRACTOR, contractor=stranger_co, username="stranger")
    with pytest.raises(PermissionDenied):
        token_create(user=stranger, name="x", by=world.manager)


def test_revoking_twice_records_once(world):
    row, _token = token_create(user=world.staff, name="x", by=world.staff)
    token_revoke(token=row, by=world.staff)
    token_revoke(token=row, by=world.staff)
    assert _audit_actions().count("tadasu.api_token.revoked") == 1


def test_production_refuses_plain_http_instead_of_redirecting(world, settings):
    settings.SECURE_SSL_REDIRECT = True
    api = ApiClient(token_for(world.staff))
    answer = api.get("/api/v1/me/")
    assert answer.status_code == 403
    assert answer.json()["type"].endswith("/https-required")
    assert api.get("/api/v1/me/", secure=True).status_code == 200
    assert ApiClient().get("/cases/").status_code == 301  # the pages still redirect


def test_each_token_has_its_own_rate_limit(world, monkeypatch):
    monkeypatch.setattr(TokenRateThrottle, "THROTTLE_RATES", {"token": "3/minute"})
    first, second = ApiClient(token_for(world.staff)), ApiClient(token_for(world.manager))
    assert [first.get("/api/v1/me/").status_code for _ in range(3)] == [200] * 3
    throttled = first.get("/api/v1/me/")
    assert throttled.status_code == 429
    assert throttled["Content-Type"] == "application/problem+json"
    assert int(throttled["Retry-After"]) > 0
    assert second.get("/api/v1/me/").status_code == 200
    # Guessing tokens is counted too (per address).
    guesses = [ApiClient("tds_0123456789ab_x").get("/api/v1/me/").status_code for _ in range(4)]
    assert guesses[-1] == 429


def test_problems_speak_the_language_asked_for_else_the_users(world):
    api = ApiClient(token_for(world.contractor))
    body = {"office": world.office.pk, "kind": "cashless"}
    ja = api.post("/api/v1/cases/", body).json()
    assert ja["errors"] == [{"field": "discovered_on", "message": "判明日を入力してください。"}]
    en = api.post("/api/v1/cases/", body, headers={"Accept-Language": "en-GB,en;q=0.8"})
    assert en["Content-Language"] == "en"
    assert en.json()["errors"][0]["field"] == "discovered_on"
    assert en.json()["errors"][0]["message"] == "Enter “Discovered on”."
