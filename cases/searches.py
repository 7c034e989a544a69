"""Searches kept out of URLs: a name typed into a search is a citizen's name, and a URL ends
up in access logs, browser history and Referer headers.

A search form posts; the words are kept in the user's session under a short random token,
and the page it redirects to carries only the token (`?s=…`). Pagination, filters and export
links carry the token as they carried the words. A token means nothing outside the session
that made it, and a session keeps only its newest searches.
"""

import secrets

from django.http import HttpRequest

from .search import MAX_QUERY

SESSION_KEY = "tadasu.searches"
KEEP = 20  # searches per session


def stash(request: HttpRequest, words: str) -> str:
    """The token for these words in this session (the same words, the same token)."""
    words = words[: MAX_QUERY + 1]  # enough for the form to say it is too long
    searches: dict[str, str] = dict(request.session.get(SESSION_KEY, {}))
    for token, kept in searches.items():
        if kept == words:
            return token
    token = secrets.token_urlsafe(9)
    searches[token] = words
    while len(searches) > KEEP:
        searches.pop(next(iter(searches)))
    request.session[SESSION_KEY] = searches
    return token


def recall(request: HttpRequest, token: str | None) -> str | None:
    """The words a token stands for, or None for a token this session never made."""
    if not token:
        return None
    return request.session.get(SESSION_KEY, {}).get(token)


def resolved(request: HttpRequest) -> str:
    """Every token in the query string with its words, for a cache key: a page cached for
    a token is keyed by what the token stands for, not by the token alone."""
    searches = request.session.get(SESSION_KEY, {}) if hasattr(request, "session") else {}
    found = sorted(
        f"{name}={searches[value]}"
        for name, values in request.GET.lists()
        for value in values
        if value in searches
    )
    return "\x1e".join(found)
