"""The benchmark's URLs: the project's own, plus the framework floor (bench only)."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.template import engines
from django.urls import include, path

FLOOR = engines["django"].from_string(
    '{% extends "base.html" %}{% block content %}<h1>floor</h1>{% endblock %}'
)


@login_required
def floor(request: HttpRequest) -> HttpResponse:
    """A logged-in page that renders the base template and nothing else: what every page
    costs before it does any work of its own (session, middleware, the template)."""
    return HttpResponse(FLOOR.render({}, request))


urlpatterns = [
    path("bench/floor/", floor, name="bench_floor"),
    path("", include("config.urls")),
]
