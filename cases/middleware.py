import logging
from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.db import OperationalError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone, translation
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django_scopes import scope

from .scoping import membership_of, scope_for

SUPPORTED = {"ja", "en"}
busy_logger = logging.getLogger("tadasu.busy")


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
        if getattr(request, "api_language", None) in SUPPORTED:
            # An API client's Accept-Language (api/middleware.py); browsers' is ignored.
            language = request.api_language
        elif user is not None and user.is_authenticated and user.language in SUPPORTED:
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
        # An API token a city manager made for a contractor's account reaches that city only.
        token = getattr(request, "api_token", None)
        only = token.municipality_id if token is not None else None
        with scope(**scope_for(membership, only_municipality=only)):
            return self.get_response(request)


# --- Session lifetime and no-store (security) ---------------------------------------------
# Why a middleware and not SESSION_COOKIE_AGE + SESSION_SAVE_EVERY_REQUEST: a cookie that
# expires just vanishes, so the next page could not say why the user was signed out, and
# one cookie age cannot express both an idle limit and a cap counted from log-in. Two
# timestamps in the session can, and a test can age them. SESSION_COOKIE_AGE is set to the
# cap only so that the browser and `clearsessions` drop what this would refuse anyway.
SESSION_LOGIN_AT = "tadasu_login_at"
SESSION_SEEN_AT = "tadasu_seen_at"
# Activity is written at most once a minute: a session write per page would cost a query
# on every read. The idle limit is therefore kept to within a minute, never exceeded.
SEEN_RESOLUTION_SECONDS = 60


def start_session_clock(sender, request: HttpRequest, user, **kwargs) -> None:
    """user_logged_in receiver (connected in CasesConfig.ready): both clocks start now."""
    if getattr(request, "session", None) is None:
        return  # a log-in announced without a session has no clock to start
    now = timezone.now().timestamp()
    request.session[SESSION_LOGIN_AT] = now
    request.session[SESSION_SEEN_AT] = now


def session_expiry_reason(session, now: float) -> str | None:
    """Why this signed-in session must end now ("idle", "max_age"), or None."""
    login_at = session.get(SESSION_LOGIN_AT)
    seen_at = session.get(SESSION_SEEN_AT)
    if login_at is None or seen_at is None:
        return None
    if now - login_at > settings.TADASU_SESSION_MAX_AGE.total_seconds():
        return "max_age"
    if now - seen_at > settings.TADASU_SESSION_IDLE_TIMEOUT.total_seconds():
        return "idle"
    return None


class SessionLifetimeMiddleware:
    """Logs out a session idle too long or older than the cap, and says why on log-in."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            now = timezone.now().timestamp()
            reason = session_expiry_reason(request.session, now)
            if reason is not None:
                logout(request)  # flushes the session: nothing of it survives
                messages.info(request, _expiry_message(reason))
                return redirect_to_login(request.get_full_path())
            if SESSION_LOGIN_AT not in request.session:
                # Signed in before this middleware existed: the clocks start now.
                request.session[SESSION_LOGIN_AT] = now
            if now - request.session.get(SESSION_SEEN_AT, 0) >= SEEN_RESOLUTION_SECONDS:
                request.session[SESSION_SEEN_AT] = now
        return self.get_response(request)


def _expiry_message(reason: str) -> str:
    if reason == "max_age":
        return _(
            "You have been logged out because you had been logged in for a long time. "
            "Please log in again."
        )
    return _("You have been logged out because there was no activity for a while.")


# Downloads that carry personal data, whoever asks for them.
NO_STORE_TYPES = {"application/pdf", "text/csv"}


class NoStoreMiddleware:
    """Nothing a signed-in user is shown, and no PDF or CSV, is kept by a browser or proxy.

    So Back after log-out, or the next person at a shared desk PC, finds nothing to show.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        content_type = response.get("Content-Type", "").partition(";")[0].strip().lower()
        if (user is not None and user.is_authenticated) or content_type in NO_STORE_TYPES:
            add_never_cache_headers(response)  # no-store, no-cache, private, max-age=0
        return response


# --- end of session lifetime and no-store -------------------------------------------------


# --- A write that waited too long for a lock -------------------------------------------
# While a case file is imported into a municipality, or letters are issued in bulk, some of
# that municipality's rows (its audit chain's head, its case numbers, its money rows) are
# held until the job commits. A clerk's write that needs one of them waits. On PostgreSQL the
# web server's connections give up after TADASU_DB_LOCK_TIMEOUT seconds (lock_timeout, set by
# config/gunicorn.conf.py for the web processes only; job workers wait as long as it takes),
# SQLite after its busy timeout. Either way the service's transaction has rolled back:
# nothing of the write was saved. Without this the clerk would see a server error, or the
# request would hold a web thread until gunicorn kills it.
BUSY_RETRY_AFTER_SECONDS = 30
_POSTGRES_LOCK_NOT_AVAILABLE = "55P03"


def is_lock_wait_timeout(exception: BaseException) -> bool:
    """Whether a database error says the statement gave up waiting for another
    transaction's lock (and nothing else: a broken connection is a real error)."""
    if not isinstance(exception, OperationalError):
        return False
    cause = exception.__cause__
    if getattr(cause, "sqlstate", None) == _POSTGRES_LOCK_NOT_AVAILABLE:
        return True
    return "database is locked" in str(exception)


class BusyDatabaseMiddleware:
    """Answers a write that gave up waiting for a lock with 503 and a page that says what
    happened (nothing was saved) and what to do (send it again a little later)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception):
        if not is_lock_wait_timeout(exception):
            return None
        busy_logger.warning(
            "database busy: the request gave up waiting for a lock",
            extra={"path": request.path, "method": request.method},
        )
        response = render(request, "busy.html", status=503)
        response["Retry-After"] = str(BUSY_RETRY_AFTER_SECONDS)
        return response
