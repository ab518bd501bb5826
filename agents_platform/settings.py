"""Settings for the agents platform, read from the environment.

Every environment variable of docs/settings.md is read here and nowhere else
(the readers are in ``agents_platform/env.py``). A bad value fails at start
with an ImproperlyConfigured that names the variable. What each variable
means, and its default, is in its section of docs/settings.md, whose anchor is
the name in lower case (``docs/settings.md#agent_rate_limit``); a test checks
that every ``AGENT_*`` setting here has one.
"""

import os
import re
import tempfile
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from agents_platform.env import (
    env_bool,
    env_capture,
    env_float,
    env_int,
    env_otlp_protocol,
    env_prices,
    env_rate,
    env_str,
    env_url,
    env_usd,
    env_writable_dir,
    redact_url,
)
from agents_platform.mcp_config import env_mcp_servers

BASE_DIR = Path(__file__).resolve().parent.parent

# --- Core switches -----------------------------------------------------------

DEBUG = env_bool("DJANGO_DEBUG", True)  # docs/settings.md#django_debug

SECRET_KEY = env_str("DJANGO_SECRET_KEY")  # docs/settings.md#django_secret_key
if SECRET_KEY is None:
    if not DEBUG:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY is required when DJANGO_DEBUG is off")
    SECRET_KEY = "django-insecure-dev-only-key-never-use-in-production"  # noqa: S105 (debug only)

ALLOWED_HOSTS = [
    host.strip()
    for host in (env_str("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver") or "").split(",")
    if host.strip()
]
CSRF_TRUSTED_ORIGINS = [
    origin.strip() for origin in (env_str("DJANGO_CSRF_TRUSTED_ORIGINS", "") or "").split(",") if origin.strip()
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "sessions.apps.ChatSessionsConfig",
    "agents.apps.AgentsConfig",
]

# All async-capable: a streaming view runs on the event loop, no thread hop per middleware
# (agents_platform/async_middleware.py). CORS first, so a preflight is answered before anything else.
MIDDLEWARE = [
    "corsheaders.middleware.CorsMiddleware",
    "agents_platform.async_middleware.AsyncSecurityMiddleware",
    "agents_platform.middleware.ContentSecurityPolicyMiddleware",
    "agents_platform.middleware.ServiceUnavailableMiddleware",
    "agents_platform.async_middleware.AsyncSessionMiddleware",
    "agents_platform.async_middleware.AsyncCommonMiddleware",
    "agents_platform.async_middleware.AsyncCsrfViewMiddleware",
    "agents_platform.async_middleware.AsyncAuthenticationMiddleware",
    "agents_platform.async_middleware.AsyncMessageMiddleware",
    "agents_platform.async_middleware.AsyncXFrameOptionsMiddleware",
]

# Django's W001-W003 look for the stock security middleware by name; ours are subclasses, checked by
# agents_platform.async_middleware.middleware_checks under the same numbers (agents_platform.W001-W003).
SILENCED_SYSTEM_CHECKS = ["security.W001", "security.W002", "security.W003"]

ROOT_URLCONF = "agents_platform.urls"
WSGI_APPLICATION = "agents_platform.wsgi.application"
ASGI_APPLICATION = "agents_platform.asgi.application"

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
            ],
        },
    },
]

# --- Database: docs/settings.md#database_url --------------------------------
# https://docs.djangoproject.com/en/5.2/ref/databases/

DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}")
try:
    _database = dj_database_url.parse(DATABASE_URL)
except Exception as exc:  # dj-database-url raises several types for a bad URL
    raise ImproperlyConfigured(f"DATABASE_URL is not a valid database URL: {redact_url(str(exc))}") from None
if not _database.get("ENGINE"):
    raise ImproperlyConfigured(f"DATABASE_URL has an unknown scheme: {redact_url(DATABASE_URL)!r}")

if _database["ENGINE"] == "django.db.backends.sqlite3":
    # WAL: readers run beside the writer; IMMEDIATE: writers queue instead of failing on a lock upgrade.
    _database["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
    }
    _database["CONN_MAX_AGE"] = None  # a file handle kept by its thread: closing costs a WAL checkpoint
    # Tests run agents in threads beside a live server: the test database must be a file every connection opens.
    _database["TEST"] = {"NAME": str(Path(tempfile.gettempdir()) / f"agents-platform-test-{os.getpid()}.sqlite3")}
elif _database["ENGINE"] == "django.db.backends.postgresql":
    # Django's psycopg 3 pool (docs/settings.md#database_pool_max); CONN_MAX_AGE must be 0 with a pool.
    _database["CONN_MAX_AGE"] = 0
    _database["OPTIONS"] = {
        "pool": {
            "min_size": env_int("DATABASE_POOL_MIN", 2, minimum=0),
            "max_size": env_int("DATABASE_POOL_MAX", 20, minimum=1),
            "timeout": env_float("DATABASE_POOL_TIMEOUT", 30.0),
        }
    }

DATABASES = {"default": _database}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

MIGRATION_MODULES = {"agents": "migrations.agents", "chat_sessions": "migrations.chat_sessions"}

# --- Cache and bus: docs/settings.md#redis_url ------------------------------

REDIS_URL = env_url("REDIS_URL", None, {"redis", "rediss", "unix"})
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "agents"),
            # A Redis that is down answers in seconds (then 503), not after the OS's TCP timeout.
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 5},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "agents-platform"}}
WEB_CONCURRENCY = env_int("WEB_CONCURRENCY", 1, minimum=1)  # docs/settings.md#web_concurrency

# --- The model: docs/settings.md#the-model ---------------------------------

OPENAI_API_KEY = env_str("OPENAI_API_KEY")
OPENAI_BASE_URL = env_url("OPENAI_BASE_URL", None, {"http", "https"})
LLM_PROVIDER = env_str("LLM_PROVIDER", "openai" if (OPENAI_API_KEY or OPENAI_BASE_URL) else "offline")
if LLM_PROVIDER not in {"openai", "offline"}:
    raise ImproperlyConfigured(f"LLM_PROVIDER must be 'openai' or 'offline', got {LLM_PROVIDER!r}")
PLANNER_MODEL = env_str("PLANNER_MODEL", "gpt-4o-mini")
EXECUTOR_MODEL = env_str("EXECUTOR_MODEL", PLANNER_MODEL)
LLM_TIMEOUT = env_float("LLM_TIMEOUT", 60.0)
LLM_MAX_RETRIES = env_int("LLM_MAX_RETRIES", 2, minimum=0)
OFFLINE_MODEL_DELAY = env_float("OFFLINE_MODEL_DELAY", 0.0, minimum=-1.0)
if OFFLINE_MODEL_DELAY < 0:
    raise ImproperlyConfigured(f"OFFLINE_MODEL_DELAY must be 0 or more, got {OFFLINE_MODEL_DELAY}")

# --- Agent limits and runners: docs/settings.md#agent-limits, #runs-and-workers ---

AGENT_RATE_LIMIT = env_rate("AGENT_RATE_LIMIT", "20/m")
AGENT_TOKEN_BUDGET = env_int("AGENT_TOKEN_BUDGET", 30000, minimum=1)
AGENT_MAX_MESSAGE_CHARS = env_int("AGENT_MAX_MESSAGE_CHARS", 8000, minimum=1)
AGENT_MAX_PLAN_STEPS = env_int("AGENT_MAX_PLAN_STEPS", 8, minimum=1)
AGENT_MAX_ITERATIONS = env_int("AGENT_MAX_ITERATIONS", 8, minimum=1)
AGENT_MAX_PARALLEL_EXECUTORS = env_int("AGENT_MAX_PARALLEL_EXECUTORS", 4, minimum=1)
AGENT_MAX_REPLANS = env_int("AGENT_MAX_REPLANS", 2, minimum=0)
AGENT_HISTORY_TOKENS = env_int("AGENT_HISTORY_TOKENS", 4000, minimum=0)
# docs/settings.md#agent_mcp_servers (the format: agents_platform/mcp_config.py)
AGENT_MCP_SERVERS = env_mcp_servers("AGENT_MCP_SERVERS", env_str("AGENT_MCP_SERVERS"))
AGENT_MCP_TIMEOUT = env_float("AGENT_MCP_TIMEOUT", 30.0)
AGENT_MCP_REFRESH = env_float("AGENT_MCP_REFRESH", 300.0)
AGENT_MCP_MAX_RESULT_CHARS = env_int("AGENT_MCP_MAX_RESULT_CHARS", 20_000, minimum=1_000)
AGENT_RUNNER_WORKERS = env_int("AGENT_RUNNER_WORKERS", 8, minimum=1)
AGENT_RUNNER = env_str("AGENT_RUNNER", "thread")
if AGENT_RUNNER not in {"thread", "celery"} and "." not in AGENT_RUNNER:
    raise ImproperlyConfigured(f"AGENT_RUNNER must be 'thread', 'celery' or a dotted class path, got {AGENT_RUNNER!r}")
AGENT_LEASE_SECONDS = env_float("AGENT_LEASE_SECONDS", 20.0)
AGENT_MAX_ATTEMPTS = env_int("AGENT_MAX_ATTEMPTS", 3, minimum=1)
AGENT_DRAIN_SECONDS = env_float("AGENT_DRAIN_SECONDS", 30.0, minimum=-1.0)
if AGENT_DRAIN_SECONDS < 0:
    raise ImproperlyConfigured(f"AGENT_DRAIN_SECONDS must be 0 or more, got {AGENT_DRAIN_SECONDS}")
AGENT_APPROVAL = env_str("AGENT_APPROVAL", "write")
if AGENT_APPROVAL not in {"write", "none"}:
    raise ImproperlyConfigured(f"AGENT_APPROVAL must be 'write' or 'none', got {AGENT_APPROVAL!r}")
AGENT_APPROVAL_TIMEOUT = env_float("AGENT_APPROVAL_TIMEOUT", 86400.0)
AGENT_WORKER_CONCURRENCY = env_int("AGENT_WORKER_CONCURRENCY", AGENT_RUNNER_WORKERS, minimum=1)
# Engine threads hold a connection only while they write: the pool fits when one run's scheduler and all its
# executors write at once (docs/settings.md#database_pool_max).
if "pool" in _database.get("OPTIONS", {}):
    _pool_needed = AGENT_MAX_PARALLEL_EXECUTORS + 1
    if _database["OPTIONS"]["pool"]["max_size"] < _pool_needed:
        raise ImproperlyConfigured(
            f"DATABASE_POOL_MAX ({_database['OPTIONS']['pool']['max_size']}) is too small: a run's scheduler and "
            f"its AGENT_MAX_PARALLEL_EXECUTORS ({AGENT_MAX_PARALLEL_EXECUTORS}) executors may write at once; "
            f"set DATABASE_POOL_MAX to at least {_pool_needed} or lower AGENT_MAX_PARALLEL_EXECUTORS"
        )
AGENT_STREAM_KEEPALIVE = env_float("AGENT_STREAM_KEEPALIVE", 15.0)
AGENT_MAX_STREAMS_PER_USER = env_int("AGENT_MAX_STREAMS_PER_USER", 20, minimum=1)

# --- Cost: prices, dollar budgets, run caps: docs/settings.md#cost -----------

AGENT_PRICES = env_prices("AGENT_PRICES")
AGENT_COST_BUDGET_DAILY = env_usd("AGENT_COST_BUDGET_DAILY")
AGENT_RUN_MAX_COST = env_usd("AGENT_RUN_MAX_COST")
AGENT_RUN_MAX_TOKENS = env_int("AGENT_RUN_MAX_TOKENS", 200_000, minimum=1)

# --- Observability: docs/settings.md#observability -------------------------

METRICS_TOKEN = env_str("METRICS_TOKEN")
PROMETHEUS_MULTIPROC_DIR = env_writable_dir("PROMETHEUS_MULTIPROC_DIR")
# The SDK reads the other OTEL_* variables itself (docs/settings.md#otel_exporter_otlp_endpoint).
OTEL_TRACES_EXPORTER = env_str("OTEL_TRACES_EXPORTER")
if OTEL_TRACES_EXPORTER not in (None, "otlp", "console", "none"):
    raise ImproperlyConfigured(f"OTEL_TRACES_EXPORTER must be otlp, console or none, got {OTEL_TRACES_EXPORTER!r}")
OTEL_EXPORTER_OTLP_ENDPOINT = env_url(
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    env_url("OTEL_EXPORTER_OTLP_ENDPOINT", None, {"http", "https"}),
    {"http", "https"},
)
env_otlp_protocol()  # only checked: the SDK reads it
OTEL_ENABLED = OTEL_TRACES_EXPORTER in ("otlp", "console") or (
    OTEL_TRACES_EXPORTER is None and OTEL_EXPORTER_OTLP_ENDPOINT is not None
)
OTEL_CAPTURE_MESSAGE_CONTENT = env_capture("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT")

# --- Celery (AGENT_RUNNER=celery): docs/settings.md#celery_broker_url ------
# The broker carries only run ids; acks are early: the database lease decides who runs a run.
CELERY_BROKER_URL = env_url("CELERY_BROKER_URL", REDIS_URL, {"redis", "rediss", "amqp", "amqps", "pyamqp"})
if AGENT_RUNNER == "celery" and not CELERY_BROKER_URL:
    raise ImproperlyConfigured("AGENT_RUNNER=celery needs CELERY_BROKER_URL or REDIS_URL (the broker)")
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_QUEUE", "agents")
CELERY_TASK_ACKS_LATE = False
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_SEND_TASK_EVENTS = False

# --- CORS: docs/settings.md#django_cors_allowed_origins --------------------
CORS_ALLOWED_ORIGINS = [
    origin.strip().rstrip("/")
    for origin in (env_str("DJANGO_CORS_ALLOWED_ORIGINS", "") or "").split(",")
    if origin.strip()
]
for _origin in CORS_ALLOWED_ORIGINS:
    if not re.fullmatch(r"https?://[^/\s]+", _origin):
        raise ImproperlyConfigured(
            f"DJANGO_CORS_ALLOWED_ORIGINS must list origins like https://app.example.com, got {_origin!r}"
        )
CORS_URLS_REGEX = r"^/api/.*$"
CORS_ALLOW_CREDENTIALS = True
CORS_ALLOW_HEADERS = (
    "accept",
    "authorization",
    "content-type",
    "x-csrftoken",
    "x-requested-with",
    "last-event-id",
    "idempotency-key",
)
CORS_EXPOSE_HEADERS = ("Retry-After",)

# --- Auth and API ------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_FAILURE_LIMIT = env_rate("LOGIN_FAILURE_LIMIT", "5/15m")  # docs/settings.md#login_failure_limit
CLIENT_IP_HEADER = env_str("CLIENT_IP_HEADER")  # docs/settings.md#client_ip_header
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

REST_FRAMEWORK = {
    # Token first: its challenge makes an unauthenticated request a 401 (`WWW-Authenticate: Token`), not a 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": [
        "agents_platform.parsers.SafeJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "agents_platform.pagination.Pagination",
    "PAGE_SIZE": 20,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "agents_platform.errors.api_exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Agents platform API",
    "DESCRIPTION": "Planner/executor multi-agent platform: runs, event streams and session history.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Operation ids are the path after /api/ (agent_runs_retrieve), whatever other paths (/metrics) exist.
    "SCHEMA_PATH_PREFIX": r"/api/",
    # Swagger UI's assets come from drf-spectacular-sidecar's static files, so /api/docs/ works offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # No badge from validator.swagger.io: it would send the schema's URL to a third party (and the CSP refuses it).
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "REDOC_DIST": "SIDECAR",
    # Runs, steps, executions and messages each have a "status" choice set: name them instead of hashing.
    "ENUM_NAME_OVERRIDES": {
        "RunStatusEnum": "agents.models.Run.Status",
        "PlanStepStatusEnum": "agents.models.PlanStep.Status",
        "ExecutionStatusEnum": "agents.models.Execution.Status",
        "MessageStatusEnum": "sessions.models.Message.Status",
    },
    # The SSE endpoints are plain async views spectacular cannot see; this hook describes them.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "agents_platform.schema_streams.add_streaming_endpoints",
        "agents_platform.schema_tools.add_tools",
    ],
}

# --- I18N, static ------------------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# Times to the second in the admin (the locale's own formats stop at minutes).
FORMAT_MODULE_PATH = ["agents_platform.formats"]

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
SERVE_STATIC = env_bool("DJANGO_SERVE_STATIC", True)  # docs/settings.md#django_serve_static

# --- Security (production): docs/settings.md#https-with-debug-off ----------
# https://docs.djangoproject.com/en/5.2/howto/deployment/checklist/

SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Sent with every HTML page (agents_platform.middleware): no inline script anywhere; Swagger UI's inline
# styles are allowed on its page only (agents_platform.views.ApiDocsView).
CONTENT_SECURITY_POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "font-src": "'self'",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}
# Error pages, the debug page included, never show a credential written in a URL (user:password@).
DEFAULT_EXCEPTION_REPORTER_FILTER = "agents_platform.debug.CredentialFilter"
DEFAULT_EXCEPTION_REPORTER = "agents_platform.debug.CredentialSafeReporter"
if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("DJANGO_SESSION_COOKIE_SECURE", True)
    CSRF_COOKIE_SECURE = env_bool("DJANGO_CSRF_COOKIE_SECURE", True)
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},  # docs/settings.md#log_level
    # httpx2 logs every model request at INFO; agents.llm.gateway logs what matters (retries).
    "loggers": {"django.db.backends": {"level": "WARNING"}, "httpx2": {"level": "WARNING"}},
}
