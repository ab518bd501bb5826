"""Settings for the agents platform, read from the environment.

Every variable of CONTRACT.md section 1 is read here and nowhere else. A bad
value fails at start with an ImproperlyConfigured that names the variable.
https://docs.djangoproject.com/en/5.2/topics/settings/
"""

import json
import math
import os
import re
import tempfile
from decimal import Decimal, InvalidOperation
from pathlib import Path
from urllib.parse import urlparse

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from agents_platform.mcp_config import env_mcp_servers

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str | None = None) -> str | None:
    """Return the variable's value, or the default when it is unset or blank."""
    value = os.environ.get(name, "").strip()
    return value if value else default


def env_bool(name: str, default: bool) -> bool:
    """Return the variable as a boolean; anything but a clear yes/no is an error."""
    value = env_str(name)
    if value is None:
        return default
    lowered = value.lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), got {value!r}")


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    """Return the variable as an integer no smaller than minimum."""
    value = env_str(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}") from None
    if number < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {number}")
    return number


def env_float(name: str, default: float, *, minimum: float = 0.0) -> float:
    """Return the variable as a number greater than minimum."""
    value = env_str(name)
    if value is None:
        return default
    try:
        number = float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(number):  # float() accepts "nan" and "inf"
        raise ImproperlyConfigured(f"{name} must be a finite number, got {value!r}")
    if number <= minimum:
        raise ImproperlyConfigured(f"{name} must be greater than {minimum}, got {number}")
    return number


def env_rate(name: str, default: str) -> str:
    """Return a rate such as '20/m' or '5/15m' (agents_platform.sliding_window.Rate), checked for shape."""
    value = env_str(name, default)
    # A period of 0 (e.g. "20/0m") would make every window empty.
    if not re.fullmatch(r"[1-9]\d*/([1-9]\d*)?[smhd]", value):
        raise ImproperlyConfigured(f"{name} must look like '20/m' (count/s|m|h|d), got {value!r}")
    return value


def redact_url(value: str) -> str:
    """Return the URL with any user and password replaced, for error messages that end up in logs."""
    return re.sub(r"(?<=://)[^/@]*@", "***@", value)


def env_url(name: str, default: str | None, schemes: set[str]) -> str | None:
    """Return a URL whose scheme is one of schemes."""
    value = env_str(name, default)
    if value is None:
        return None
    parsed = urlparse(value)
    if parsed.scheme not in schemes or not (parsed.netloc or parsed.path):
        allowed = ", ".join(sorted(schemes))
        raise ImproperlyConfigured(f"{name} must be a URL with scheme {allowed}, got {redact_url(value)!r}")
    return value


# --- Core switches -----------------------------------------------------------

DEBUG = env_bool("DJANGO_DEBUG", True)

SECRET_KEY = env_str("DJANGO_SECRET_KEY")
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

# Every middleware here is async-capable, so an async streaming view runs
# without hopping to a thread per request.
MIDDLEWARE = [
    # First: a browser's preflight is answered before anything else looks at it (async-capable).
    "corsheaders.middleware.CorsMiddleware",
    # Django's own middleware, run inline on the event loop for async requests (streams): no thread hop per
    # middleware; only what touches the database or a form body still takes one (agents_platform/async_middleware.py).
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

# --- Database ----------------------------------------------------------------
# https://docs.djangoproject.com/en/5.2/ref/databases/

DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}")
try:
    _database = dj_database_url.parse(DATABASE_URL)
except Exception as exc:  # dj-database-url raises several types for a bad URL
    raise ImproperlyConfigured(f"DATABASE_URL is not a valid database URL: {redact_url(str(exc))}") from None
if not _database.get("ENGINE"):
    raise ImproperlyConfigured(f"DATABASE_URL has an unknown scheme: {redact_url(DATABASE_URL)!r}")

if _database["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers (streams) run while a writer (the engine) writes;
    # IMMEDIATE transactions take the write lock up front, so two writers
    # queue on the busy timeout instead of failing on a lock upgrade.
    _database["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
    }
    # A file handle, not a server slot: kept by its thread (closing one costs a WAL checkpoint, ~2-4 ms a run).
    _database["CONN_MAX_AGE"] = None
    # Tests run agents in threads and a real server in the same process, so
    # the test database must be a file that every connection can open.
    _database["TEST"] = {"NAME": str(Path(tempfile.gettempdir()) / f"agents-platform-test-{os.getpid()}.sqlite3")}
elif _database["ENGINE"] == "django.db.backends.postgresql":
    # Django's own psycopg 3 pool; CONN_MAX_AGE must be 0 with a pool.
    # https://docs.djangoproject.com/en/5.2/ref/databases/#connection-pool
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

MIGRATION_MODULES = {
    "agents": "migrations.agents",
    "chat_sessions": "migrations.chat_sessions",
}

# --- Cache and bus -----------------------------------------------------------
# https://docs.djangoproject.com/en/5.2/topics/cache/#redis

REDIS_URL = env_url("REDIS_URL", None, {"redis", "rediss", "unix"})
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "agents"),
            # A Redis that is down or unreachable answers in seconds (then 503), not after the OS's TCP timeout.
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 5},
        }
    }
else:
    # One process in the embedded default: its own memory is the shared cache.
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "agents-platform"}}
# Web processes serving at once (uvicorn and gunicorn read it too). Without
# REDIS_URL each process would keep its own limits: check --deploy warns (agents.W001).
WEB_CONCURRENCY = env_int("WEB_CONCURRENCY", 1, minimum=1)

# --- The model ---------------------------------------------------------------

OPENAI_API_KEY = env_str("OPENAI_API_KEY")
OPENAI_BASE_URL = env_url("OPENAI_BASE_URL", None, {"http", "https"})
LLM_PROVIDER = env_str("LLM_PROVIDER", "openai" if (OPENAI_API_KEY or OPENAI_BASE_URL) else "offline")
if LLM_PROVIDER not in {"openai", "offline"}:
    raise ImproperlyConfigured(f"LLM_PROVIDER must be 'openai' or 'offline', got {LLM_PROVIDER!r}")
PLANNER_MODEL = env_str("PLANNER_MODEL", "gpt-4o-mini")
EXECUTOR_MODEL = env_str("EXECUTOR_MODEL", PLANNER_MODEL)
LLM_TIMEOUT = env_float("LLM_TIMEOUT", 60.0)
LLM_MAX_RETRIES = env_int("LLM_MAX_RETRIES", 2, minimum=0)
# Pause between the offline model's streamed chunks (0: none), so a demo shows streaming.
OFFLINE_MODEL_DELAY = env_float("OFFLINE_MODEL_DELAY", 0.0, minimum=-1.0)
if OFFLINE_MODEL_DELAY < 0:
    raise ImproperlyConfigured(f"OFFLINE_MODEL_DELAY must be 0 or more, got {OFFLINE_MODEL_DELAY}")

# --- Agent limits ------------------------------------------------------------

AGENT_RATE_LIMIT = env_rate("AGENT_RATE_LIMIT", "20/m")
AGENT_TOKEN_BUDGET = env_int("AGENT_TOKEN_BUDGET", 30000, minimum=1)
AGENT_MAX_MESSAGE_CHARS = env_int("AGENT_MAX_MESSAGE_CHARS", 8000, minimum=1)
AGENT_MAX_PLAN_STEPS = env_int("AGENT_MAX_PLAN_STEPS", 8, minimum=1)
AGENT_MAX_ITERATIONS = env_int("AGENT_MAX_ITERATIONS", 8, minimum=1)
AGENT_MAX_PARALLEL_EXECUTORS = env_int("AGENT_MAX_PARALLEL_EXECUTORS", 4, minimum=1)
# Times the planner may revise a plan in one run after a step failed or stalled (0: never asked).
AGENT_MAX_REPLANS = env_int("AGENT_MAX_REPLANS", 2, minimum=0)
AGENT_HISTORY_TOKENS = env_int("AGENT_HISTORY_TOKENS", 4000, minimum=0)
# MCP servers whose tools the agents may call (agents_platform/mcp_config.py has the format).
AGENT_MCP_SERVERS = env_mcp_servers("AGENT_MCP_SERVERS", env_str("AGENT_MCP_SERVERS"))
# Seconds one MCP tool call may take (its result is then `ok: false`, code `mcp_timeout`).
AGENT_MCP_TIMEOUT = env_float("AGENT_MCP_TIMEOUT", 30.0)
# Seconds between two listings of a server's tools; a server that is down is tried again sooner.
AGENT_MCP_REFRESH = env_float("AGENT_MCP_REFRESH", 300.0)
# Characters of one MCP tool result the model sees; a longer result is cut and marked `truncated`.
AGENT_MCP_MAX_RESULT_CHARS = env_int("AGENT_MCP_MAX_RESULT_CHARS", 20_000, minimum=1_000)
AGENT_RUNNER_WORKERS = env_int("AGENT_RUNNER_WORKERS", 8, minimum=1)
# Who executes runs: "thread" (a pool in the web process), "celery" (workers
# started with `make worker`), or the dotted path of a class with the
# agents.runtime.runners.Runner protocol.
AGENT_RUNNER = env_str("AGENT_RUNNER", "thread")
if AGENT_RUNNER not in {"thread", "celery"} and "." not in AGENT_RUNNER:
    raise ImproperlyConfigured(f"AGENT_RUNNER must be 'thread', 'celery' or a dotted class path, got {AGENT_RUNNER!r}")
# A run's owner renews its lease every third of this; an expired lease means the owner was lost.
AGENT_LEASE_SECONDS = env_float("AGENT_LEASE_SECONDS", 20.0)
AGENT_MAX_ATTEMPTS = env_int("AGENT_MAX_ATTEMPTS", 3, minimum=1)
AGENT_DRAIN_SECONDS = env_float("AGENT_DRAIN_SECONDS", 30.0, minimum=-1.0)
if AGENT_DRAIN_SECONDS < 0:
    raise ImproperlyConfigured(f"AGENT_DRAIN_SECONDS must be 0 or more, got {AGENT_DRAIN_SECONDS}")
# "write": every write tool call of the planner waits for the user's approval (README, "Approvals");
# "none": write tools run at once.
AGENT_APPROVAL = env_str("AGENT_APPROVAL", "write")
if AGENT_APPROVAL not in {"write", "none"}:
    raise ImproperlyConfigured(f"AGENT_APPROVAL must be 'write' or 'none', got {AGENT_APPROVAL!r}")
# Seconds an approval may wait for a decision; then it is expired and counts as rejected.
AGENT_APPROVAL_TIMEOUT = env_float("AGENT_APPROVAL_TIMEOUT", 86400.0)
# Runs one Celery worker process executes at once (threads).
AGENT_WORKER_CONCURRENCY = env_int("AGENT_WORKER_CONCURRENCY", AGENT_RUNNER_WORKERS, minimum=1)
# Engine threads give their connection back to the pool before every wait (a model, a tool, other
# threads) and hold one only while they write (agents/runs/connections.py). So the pool fits when one
# run's scheduler and all its executors can write at the same moment; runs beyond that queue for a
# connection for a write's length, never for a model call's.
if "pool" in _database.get("OPTIONS", {}):
    _pool_needed = AGENT_MAX_PARALLEL_EXECUTORS + 1
    if _database["OPTIONS"]["pool"]["max_size"] < _pool_needed:
        raise ImproperlyConfigured(
            f"DATABASE_POOL_MAX ({_database['OPTIONS']['pool']['max_size']}) is too small: a run's scheduler and "
            f"its AGENT_MAX_PARALLEL_EXECUTORS ({AGENT_MAX_PARALLEL_EXECUTORS}) executors may write at once; "
            f"set DATABASE_POOL_MAX to at least {_pool_needed} or lower AGENT_MAX_PARALLEL_EXECUTORS"
        )
AGENT_STREAM_KEEPALIVE = env_float("AGENT_STREAM_KEEPALIVE", 15.0)
# Event streams (run streams and session feeds) one user may hold open at once, counted in the shared cache.
AGENT_MAX_STREAMS_PER_USER = env_int("AGENT_MAX_STREAMS_PER_USER", 20, minimum=1)

# --- Cost: prices, dollar budgets, run caps ------------------------------------


def env_usd(name: str) -> Decimal | None:
    """Return the variable as a positive number of US dollars (a Decimal), or None when unset."""
    value = env_str(name)
    if value is None:
        return None
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise ImproperlyConfigured(f"{name} must be a number of US dollars, got {value!r}") from None
    if not amount.is_finite() or amount <= 0:
        raise ImproperlyConfigured(f"{name} must be a positive number of US dollars, got {value!r}")
    return amount


PRICE_FIELDS = ("input", "output", "cached_input")


def env_prices(name: str) -> dict[str, dict[str, Decimal]]:
    """Return per-model price overrides: ``{"model": {"input": usd_per_million, "output": ..., "cached_input": ...}}``.

    ``input`` and ``output`` are required; ``cached_input`` defaults to ``input``.
    """
    value = env_str(name)
    if value is None:
        return {}
    try:
        raw = json.loads(value, parse_float=Decimal, parse_int=Decimal)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a JSON object: {exc}") from None
    if not isinstance(raw, dict):
        raise ImproperlyConfigured(f'{name} must be a JSON object {{"model": {{"input": ..., "output": ...}}}}')
    prices: dict[str, dict[str, Decimal]] = {}
    for model, entry in raw.items():
        if not model.strip() or not isinstance(entry, dict):
            raise ImproperlyConfigured(f"{name}: the entry of {model!r} must be an object with input and output")
        unknown = set(entry) - set(PRICE_FIELDS)
        missing = {"input", "output"} - set(entry)
        if unknown or missing:
            raise ImproperlyConfigured(
                f"{name}: the entry of {model!r} has "
                + (f"unknown fields {sorted(unknown)}" if unknown else f"no {sorted(missing)}")
                + f" (allowed: {', '.join(PRICE_FIELDS)}, US dollars per million tokens)"
            )
        for field, price in entry.items():
            if isinstance(price, bool) or not isinstance(price, Decimal) or not price.is_finite() or price < 0:
                raise ImproperlyConfigured(
                    f"{name}: {model}.{field} must be a number of US dollars per million tokens, 0 or more"
                )
        prices[model] = {"cached_input": entry["input"], **entry}
    return prices


AGENT_PRICES = env_prices("AGENT_PRICES")
AGENT_COST_BUDGET_DAILY = env_usd("AGENT_COST_BUDGET_DAILY")
AGENT_RUN_MAX_COST = env_usd("AGENT_RUN_MAX_COST")
AGENT_RUN_MAX_TOKENS = env_int("AGENT_RUN_MAX_TOKENS", 200_000, minimum=1)

# --- Observability: Prometheus and OpenTelemetry --------------------------------

# Bearer token of GET /metrics; unset: staff only.
METRICS_TOKEN = env_str("METRICS_TOKEN")
# prometheus-client reads this itself (agents/telemetry/metrics.py): every process of a machine writes its
# metrics there and /metrics adds them up. It must exist before any process starts.
PROMETHEUS_MULTIPROC_DIR = env_str("PROMETHEUS_MULTIPROC_DIR")
if PROMETHEUS_MULTIPROC_DIR and not (
    os.path.isdir(PROMETHEUS_MULTIPROC_DIR) and os.access(PROMETHEUS_MULTIPROC_DIR, os.W_OK)
):
    raise ImproperlyConfigured(
        f"PROMETHEUS_MULTIPROC_DIR must be an existing writable directory, got {PROMETHEUS_MULTIPROC_DIR!r}"
    )
# Traces are exported when the standard OpenTelemetry variables name an exporter
# (https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/);
# the SDK reads the rest (OTEL_SERVICE_NAME, OTEL_EXPORTER_OTLP_HEADERS, ...) itself.
OTEL_TRACES_EXPORTER = env_str("OTEL_TRACES_EXPORTER")
if OTEL_TRACES_EXPORTER not in (None, "otlp", "console", "none"):
    raise ImproperlyConfigured(f"OTEL_TRACES_EXPORTER must be otlp, console or none, got {OTEL_TRACES_EXPORTER!r}")
OTEL_EXPORTER_OTLP_ENDPOINT = env_url(
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    env_url("OTEL_EXPORTER_OTLP_ENDPOINT", None, {"http", "https"}),
    {"http", "https"},
)
_otel_protocol = env_str("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", env_str("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"))
if _otel_protocol != "http/protobuf":
    raise ImproperlyConfigured(
        f"OTEL_EXPORTER_OTLP_PROTOCOL must be http/protobuf (the exporter installed), got {_otel_protocol!r}"
    )
OTEL_ENABLED = OTEL_TRACES_EXPORTER in ("otlp", "console") or (
    OTEL_TRACES_EXPORTER is None and OTEL_EXPORTER_OTLP_ENDPOINT is not None
)
# Prompts and completions go into spans only when this says so (they may hold personal data).
# Accepts a boolean or the GenAI instrumentations' modes (SPAN_ONLY, SPAN_AND_EVENT: on; NO_CONTENT, EVENT_ONLY: off).
_capture = (env_str("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT") or "false").lower()
_CAPTURE_ON = {"1", "true", "yes", "on", "span_only", "span_and_event"}
_CAPTURE_OFF = {"0", "false", "no", "off", "no_content", "event_only"}
if _capture not in _CAPTURE_ON | _CAPTURE_OFF:
    raise ImproperlyConfigured(
        "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT must be true, false, SPAN_ONLY, SPAN_AND_EVENT, "
        f"EVENT_ONLY or NO_CONTENT, got {_capture!r}"
    )
OTEL_CAPTURE_MESSAGE_CONTENT = _capture in _CAPTURE_ON

# --- Celery (AGENT_RUNNER=celery) ---------------------------------------------
# https://docs.celeryq.dev/en/stable/userguide/configuration.html
# The broker carries only run ids; acks are early and nothing relies on its
# visibility timeout: the database lease decides who runs a run.
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

# --- CORS: browser clients on other origins --------------------------------------
# https://github.com/adamchainz/django-cors-headers#configuration
# Only the API and its streams; credentials (the session cookie) allowed for the listed origins.
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
# Failed sign-ins (both login pages) allowed per username and per client address
# in any rolling window; one more answers 429 until the oldest leaves it.
LOGIN_FAILURE_LIMIT = env_rate("LOGIN_FAILURE_LIMIT", "5/15m")
# The header a trusted reverse proxy puts the client's address in (e.g. X-Forwarded-For,
# whose last entry is used, or X-Real-IP); unset: the connection's address. Set it only
# behind such a proxy: clients can send the header themselves.
CLIENT_IP_HEADER = env_str("CLIENT_IP_HEADER")
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

REST_FRAMEWORK = {
    # Token first: DRF answers an unauthenticated request with the first class's challenge, so it is the
    # contract's 401 (with `WWW-Authenticate: Token`) instead of 403. Browsers still use the session cookie.
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
# https://docs.djangoproject.com/en/5.2/ref/settings/#format-module-path
FORMAT_MODULE_PATH = ["agents_platform.formats"]

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
# The ASGI app serves /static/ itself (embedded default); turn off behind a CDN or proxy.
SERVE_STATIC = env_bool("DJANGO_SERVE_STATIC", True)

# --- Security (production) ---------------------------------------------------
# https://docs.djangoproject.com/en/5.2/howto/deployment/checklist/

SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Sent with every HTML page (agents_platform.middleware). The pages load only
# their own static scripts and styles; no inline script anywhere. Swagger UI
# (/api/docs/) also needs inline styles: agents_platform.views.ApiDocsView.
# https://developer.mozilla.org/en-US/docs/Web/HTTP/Headers/Content-Security-Policy
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
# Error pages, the debug page included, never show a credential written in a
# URL (REDIS_URL, DATABASE_URL, a broker URL, any user:password@ in a value).
# https://docs.djangoproject.com/en/5.2/howto/error-reporting/#custom-error-reports
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
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # httpx2 logs every model request at INFO; agents.llm.gateway logs what matters (retries).
    "loggers": {"django.db.backends": {"level": "WARNING"}, "httpx2": {"level": "WARNING"}},
}
