"""hallq settings: everything that differs between machines comes from the environment.

DATABASE_URL   PostgreSQL for many halls (default: SQLite in var/, WAL mode)
REDIS_URL      cross-process event fan-out and shared caches (default: in-process)
HALLQ_SECRET_KEY, HALLQ_DEBUG, HALLQ_ALLOWED_HOSTS, HALLQ_PUBLIC_URL, HALLQ_TIME_ZONE
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("HALLQ_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    return default if value is None else value.lower() in {"1", "true", "yes", "on"}


def _secret_key() -> str:
    configured = os.environ.get("HALLQ_SECRET_KEY")
    if configured:
        return configured
    # A development machine keeps one generated key so tokens survive restarts.
    key_file = VAR_DIR / "secret-key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = _env_bool("HALLQ_DEBUG", False)
ALLOWED_HOSTS = os.environ.get("HALLQ_ALLOWED_HOSTS", "*").split(",")
PUBLIC_URL = os.environ.get("HALLQ_PUBLIC_URL", "").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    # Serves the API documentation's assets itself instead of from a CDN halls cannot reach.
    "ninja",
    "hallq.common",
    "hallq.halls",
    "hallq.realtime",
    "hallq.wechat",
    "hallq.notifications",
    "hallq.queueing",
    "hallq.citizens",
    "hallq.scheduling",
    "hallq.booking",
    "hallq.officialaccount",
    "hallq.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "hallq.common.middleware.LocaleWithoutPathPrefixesMiddleware",  # Django's, less work
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "hallq.common.middleware.LazyMessageMiddleware",  # Django's, storage made on first use
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
# The API's requests (/api/, config/handlers.py) go through the part of MIDDLEWARE they use, in
# its order: not CSRF (the API's views are exempt: writes need a bearer token), nor
# CommonMiddleware (its slash redirects are for pages; the handler sets Content-Length), nor
# messages, nor X-Frame-Options (for pages that could be framed). Sessions and authentication
# stay: a signed-in back-office session may read. ~4 % of a counter's request (bench/NOTES.md).
HALLQ_API_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "hallq.common.middleware.LocaleWithoutPathPrefixesMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]

ROOT_URLCONF = "config.urls"
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
                "django.template.context_processors.i18n",
            ],
        },
    },
]

_SQLITE_PATH = VAR_DIR / "hallq.sqlite3"
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{_SQLITE_PATH}"),
        conn_max_age=0,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        # Write transactions take the write lock when they begin, so two writers never
        # deadlock upgrading a read lock; readers keep going under WAL.
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
        ),
    }
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-hallq.sqlite3")}
else:
    # Django's backend, with request threads keeping their pooled connection between requests
    # (HALLQ_DB_HOLD_SECONDS below; docs/decisions/0007).
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        DATABASES["default"]["ENGINE"] = "hallq.common.postgresql"
    DATABASES["default"]["OPTIONS"] = {
        # Statements are prepared only where the code asks (hallq.common.db.fetch_all, for the
        # hottest reads); psycopg's "None" would refuse even those, and Django's client-side
        # binding cursors, used for everything else, never prepare.
        # Those prepared reads, and the statements inside the one-statement functions, are
        # planned once per connection: hallq.common.postgresql sets plan_cache_mode on each
        # new connection (docs/decisions/0006).
        "prepare_threshold": 2**31 - 1,
        "pool": {
            "min_size": int(os.environ.get("HALLQ_DB_POOL_MIN", "2")),
            "max_size": int(os.environ.get("HALLQ_DB_POOL_MAX", "16")),
            "timeout": 10,
        },
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "")
CACHES = {
    "default": (
        {
            "BACKEND": "hallq.common.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": os.environ.get("HALLQ_REDIS_PREFIX", "hallq"),
        }
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}
# Keeps several deployments (or test runs) on one Redis apart: pub/sub ignores database numbers.
HALLQ_REDIS_PREFIX = os.environ.get("HALLQ_REDIS_PREFIX", "hallq")

if os.environ.get("HALLQ_TEST_PASSWORD_HASHING") == "fast":
    # Only for test runs: real hashing costs ~0.3 s per password by design.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "hallq" / "locale"]
USE_I18N = True
USE_TZ = True
# Storage is UTC; each hall displays in its own zone. This is only the fallback zone.
TIME_ZONE = os.environ.get("HALLQ_TIME_ZONE", "Asia/Shanghai")

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)

LOGIN_URL = "/admin/login/"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("HALLQ_LOG_LEVEL", "INFO").upper()},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # 4xx answers are the API working as designed ("full", "not yet open"); a release rush
        # would write thousands of warnings. Server errors are still logged.
        "django.request": {"level": "ERROR"},
    },
}

# The queue.
HALLQ_RECALL_LIMIT = int(os.environ.get("HALLQ_RECALL_LIMIT", "2"))
HALLQ_SERVICE_TIME_SAMPLES = 20
HALLQ_SSE_KEEPALIVE_SECONDS = float(os.environ.get("HALLQ_SSE_KEEPALIVE_SECONDS", "15"))
HALLQ_INPROCESS_WORKER = _env_bool("HALLQ_INPROCESS_WORKER", False)
# Threads per web process that run requests' synchronous parts (database work). Few: they and
# the event loop share one GIL, and with eight a finished request waited 35 ms on average for the
# loop to send it during a rush; three keep the database busy as well (docs/architecture.md).
HALLQ_REQUEST_THREADS = int(os.environ.get("HALLQ_REQUEST_THREADS", "3"))
# How long each of them keeps its PostgreSQL connection from the pool between requests before
# giving it back (docs/decisions/0007); 0: after every request. The pool must have room beyond
# them for the streams' reads and the workers.
HALLQ_DB_HOLD_SECONDS = float(os.environ.get("HALLQ_DB_HOLD_SECONDS", "60"))
_pool_max = DATABASES["default"]["OPTIONS"].get("pool", {}).get("max_size")
if HALLQ_DB_HOLD_SECONDS > 0 and _pool_max is not None and _pool_max <= HALLQ_REQUEST_THREADS:
    raise ImproperlyConfigured(
        f"HALLQ_REQUEST_THREADS ({HALLQ_REQUEST_THREADS}) must be below HALLQ_DB_POOL_MAX "
        f"({_pool_max}): each request thread keeps a connection for HALLQ_DB_HOLD_SECONDS, and "
        "the streams' reads and the workers need the rest. Raise the pool, lower the threads, "
        "or set HALLQ_DB_HOLD_SECONDS=0."
    )
# The hottest reads as prepared statements of their connection (hallq.common.db.fetch_all;
# docs/decisions/0006). Off ("0") behind a pooler in transaction mode that cannot keep them.
HALLQ_PREPARED_READS = os.environ.get("HALLQ_PREPARED_READS", "1") != "0"

# Booking (§3.4, §3.9).
HALLQ_MAX_ACTIVE_APPOINTMENTS = int(os.environ.get("HALLQ_MAX_ACTIVE_APPOINTMENTS", "3"))
HALLQ_BLACKLIST_VIOLATIONS = int(os.environ.get("HALLQ_BLACKLIST_VIOLATIONS", "3"))
HALLQ_BLACKLIST_WINDOW_DAYS = int(os.environ.get("HALLQ_BLACKLIST_WINDOW_DAYS", "90"))
HALLQ_BLACKLIST_DAYS = int(os.environ.get("HALLQ_BLACKLIST_DAYS", "90"))

# SMS: a dotted path to a backend class (hallq.common.sms). The console backend prints messages
# (a development machine shows sign-in codes in its terminal); tests use the in-memory one.
SMS_BACKEND = os.environ.get("HALLQ_SMS_BACKEND", "hallq.common.sms.ConsoleBackend")
SMS_SIGN_NAME = os.environ.get("HALLQ_SMS_SIGN_NAME", "政务服务")

# The WeChat official account (§6). Unset app id/secret: not configured — QR codes on tickets fall
# back to the H5 link and no WeChat message is tried. `make run` points these at the local
# stand-in (`manage.py wechat_sandbox`).
WECHAT_APP_ID = os.environ.get("HALLQ_WECHAT_APP_ID", "")
WECHAT_APP_SECRET = os.environ.get("HALLQ_WECHAT_APP_SECRET", "")
WECHAT_TOKEN = os.environ.get("HALLQ_WECHAT_TOKEN", "")
# The EncodingAESKey of safe mode (43 characters); empty: plain mode.
WECHAT_AES_KEY = os.environ.get("HALLQ_WECHAT_AES_KEY", "")
WECHAT_API_BASE = os.environ.get("HALLQ_WECHAT_API_BASE", "https://api.weixin.qq.com").rstrip("/")
WECHAT_OAUTH_BASE = os.environ.get("HALLQ_WECHAT_OAUTH_BASE", "https://open.weixin.qq.com").rstrip(
    "/"
)
WECHAT_TIMEOUT_SECONDS = float(os.environ.get("HALLQ_WECHAT_TIMEOUT_SECONDS", "5"))
# Template and subscription message ids per notification kind, with the template's field keys.
# The keys come from the templates chosen in the official account's back end; these defaults
# match the stand-in.
WECHAT_TEMPLATES: dict[str, dict[str, object]] = json.loads(
    os.environ.get("HALLQ_WECHAT_TEMPLATES", "{}")
) or {
    kind: {"template_id": f"tpl_{kind}"}
    for kind in (
        "booking_confirmed",
        "booking_cancelled",
        "booking_reminder",
        "pre_call",
        "call",
        "recall",
        "no_show",
        "appointment_no_show",
        "blacklisted",
        "evaluation",
    )
}
WECHAT_SUBSCRIBE_TEMPLATES: dict[str, dict[str, object]] = json.loads(
    os.environ.get("HALLQ_WECHAT_SUBSCRIBE_TEMPLATES", "{}")
) or {kind: {"template_id": f"sub_{kind}"} for kind in WECHAT_TEMPLATES}
WECHAT_MENU: list[dict[str, object]] = [
    {
        "name": "办事",
        "sub_button": [
            {"type": "view", "name": "预约办事", "url": f"{PUBLIC_URL}/book/"},
            {"type": "view", "name": "我的预约", "url": f"{PUBLIC_URL}/me/"},
            {"type": "view", "name": "我的号票", "url": f"{PUBLIC_URL}/me/ticket/"},
        ],
    },
    {"type": "view", "name": "排队进度", "url": f"{PUBLIC_URL}/progress/"},
    {"type": "view", "name": "附近大厅", "url": f"{PUBLIC_URL}/halls/nearby/"},
]

# SMS vendors (hallq.common.sms): the endpoint is configurable so the stand-in can take it.
SMS_ENDPOINT = os.environ.get("HALLQ_SMS_ENDPOINT", "")
SMS_ACCESS_KEY_ID = os.environ.get("HALLQ_SMS_ACCESS_KEY_ID", "")
SMS_ACCESS_KEY_SECRET = os.environ.get("HALLQ_SMS_ACCESS_KEY_SECRET", "")
SMS_SDK_APP_ID = os.environ.get("HALLQ_SMS_SDK_APP_ID", "")
SMS_TEMPLATE_CODES: dict[str, str] = json.loads(os.environ.get("HALLQ_SMS_TEMPLATE_CODES", "{}"))
