from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django_scopes import scope

from .scoping import membership_of, scope_for

SUPPORTED = {"ja", "en"}


class UserLanguageMiddleware:
    """Japanese first: the signed-in user's saved language, else the cookie, else ja.

    Deliberately ignores the browser's Accept-Language: a city office's PCs often run an
    English OS, and the UI must still come up in Japanese unless the user chose otherwise.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        language = "ja"
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.language in SUPPORTED:
            language = user.language
        elif request.COOKIES.get("django_language") in SUPPORTED:
            language = request.COOKIES["django_language"]
        translation.activate(language)
        request.LANGUAGE_CODE = language
        response = self.get_response(request)
        response.headers.setdefault("Content-Language", language)
        translation.deactivate()
        return response


class TenantScopeMiddleware:
    """Runs the whole request, template rendering included, inside the user's scope."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        membership = membership_of(getattr(request, "user", None))
        request.membership = membership
        if membership is None:
            # No scope: any case query in this request raises ScopeError.
            return self.get_response(request)
        with scope(**scope_for(membership)):
            return self.get_response(request)
