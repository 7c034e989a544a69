"""GET /healthz: whether this server process can reach what it needs.

200 {"database": "ok", "cache": "ok", "jobs": "ok", ...} when everything answers; 503 with
"down" next to what does not. Not behind the log-in (a load balancer calls it), no personal
data, three cheap round trips. "jobs" is down when the task table cannot be read or no job
worker has been heard of within TADASU_JOB_LEASE_SECONDS (jobs would queue up unseen).
"""

import logging

from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.utils.crypto import get_random_string
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

logger = logging.getLogger("tadasu.health")


def _database() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        return cursor.fetchone() == (1,)


def _cache() -> bool:
    value = get_random_string(12)
    cache.set("healthz", value, 30)
    return cache.get("healthz") == value


def _jobs() -> tuple[bool, int]:
    from django_tasks_db.models import DBTaskResult

    from jobs.models import JobWorker
    from jobs.worker import lease

    DBTaskResult.objects.ready().exists()
    workers = JobWorker.objects.filter(seen_at__gte=timezone.now() - lease()).count()
    return workers > 0, workers


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    body: dict = {}
    for name, check in (("database", _database), ("cache", _cache)):
        try:
            body[name] = "ok" if check() else "down"
        except Exception:
            logger.exception("health check failed", extra={"event": "health", "check": name})
            body[name] = "down"
    try:
        up, body["workers"] = _jobs()
        body["jobs"] = "ok" if up else "down"
    except Exception:
        logger.exception("health check failed", extra={"event": "health", "check": "jobs"})
        body["jobs"] = "down"
    healthy = all(body[name] == "ok" for name in ("database", "cache", "jobs"))
    return JsonResponse(body, status=200 if healthy else 503)
