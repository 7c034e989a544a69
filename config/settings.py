"""Tadasu settings: one module, driven by environment variables.

The variables in README's configuration table are read here; everything else is fixed.
Without DATABASE_URL the embedded SQLite file under var/ is used.
"""

import contextlib
import json
import os
import secrets
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
# An empty TADASU_VAR_DIR counts as unset: Path("") would put the keys and the database in
# the current folder, next to the code.
VAR_DIR = Path(os.environ.get("TADASU_VAR_DIR") or BASE_DIR / "var")


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if not value:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def env_int(name: str, default: int, *, minimum: int = 1) -> int:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}.") from None
    if number < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}.")
    return number


def env_json(name: str, default: dict) -> dict:
    value = os.environ.get(name)
    if not value:
        return default
    try:
        parsed = json.loads(value)
    except ValueError as error:
        raise ImproperlyConfigured(f"{name} must be a JSON object: {error}") from None
    if not isinstance(parsed, dict):
        raise ImproperlyConfigured(f"{name} must be a JSON object.")
    return parsed


def _development_file(name: str, make: Callable[[], bytes]) -> Path:
    # Generated once per checkout, outside git, readable by its owner only.
    path = VAR_DIR / name
    if not path.exists():
        VAR_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(make())
    return path


def _private_dir(path: Path) -> None:
    """Create a folder only the application's user may enter (var/: the SQLite database,
    generated keys, attachments). An existing folder is left as its owner set it."""
    if not path.exists():
        path.mkdir(parents=True, exist_ok=True)
        path.chmod(0o700)  # mkdir's mode is filtered by the umask; chmod is not


def _private_file(path: Path) -> None:
    """Create an empty `path` owner-only (0600) from the start, in an owner-only folder."""
    _private_dir(path.parent)
    # FileExistsError: another process started at the same moment and made it.
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _development_secret() -> str:
    # A per-checkout secret, generated once and kept outside git (var/ is ignored), so that
    # a development server never runs on a key published in the repository.
    path = _development_file("secret_key", lambda: secrets.token_urlsafe(50).encode())
    return path.read_text().strip()


DEBUG = env_bool("DJANGO_DEBUG", default=False)


def _development_field_key() -> list[str]:
    # Like the development secret: generated once per checkout, outside git.
    from cryptography.fernet import Fernet

    return [_development_file("field_key", Fernet.generate_key).read_text().strip()]


# Keys that encrypt personal data at rest (cases/crypto.py): separate from SECRET_KEY.
FIELD_ENCRYPTION_KEYS = env_list("TADASU_FIELD_KEYS", [])
if not FIELD_ENCRYPTION_KEYS and DEBUG:
    FIELD_ENCRYPTION_KEYS = _development_field_key()


def _new_checkpoint_key() -> bytes:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


# --- The audit trail (cases/audit.py, cases/audit_verify.py, docs/SECURITY.md) -----------
# Each entry carries an HMAC keyed by TADASU_AUDIT_KEYS (comma-separated, base64 of 32 or
# more random bytes): the first key signs new entries, every key verifies, so keys rotate
# like the field keys. The database never holds them: whoever can write to the database
# alone cannot forge or re-chain an entry.
AUDIT_KEYS = env_list("TADASU_AUDIT_KEYS", [])
if not AUDIT_KEYS and DEBUG:
    AUDIT_KEYS = [
        _development_file("audit_key", lambda: secrets.token_urlsafe(32).encode())
        .read_text()
        .strip()
    ]
# `manage.py audit_checkpoint` signs each chain's head with an Ed25519 private key (a PEM
# file, TADASU_AUDIT_CHECKPOINT_KEY; needed only where checkpoints are written) and writes
# the checkpoint outside the database: to the "audit_checkpoints" storage below (a folder by
# default; any Django storage, e.g. a bucket with object lock). `verify_audit` accepts
# checkpoints signed by TADASU_AUDIT_CHECKPOINT_PUBLIC_KEYS (base64 of the raw public keys;
# derived from the private key when only that is set).
AUDIT_CHECKPOINT_KEY = env_str("TADASU_AUDIT_CHECKPOINT_KEY")
if not AUDIT_CHECKPOINT_KEY and DEBUG:
    AUDIT_CHECKPOINT_KEY = str(_development_file("audit_checkpoint_key.pem", _new_checkpoint_key))
AUDIT_CHECKPOINT_PUBLIC_KEYS = env_list("TADASU_AUDIT_CHECKPOINT_PUBLIC_KEYS", [])
AUDIT_CHECKPOINT_DIR = Path(
    env_str("TADASU_AUDIT_CHECKPOINT_DIR", str(VAR_DIR / "audit-checkpoints"))
)

SECRET_KEY = env_str("DJANGO_SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off "
            "(set DJANGO_DEBUG=1 for a development server with a generated key)."
        )
    SECRET_KEY = _development_secret()

ALLOWED_HOSTS = env_list(
    "DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else []
)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_fsm",
    "django_filters",
    "axes",  # failed log-in lockout (security block below)
    "csp",  # Content-Security-Policy (security block below)
    "django_tasks",  # background jobs (jobs/, block "Background jobs" below)
    "django_tasks_db",
    # The JSON API (api/, docs/API.md): Django REST framework, its OpenAPI schema, and
    # Swagger UI's files served from this site (no CDN).
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "cases",
    "remedies",
    "receptions",
    "overview",
    "jobs",
    "api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Static files straight after the security headers, before sessions and the database:
    # without it DJANGO_DEBUG=0 would serve no CSS at all (no web server is required in
    # front). It answers only under STATIC_URL and never logs the request.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # One JSON line per request (config/logs.py): request id, user and municipality ids,
    # path without its query string, status, duration.
    "config.logs.RequestLogMiddleware",
    # First of ours: every audit entry of the request records the client address.
    "cases.audit.AuditRequestMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Bearer tokens under /api/v1/ (api/middleware.py): the holder becomes request.user
    # before the language and the tenant scope below are chosen, as for a signed-in page.
    "api.middleware.ApiTokenMiddleware",
    "cases.middleware.NoStoreMiddleware",
    "cases.middleware.UserLanguageMiddleware",
    "cases.middleware.TenantScopeMiddleware",
    # A write that gave up waiting for a lock (an import holding its city's rows): 503 and
    # a page saying nothing was saved, instead of a server error.
    "cases.middleware.BusyDatabaseMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # After messages: an expired session is told why on the log-in page.
    "cases.middleware.SessionLifetimeMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes requires: turns a locked-out log-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "cases.context_processors.membership",
            ],
            "string_if_invalid": "",
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'tadasu.sqlite3'}"),
        conn_max_age=60,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            # Writers wait for each other (up to 20 s) instead of failing with "database is
            # locked". IMMEDIATE takes the write lock when the transaction begins: a deferred
            # one reads first, and when it then wants to write while another writer holds
            # the lock, SQLite cannot wait (that would be a deadlock) and fails at once. So
            # a service's transaction waits at its start, then reads what the winner wrote
            # and refuses a stale form with the same 409 as on PostgreSQL, where the row
            # lock (select_for_update) serialises the same way.
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            # Readers never wait for the writer, nor the writer for readers (write-ahead log).
            "init_command": "PRAGMA journal_mode=WAL;",
        }
    )
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # SQLite creates its file as the umask allows (usually 0644, readable by every local
    # user); created here first, owner-only. Its -wal and -shm files take the same mode.
    _database_file = Path(DATABASES["default"]["NAME"])
    if str(_database_file) != ":memory:" and not _database_file.exists():
        _private_file(_database_file)

# How long a statement may wait for another transaction's row lock, in seconds (PostgreSQL's
# lock_timeout; unset: as long as it takes). config/gunicorn.conf.py sets it for the web
# processes only, so a clerk's write that meets an import holding its city's rows gives up
# with a clear page (cases.middleware.BusyDatabaseMiddleware) instead of holding a web thread
# until gunicorn's timeout; job workers and commands keep waiting.
DB_LOCK_TIMEOUT = env_int("TADASU_DB_LOCK_TIMEOUT", 0, minimum=0)
if DB_LOCK_TIMEOUT and DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    _options = DATABASES["default"].setdefault("OPTIONS", {})
    _options["options"] = (
        f"{_options.get('options', '')} -c lock_timeout={DB_LOCK_TIMEOUT * 1000}".strip()
    )

# PostgreSQL's parallel workers per query (max_parallel_workers_per_gather) for Tadasu's
# connections: 0 by default. Its pages are many short queries from many requests at once;
# a parallel worker is a process started for one query (about 2 ms) that takes a core from
# another request: the work queues' count of agency requests took 8.7 ms with one worker
# at 100,000 cases and its page was 20 % faster without (docs/PERFORMANCE.md, "make bench
# whole, 4 December").
DB_PARALLEL_WORKERS = env_int("TADASU_DB_PARALLEL_WORKERS", 0, minimum=0)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    _options = DATABASES["default"].setdefault("OPTIONS", {})
    _options["options"] = (
        f"{_options.get('options', '')} -c max_parallel_workers_per_gather={DB_PARALLEL_WORKERS}"
    ).strip()

# How much a job worker (`manage.py run_jobs`) lowers its own scheduling priority (nice):
# on a machine that runs the web server too, pages get the processor first.
JOB_NICE = env_int("TADASU_JOB_NICE", 10, minimum=0)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "cases.User"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Japanese first; English selectable per user (User.language) and remembered.
LANGUAGE_CODE = "ja"
LANGUAGES = [("ja", "日本語"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Tokyo"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "static"

# --- Storages: files, and where audit checkpoints are written ----------------------------
# Documents (issued PDFs), attachments (scans) and uploaded reception sheets each have an
# alias, encrypted by cases/storage.py whatever the backend. By default each is a folder under
# TADASU_FILES_DIR (owner-only). On several machines, point them at shared object storage:
#   TADASU_FILES_BACKEND=cases.storage_s3.EncryptedS3Storage
#   TADASU_FILES_OPTIONS='{"bucket_name": "tadasu-files", "endpoint_url": "https://…"}'
# (django-storages' S3Storage options; credentials from its AWS_* variables). Each alias then
# keeps its files under its own prefix ("location") of the bucket.
FILES_DIR = Path(env_str("TADASU_FILES_DIR", str(VAR_DIR)))
TADASU_FILES_BACKEND = env_str("TADASU_FILES_BACKEND", "cases.storage.EncryptedFileSystemStorage")
TADASU_FILES_OPTIONS = env_json("TADASU_FILES_OPTIONS", {})
# An installation from before the aliases kept attachments at TADASU_ATTACHMENT_DIR.
TADASU_ATTACHMENT_DIR = Path(env_str("TADASU_ATTACHMENT_DIR", str(FILES_DIR / "attachments")))


def _files(alias: str, folder: Path) -> dict:
    if TADASU_FILES_BACKEND == "cases.storage.EncryptedFileSystemStorage":
        return {"BACKEND": TADASU_FILES_BACKEND, "OPTIONS": {"location": str(folder)}}
    return {"BACKEND": TADASU_FILES_BACKEND, "OPTIONS": {**TADASU_FILES_OPTIONS, "location": alias}}


# A checkpoint is never overwritten (cases/audit_verify.py); in production point
# TADASU_AUDIT_CHECKPOINT_STORAGE at a storage class the database's administrators cannot
# write to, e.g. django-storages' S3 storage on a bucket with object lock.
# Static files: with DJANGO_DEBUG=0 `collectstatic` writes them to STATIC_ROOT with a hash in
# each name and a compressed copy, and WhiteNoise serves them with a far-future cache
# header. TADASU_STATIC_MANIFEST=0 keeps plain names (the test suite, which renders pages
# without running collectstatic first).
STATIC_MANIFEST = env_bool("TADASU_STATIC_MANIFEST", default=not DEBUG)
# Without the manifest, WhiteNoise serves the files where they lie (static/), unhashed.
WHITENOISE_USE_FINDERS = not STATIC_MANIFEST
if WHITENOISE_USE_FINDERS:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns when it is missing
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if STATIC_MANIFEST
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
    "documents": _files("documents", FILES_DIR / "documents"),
    "attachments": _files("attachments", TADASU_ATTACHMENT_DIR),
    "uploads": _files("uploads", FILES_DIR / "uploads"),
    # Files waiting for their background job (a case file to import): encrypted and
    # owner-only like every other file that holds people's details. Workers on other machines
    # need it shared: TADASU_JOB_INPUT_STORAGE names another storage class (keep it an
    # encrypting one, e.g. cases.storage_s3.EncryptedS3Storage).
    "job_inputs": {
        "BACKEND": env_str("TADASU_JOB_INPUT_STORAGE"),
        "OPTIONS": TADASU_FILES_OPTIONS,
    }
    if env_str("TADASU_JOB_INPUT_STORAGE")
    else _files("job_inputs", VAR_DIR / "job-inputs"),
    "audit_checkpoints": {
        "BACKEND": env_str(
            "TADASU_AUDIT_CHECKPOINT_STORAGE", "django.core.files.storage.FileSystemStorage"
        ),
        "OPTIONS": {}
        if env_str("TADASU_AUDIT_CHECKPOINT_STORAGE")
        else {
            "location": str(AUDIT_CHECKPOINT_DIR),
            "file_permissions_mode": 0o600,
            "directory_permissions_mode": 0o700,
        },
    },
}

# --- Cache: rendered pages and figures (cases/pagecache.py, overview/views.py) ----------
# Entries are keyed by the municipality's newest audit entry, so a cache never serves a page
# older than the last change, whichever process wrote it; a per-process cache is correct,
# a shared one just hits more often. REDIS_URL (redis://host:6379/0) puts every process of
# every server on one Redis through Django's own RedisCache; without it each process keeps
# its own (local memory). DJANGO_CACHE_BACKEND/DJANGO_CACHE_LOCATION override both.
REDIS_URL = env_str("REDIS_URL")
CACHES = {
    "default": {
        "BACKEND": env_str(
            "DJANGO_CACHE_BACKEND",
            "django.core.cache.backends.redis.RedisCache"
            if REDIS_URL
            else "django.core.cache.backends.locmem.LocMemCache",
        ),
        "LOCATION": env_str("DJANGO_CACHE_LOCATION", REDIS_URL or "tadasu"),
        "KEY_PREFIX": env_str("TADASU_CACHE_PREFIX", "tadasu"),
    }
}
if CACHES["default"]["BACKEND"].endswith("RedisCache"):
    # A page cache that cannot reach Redis should fail fast, not hold a request for long.
    CACHES["default"]["OPTIONS"] = {"socket_connect_timeout": 2, "socket_timeout": 2}

# --- Background jobs (jobs/, README "Production") ----------------------------------------
# Django's Tasks interface (the django-tasks backport) with its database backend: a job's
# task is a row in this database, written in the transaction of the request that asks for
# it, and `manage.py run_jobs` workers, on this machine or others, take the rows.
# TADASU_JOBS_IN_PROCESS=1 (`make run`) runs a worker thread inside the web process instead,
# so that the development server needs no other process.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
TADASU_JOBS_IN_PROCESS = env_bool("TADASU_JOBS_IN_PROCESS")
# A worker that has not been heard of for this long is taken for dead: its running task goes
# back to the queue and another worker runs it again (jobs/worker.py).
TADASU_JOB_LEASE_SECONDS = env_int("TADASU_JOB_LEASE_SECONDS", 120, minimum=10)

# --- Email: deadline reminders (overview/management/commands/send_reminders.py) ---------
# The console backend prints mail in development; production sets DJANGO_EMAIL_BACKEND to
# django.core.mail.backends.smtp.EmailBackend with EMAIL_HOST and friends.
EMAIL_BACKEND = env_str("DJANGO_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS")
DEFAULT_FROM_EMAIL = env_str("DJANGO_DEFAULT_FROM_EMAIL", "tadasu@localhost")
# Links in mail need the address users reach Tadasu at; no request exists to derive it.
TADASU_SITE_URL = env_str("TADASU_SITE_URL", "http://127.0.0.1:8000").rstrip("/")

# --- Attachments (cases/attachments/) ----------------------------------------------------
# Scans kept with a case (signed receipts, agencies' answers) hold personal data: their bytes
# live in the "attachments" storage above, under random names, and leave only through the
# access-checked download view. TADASU_ATTACHMENT_MAX_MB bounds one file.
TADASU_ATTACHMENT_MAX_MB = env_int("TADASU_ATTACHMENT_MAX_MB", 10)
# Every uploaded file Django writes (the attachment storage sets the same itself): owner-only.
FILE_UPLOAD_PERMISSIONS = 0o600
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o700
# --- end attachments ------------------------------------------------------------------------

# --- Reception sheets (receptions/) ---------------------------------------------------------
# The largest sheet accepted, and how long an uploaded sheet waits for its confirmation.
TADASU_RECEPTION_MAX_MB = env_int("TADASU_RECEPTION_MAX_MB", 30)
# Receptions in one sheet (receptions/sheets.py also bounds columns, cells and how far an
# .xlsx may expand): the import is measured at 100,000 rows (docs/PERFORMANCE.md).
TADASU_RECEPTION_MAX_ROWS = env_int("TADASU_RECEPTION_MAX_ROWS", 100_000)
TADASU_RECEPTION_UPLOAD_MINUTES = env_int("TADASU_RECEPTION_UPLOAD_MINUTES", 60)
# --- end reception sheets ------------------------------------------------------------------

# The largest case file import_cases reads (remedies/interchange/stream.py bounds the rest:
# nesting, strings, arrays, values per case).
TADASU_IMPORT_MAX_MB = env_int("TADASU_IMPORT_MAX_MB", 1024)

# --- Security: sessions, failed log-ins, HTTPS, headers ---------------------------------
# Sessions end after TADASU_SESSION_IDLE_MINUTES without a request and, whatever the
# activity, TADASU_SESSION_MAX_HOURS after log-in (cases.middleware.SessionLifetimeMiddleware
# says why it is a middleware). The cookie lives no longer than the cap, and ends with the
# browser: a desk PC shared by several people is exactly where the original errors began.
TADASU_SESSION_IDLE_TIMEOUT = timedelta(minutes=env_int("TADASU_SESSION_IDLE_MINUTES", 15))
TADASU_SESSION_MAX_AGE = timedelta(hours=env_int("TADASU_SESSION_MAX_HOURS", 10))
SESSION_COOKIE_AGE = int(TADASU_SESSION_MAX_AGE.total_seconds())
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG

# django-axes: 5 wrong passwords for one user name from one address lock that pair for 15
# minutes. Never by address alone: a whole ward office leaves through one NAT address.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked-out pair
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True  # five failures in a row, not five in a day
AXES_LOCKOUT_CALLABLE = "cases.lockout.lockout_response"  # Japanese page, HTTP 429
AXES_USERNAME_CALLABLE = "cases.lockout.username_of"  # bounded: axes' column is 255 long
AXES_VERBOSE = False  # no banner on every manage.py command

# Behind a reverse proxy that terminates TLS (DJANGO_SECURE_PROXY_SSL_HEADER=1): trust its
# X-Forwarded-Proto, and take the client address it appends to X-Forwarded-For.
BEHIND_PROXY = env_bool("DJANGO_SECURE_PROXY_SSL_HEADER")
if BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    AXES_CLIENT_IP_CALLABLE = "cases.lockout.client_ip_behind_proxy"

if not DEBUG:
    # Off only where the proxy itself redirects http to https (and for the test client).
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
    # A load balancer asks for the health of each server over plain HTTP.
    # The API refuses plain HTTP instead (api/middleware.py): a redirected client would
    # send its token in clear a second time.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^api/v1/"]
    SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 365 * 24 * 3600, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
# security.W021 asks for SECURE_HSTS_PRELOAD. The preload list takes registrable domains
# (the city's whole example.jp), not this application's host: that is the domain owner's
# decision, so Tadasu does not send "preload" and says so here.
SILENCED_SYSTEM_CHECKS = ["security.W021"]

SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"  # case references in URLs stay on this site
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# django-csp 4: only this site's own files; no inline script or style (the templates have
# none: keep it so, and put styles in static/css/tadasu.css).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
# --- end of security block ---------------------------------------------------------------

# --- The JSON API (api/, docs/API.md) ----------------------------------------------------
# Token-only (no session, so no CSRF surface); errors as RFC 9457 problem details; a rate
# limit per token counted in the cache above (shared through Redis when REDIS_URL is set).
TADASU_API_RATE = env_str("TADASU_API_RATE", "120/minute")
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["api.authentication.BearerTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["api.authentication.IsMember"],
    "DEFAULT_THROTTLE_CLASSES": ["api.authentication.TokenRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"token": TADASU_API_RATE},
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "api.problems.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Tadasu API",
    "DESCRIPTION": "Cases, 経過, visits and more for contractor and city systems "
    "(docs/API.md). Authenticate with a personal token: Authorization: Bearer tds_….",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "PaidByEnum": "remedies.forms.CITY_OR_CONTRACTOR",
        "MoneyMethodEnum": "remedies.forms.MONEY_METHODS",
        "IssuableDocumentEnum": "api.views_documents.ISSUABLE",
        "CaseKindEnum": "cases.models.CaseKind",
    },
}
# --- end of the JSON API -------------------------------------------------------------------

# Logs: one JSON object a line on standard error (config/logs.py says what a line may hold),
# or plain text with TADASU_LOG_FORMAT=text. Requests and jobs log at INFO.
LOG_FORMAT = env_str("TADASU_LOG_FORMAT", "text" if DEBUG else "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"private": {"()": "config.logs.PrivacyFilter"}},
    "formatters": {
        "json": {"()": "config.logs.JsonFormatter"},
        "text": {"format": "%(levelname)s %(name)s %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["private"],
        }
    },
    "root": {"handlers": ["console"], "level": "INFO" if DEBUG else "WARNING"},
    "loggers": {
        "tadasu": {"handlers": ["console"], "level": "INFO", "propagate": False},
        # Django logs a failed request with the request object attached; the filter keeps
        # only its path (the query string may hold a searched name).
        "django.request": {"handlers": ["console"], "level": "WARNING", "propagate": False},
        # The development server's request lines, without their query strings.
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}
