"""/api/schema/ and /api/docs/: served from this site, inside its Content-Security-Policy."""

import re

import pytest
from django.contrib.staticfiles import finders

pytestmark = pytest.mark.django_db


def test_the_schema_is_openapi_3_with_the_bearer_scheme(client):
    answer = client.get("/api/schema/?format=json")
    assert answer.status_code == 200
    schema = answer.json()
    assert schema["openapi"].startswith("3.")
    assert schema["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert "/api/v1/cases/{ref}/visits/" in schema["paths"]


def test_the_docs_page_needs_no_inline_code_and_nothing_from_elsewhere(client):
    page = client.get("/api/docs/")
    assert page.status_code == 200
    csp = page["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    html = page.content.decode()
    assert "<style" not in html
    assert not re.search(r"<script>(?!</script>)", html)  # every script has a src
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources and all(s.startswith("/") for s in sources), sources
    for source in sources:
        if source.startswith("/static/"):
            assert finders.find(source.removeprefix("/static/")), source
    script = next(s for s in sources if "script" in s and s.startswith("/api/docs/"))
    init = client.get(script)
    assert init.status_code == 200
    assert init["Content-Type"].startswith("application/javascript")
