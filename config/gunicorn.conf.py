"""gunicorn's settings for `make serve` (tools/serve.py); the command line overrides them.

Workers: WEB_CONCURRENCY (gunicorn's own variable; default 4, about two per core), each with
TADASU_WEB_THREADS threads (default 4). Each thread has its own database connection
(CONN_MAX_AGE 60 s); all share the Redis cache.
"""

import os

bind = os.environ.get("TADASU_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "4"))
# Threads in each worker: a request waiting on a lock (a write in a city whose case file is
# being imported waits for the import's commit) holds one thread, not a whole process, so the
# other cities' requests are still served. Django gives each thread its own database
# connection (up to workers x threads connections); the tenant scope is a context variable.
worker_class = "gthread"
threads = int(os.environ.get("TADASU_WEB_THREADS", "4"))
# A request longer than this is stopped and logged: imports and letters run as jobs, so no
# page should need more.
timeout = int(os.environ.get("TADASU_REQUEST_TIMEOUT", "60"))
# A web request waits at most this long for another transaction's lock (PostgreSQL's
# lock_timeout, config/settings.py), well inside the timeout above: a write that meets an
# import holding its city's rows is answered "busy, nothing saved, send it again"
# (cases.middleware.BusyDatabaseMiddleware) instead of being killed as a server error. Set
# here, in gunicorn's environment, so the job workers (tools/serve.py) keep waiting.
os.environ.setdefault("TADASU_DB_LOCK_TIMEOUT", "15")
graceful_timeout = 30
# gunicorn 24+ opens a control socket in the user's home by default: one path for every
# gunicorn of the user, which two stacks (or tests) on one machine would fight over.
control_socket_disable = True
# No access log: config/logs.py writes one JSON line per request, without the query string
# (gunicorn's access log would print it, and a search there may be a person's name).
accesslog = None
# gunicorn's own messages (start, stop, a worker killed) as JSON lines too.
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "config.logs.JsonFormatter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "stream": "ext://sys.stderr",
        }
    },
    "loggers": {
        "gunicorn.error": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "gunicorn.access": {"handlers": [], "level": "CRITICAL", "propagate": False},
    },
}


def post_worker_init(worker):
    """Before a new worker takes its first request: import the views, compile the templates
    and the national calendar (config/warmup.py), which its first requests would otherwise
    pay for, all workers at once after a start or a restart."""
    from config.warmup import warm_up

    try:
        warm_up()
    except Exception:  # a warm-up that fails leaves the worker as it was: lazy, not broken
        worker.log.exception("warm-up failed; the worker serves without it")
