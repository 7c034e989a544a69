"""An API client per persona: a personal token made through the service, sent as Bearer."""

import pytest
from django.test import Client

from api.tokens import token_create


class ApiClient(Client):
    """The test client speaking JSON with a Bearer token."""

    def __init__(self, token: str | None = None, **kwargs):
        super().__init__(**kwargs)
        self.token = token

    def _headers(self, headers: dict | None) -> dict:
        headers = dict(headers or {})
        if self.token:
            headers.setdefault("Authorization", f"Bearer {self.token}")
        return headers

    def get(self, path, data=None, headers=None, **extra):
        return super().get(path, data, headers=self._headers(headers), **extra)

    def post(self, path, data=None, headers=None, **extra):
        return super().post(
            path,
            data or {},
            content_type="application/json",
            headers=self._headers(headers),
            **extra,
        )


def token_for(user, name: str = "テスト連携") -> str:
    return token_create(user=user, name=name, by=user)[1]


@pytest.fixture
def api(world):
    """api("contractor") → a client holding a fresh token of that persona."""

    def make(persona: str | None = None) -> ApiClient:
        if persona is None:
            return ApiClient()
        return ApiClient(token_for(getattr(world, persona)))

    return make
