"""OneProxy settings: every value comes from the environment through django-environ.

Defaults run a fresh checkout in embedded mode (SQLite under data/, local-memory cache,
background jobs in-process). Production safety is enforced by system checks in
oneproxy/checks.py rather than by missing defaults. `.env.example` lists every variable.
"""

import secrets
from pathlib import Path

import environ
from django.conf import global_settings

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()


def env_list(name: str, default: list[str]) -> list[str]:
    """A comma-separated variable as a list; an empty value means an empty list."""
    return [item.strip() for item in env.list(name, default=default) if item.strip()]


environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DATA_DIR = BASE_DIR / (env.str("DATA_DIR", default="") or "data")  # relative to the repo
DATA_DIR.mkdir(parents=True, exist_ok=True)

# --- Core -----------------------------------------------------------------------------
DEBUG = env.bool("DEBUG", default=False)


def _embedded_secret_key() -> str:
    """Generate once and keep under data/, so sessions survive restarts in embedded mode."""
    path = DATA_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY_FROM_ENV = bool(env.str("SECRET_KEY", default=""))
SECRET_KEY = env.str("SECRET_KEY", default="") or _embedded_secret_key()

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["*"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
PORT = env.int("PORT", default=3000)
WEB_CONCURRENCY = env.int("WEB_CONCURRENCY", default=0)  # 0 = one per core
GRACEFUL_TIMEOUT = env.int("GRACEFUL_TIMEOUT", default=30)
# Limits on what a client may send before anything checks who it is (oneproxy/httpguard.py
# for the request line and headers, oneproxy/bodylimit.py for bodies; 0 = no time limit).
SERVER_MAX_HEADER_BYTES = env.int("SERVER_MAX_HEADER_BYTES", default=64 * 1024)
SERVER_HEADER_TIMEOUT = env.float("SERVER_HEADER_TIMEOUT", default=10.0)
SERVER_BODY_TIMEOUT = env.float("SERVER_BODY_TIMEOUT", default=60.0)
# Largest body for the admin and /api in MB (/v1 uses MAX_REQUEST_BODY_MB).
SERVER_ADMIN_BODY_MB = env.int("SERVER_ADMIN_BODY_MB", default=10)
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("BEHIND_HTTPS_PROXY", default=False) else None
)

INSTALLED_APPS = [
    "oneproxy.admin_apps.OneProxyAdminConfig",  # django.contrib.admin with our site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "oneproxy",
    "billing",
    "channels_app",
    "relay",
]

# Every middleware here is async-capable: a sync-only one would push each /v1 request
# through a thread hop under ASGI.
MIDDLEWARE = [
    "oneproxy.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "servestatic.middleware.ServeStaticMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# The only middleware on the API fast path (/v1, probes): see oneproxy/asgi.py.
FAST_PATH_MIDDLEWARE = ["oneproxy.middleware.RequestIdMiddleware"]

ROOT_URLCONF = "oneproxy.urls"
ASGI_APPLICATION = "oneproxy.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------
DATABASE_URL = env.str("DATABASE_URL", default="") or f"sqlite:///{DATA_DIR / 'oneproxy.sqlite3'}"
DATABASES = {"default": env.db_url_config(DATABASE_URL)}
_db = DATABASES["default"]
if _db["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers run beside the writer; IMMEDIATE transactions plus a busy timeout
    # turn "database is locked" (One API's lost-balance bug) into a short wait.
    _db.setdefault("OPTIONS", {}).update(
        {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": env.int("SQLITE_BUSY_TIMEOUT", default=20),
        }
    )
elif _db["ENGINE"] == "django.db.backends.mysql":
    _db.setdefault("OPTIONS", {}).update({"charset": "utf8mb4"})
    _db.setdefault("TEST", {}).update({"CHARSET": "utf8mb4", "COLLATION": "utf8mb4_unicode_ci"})
_db["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0)
_db["CONN_HEALTH_CHECKS"] = True
EMBEDDED_DATABASE = _db["ENGINE"] == "django.db.backends.sqlite3"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "billing.User"

# --- Redis, cache, Celery -------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
EMBEDDED_MODE = not REDIS_URL  # no Redis: local cache, in-process jobs and counters

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="oneproxy"),
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ALWAYS_EAGER = EMBEDDED_MODE  # embedded mode runs every task in-process
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ACKS_LATE = True
CELERY_TIMEZONE = env.str("TIME_ZONE", default="UTC")

# --- Auth and sessions ----------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "admin:login"
SESSION_COOKIE_HTTPONLY = True

# --- Internationalisation -------------------------------------------------------------
LANGUAGE_CODE = env.str("LANGUAGE_CODE", default="en")
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# --- Static files ---------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"] if (BASE_DIR / "static").is_dir() else []
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "servestatic.storage.CompressedManifestStaticFilesStorage"
    },
}

# --- REST framework -------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

# --- Logging: one JSON object per line on stdout, each with the request id -------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").upper()
ACCESS_LOG = env.bool("ACCESS_LOG", default=True)  # one line per request, with its id
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "oneproxy.logging.RequestIdFilter"}},
    "formatters": {"json": {"()": "oneproxy.logging.JsonFormatter"}},
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": "json",
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["stdout"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
    },
}

# --- Product settings (flat and prefixed) ---------------------------------------------
QUOTA_PER_USD = env.int("QUOTA_PER_USD", default=500_000)
RELAY_UPSTREAM_TIMEOUT = env.float("RELAY_UPSTREAM_TIMEOUT", default=300.0)
RELAY_CONNECT_TIMEOUT = env.float("RELAY_CONNECT_TIMEOUT", default=10.0)
RELAY_FIRST_BYTE_TIMEOUT = env.float("RELAY_FIRST_BYTE_TIMEOUT", default=120.0)
RELAY_STREAM_IDLE_TIMEOUT = env.float("RELAY_STREAM_IDLE_TIMEOUT", default=120.0)
RELAY_PROXY = env.str("RELAY_PROXY", default="")
RETRY_TIMES = env.int("RETRY_TIMES", default=2)
MAX_REQUEST_BODY_MB = env.int("MAX_REQUEST_BODY_MB", default=32)
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_REQUEST_BODY_MB * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = DATA_UPLOAD_MAX_MEMORY_SIZE
BILLING_FLUSH_INTERVAL = env.int("BILLING_FLUSH_INTERVAL", default=5)
CHANNEL_TEST_INTERVAL = env.int("CHANNEL_TEST_INTERVAL", default=10)
CHANNEL_BALANCE_INTERVAL = env.int("CHANNEL_BALANCE_INTERVAL", default=60)
AUTO_DISABLE_ERROR_RATE = env.float("AUTO_DISABLE_ERROR_RATE", default=0.5)
LOG_RETENTION_DAYS = env.int("LOG_RETENTION_DAYS", default=90)
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
METRICS_ALLOWED_IPS = env_list("METRICS_ALLOWED_IPS", ["127.0.0.1/32", "::1/128"])
NOTIFY_WEBHOOK_URL = env.str("NOTIFY_WEBHOOK_URL", default="")
NOTIFY_EMAIL = env_list("NOTIFY_EMAIL", [])

EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="oneproxy@localhost")
# In embedded mode the periodic jobs run in the server process; tests turn this off.
RUN_EMBEDDED_JOBS = env.bool("RUN_EMBEDDED_JOBS", default=True)

# --- Management API (/api/) and One API import ------------------------------------------
# Swagger UI assets come from drf-spectacular-sidecar, so /api/docs/ works offline.
SPECTACULAR_SETTINGS = {
    "TITLE": "OneProxy management API",
    "DESCRIPTION": "Users, groups, channels, tokens, prices, redemptions, logs and options.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "UserStatusEnum": "billing.models.UserStatus",
        "TokenStatusEnum": "billing.models.TokenStatus",
        "RedemptionStatusEnum": "billing.models.RedemptionStatus",
        "ChannelStatusEnum": "channels_app.models.ChannelStatus",
    },
}
# One API stores raw bcrypt hashes; imported users keep their passwords. Django re-hashes
# them with the first (default) hasher on the next successful login.
PASSWORD_HASHERS = [
    *global_settings.PASSWORD_HASHERS,
    "oneproxy.importers.hashers.OneAPIBcryptPasswordHasher",
]

# --- Relay (/v1) tuning ---------------------------------------------------------------
# Upstream connections per server process (0 = unbounded). Each open stream holds one, so
# this caps the streams a process serves at once; keep it under half the open-file limit
# (`ulimit -n`): every stream also holds its client's socket.
RELAY_MAX_CONNECTIONS = env.int("RELAY_MAX_CONNECTIONS", default=8000)
# With Redis, cache invalidations arrive by pub/sub at once; the topic versions are also
# re-read at least this often (ms) in case a message was lost. 0 = read on every request.
RELAY_CACHE_CHECK_MS = env.int("RELAY_CACHE_CHECK_MS", default=1000)
# Where prometheus-client keeps per-process metric files when several workers serve.
# Empty = DATA_DIR/metrics/<id of the serving process group>.
METRICS_MULTIPROC_DIR = env.str("METRICS_MULTIPROC_DIR", default="")

# --- Channel health and housekeeping jobs ----------------------------------------------
# A cooled-down channel (or model on it) is routed around this long before its first
# retest; each failed retest doubles the pause up to HEALTH_COOLDOWN_MAX (seconds).
HEALTH_COOLDOWN_SECONDS = env.int("HEALTH_COOLDOWN_SECONDS", default=120)
HEALTH_COOLDOWN_MAX = env.int("HEALTH_COOLDOWN_MAX", default=1800)
HEALTH_RETEST_INTERVAL = env.int("HEALTH_RETEST_INTERVAL", default=30)  # seconds
CHANNEL_TEST_CONCURRENCY = env.int("CHANNEL_TEST_CONCURRENCY", default=4)
CHANNEL_TEST_TIMEOUT = env.float("CHANNEL_TEST_TIMEOUT", default=30.0)
# Token expiry/exhaustion and daily usage rollups (seconds); log retention runs hourly.
HOUSEKEEPING_INTERVAL = env.int("HOUSEKEEPING_INTERVAL", default=300)
# A pre-charge not settled after this many seconds belongs to a process that died; it is
# given back (billing.tasks.release_stale_reservations). Keep it above the longest request.
QUOTA_RESERVATION_TTL = env.int("QUOTA_RESERVATION_TTL", default=1800)
LOG_RETENTION_INTERVAL = env.int("LOG_RETENTION_INTERVAL", default=3600)
LOG_RETENTION_BATCH = env.int("LOG_RETENTION_BATCH", default=5000)
