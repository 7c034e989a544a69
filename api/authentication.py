"""DRF's side of the Bearer token: the token was read by api.middleware.ApiTokenMiddleware
(before the tenant scope was opened); this hands its result to DRF."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions, permissions
from rest_framework.authentication import BaseAuthentication
from rest_framework.throttling import SimpleRateThrottle


class BearerTokenAuthentication(BaseAuthentication):
    def authenticate(self, request):
        django_request = request._request
        token = getattr(django_request, "api_token", None)
        if token is not None:
            return (token.user, token)
        if getattr(django_request, "api_token_refused", False):
            raise exceptions.AuthenticationFailed(_("The token is not valid, or it was revoked."))
        return None

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="tadasu"'


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = BearerTokenAuthentication
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A personal API token (tds_…), made on the API tokens page.",
        }


class IsMember(permissions.BasePermission):
    """Signed in with a token, as a user acting for an organisation (as member_required)."""

    message = _("Your account is not attached to any organisation.")

    def has_permission(self, request, view) -> bool:
        if request.auth is None:
            raise exceptions.NotAuthenticated(_("Send a valid API token as a Bearer token."))
        return getattr(request._request, "membership", None) is not None


class TokenRateThrottle(SimpleRateThrottle):
    """Requests per token, counted in Django's cache: with REDIS_URL every process of every
    server shares one count. Calls without a valid token are counted per client address,
    which also slows anyone guessing tokens."""

    scope = "token"

    def get_cache_key(self, request, view) -> str:
        # Read from the middleware's result, not request.auth: throttling runs before DRF
        # authenticates (api/views_base.py), so that refused tokens are counted too.
        token = getattr(request._request, "api_token", None)
        if token is not None:
            return self.cache_format % {"scope": self.scope, "ident": f"t{token.pk}"}
        return self.cache_format % {"scope": "anon", "ident": self.get_ident(request)}
