"""Bearer tokens for /api/v1/, read before the language and the tenant scope are chosen.

Placed straight after Django's AuthenticationMiddleware, so that everything after it, the
user's language (cases.middleware.UserLanguageMiddleware) and the one tenant scope
(cases.middleware.TenantScopeMiddleware) included, treats a token's holder exactly as the
same person signed in to the pages.

The API is token-only: a session cookie is ignored under /api/v1/, so no page can be made to
send a request that writes on a signed-in user's behalf (no CSRF surface). The token is
never logged; config.logs logs the path without its query string, and the request log's
user id is the holder's.
"""

from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse
from django.utils.translation.trans_real import parse_accept_lang_header

from .tokens import token_authenticate

API_PREFIX = "/api/v1/"
SUPPORTED = ("ja", "en")


def api_language(request: HttpRequest) -> str | None:
    """The first of ja/en that the client's Accept-Language names, if any."""
    header = request.headers.get("Accept-Language", "")
    if len(header) > 500:  # a header that long is not a list of languages
        return None
    for code, _quality in parse_accept_lang_header(header):
        base = code.split("-")[0].lower()
        if base in SUPPORTED:
            return base
    return None


class ApiTokenMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(API_PREFIX):
            return self.get_response(request)
        if settings.SECURE_SSL_REDIRECT and not request.is_secure():
            # Production answers plain HTTP with a refusal, not the pages' redirect: a
            # client that follows a redirect would send its token in clear once more.
            from .problems import https_required

            return https_required(request)
        request.user = AnonymousUser()
        request.api_token = None
        request.api_token_refused = False
        scheme, _sep, credentials = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer":
            token = token_authenticate(credentials.strip())
            if token is None:
                request.api_token_refused = True
            else:
                request.user = token.user
                request.api_token = token
        # Accept-Language first (a system says what it reads), else the holder's own setting;
        # UserLanguageMiddleware, which runs next, applies it.
        request.api_language = api_language(request)
        response = self.get_response(request)
        response.headers.setdefault("Cache-Control", "no-store")
        return response
