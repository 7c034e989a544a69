"""Logs as JSON lines, without personal data.

Each line is one JSON object (python-json-logger's formatter: a maintained library that
escapes every value correctly and carries `extra=` fields as keys, which a home-made
`json.dumps` of a few attributes would have to relearn). What a line may hold is decided
here and in the callers, never by the formatter:

- requests (RequestLogMiddleware): request id, user id and municipality id (numbers, never
  a name), method, path WITHOUT the query string (a search there may be a person's name),
  status, duration. Never the body, a header, a cookie or a token.
- jobs (jobs/worker.py): job id, kind, municipality id, state, counts, duration.
- errors: the exception's class and its stack frames (file, line, function), but not the
  exception's message, which may quote a value (a database error names the row it refused).
"""

import logging
import re
import time
import traceback
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter as _LibraryJsonFormatter

logger = logging.getLogger("tadasu.request")

# A request id from the proxy in front is kept when it is plainly an id (so a line here can
# be matched with the proxy's); anything else is replaced by one made here.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")


class JsonFormatter(_LibraryJsonFormatter):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("timestamp", "time")
        kwargs.setdefault("rename_fields", {"levelname": "level", "name": "logger"})
        kwargs.setdefault("fmt", "%(levelname)s %(name)s %(message)s")
        # `request`: Django attaches the request object to its own error records; its text
        # form carries the full URL with the query string.
        kwargs.setdefault("reserved_attrs", [*RESERVED_ATTRS, "request", "taskName"])
        super().__init__(*args, **kwargs)

    def formatException(self, ei) -> str:
        kind, _value, tb = ei
        frames = "".join(traceback.format_list(traceback.extract_tb(tb)))
        name = f"{kind.__module__}.{kind.__qualname__}" if kind else "?"
        return f"{frames}{name} (message withheld: it may quote personal data)"


class PrivacyFilter(logging.Filter):
    """Drops what Django's own records would leak: the request object of django.request
    records, and the query string of the development server's request lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        if hasattr(record, "request"):
            del record.request
        if record.name == "django.server" and record.args:
            line, *rest = record.args
            if isinstance(line, str) and "?" in line:
                method_path, _, protocol = line.rpartition(" ")
                line = f"{method_path.split('?', 1)[0]} {protocol}"
            record.args = (line, *rest)
        return True


def request_id_of(request: HttpRequest) -> str:
    given = request.headers.get("X-Request-ID", "")
    return given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex


class RequestLogMiddleware:
    """One line per request, written when the response is ready."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.monotonic()
        request.request_id = request_id_of(request)
        response = self.get_response(request)
        user = getattr(request, "user", None)
        membership = getattr(request, "membership", None)
        if membership is not None:  # still the actor's after a log-out
            user_id = membership.user_id
        else:
            user_id = user.pk if user is not None and user.is_authenticated else None
        logger.info(
            "request",
            extra={
                "event": "request",
                "request_id": request.request_id,
                "user_id": user_id,
                "municipality_id": getattr(membership, "municipality_id", None),
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": round((time.monotonic() - started) * 1000, 1),
            },
        )
        response.headers["X-Request-ID"] = request.request_id
        return response
