"""Backoffice settings, read from the environment with safe development defaults.

Production mode is ``DJANGO_DEBUG=false``: it refuses to start without
``DJANGO_SECRET_KEY`` and turns on the secure cookie/HSTS settings that
``manage.py check --deploy`` asks for.
"""

import os
import secrets
import sys
from datetime import timedelta
from pathlib import Path

import dj_database_url
import dj_email_url
from csp.constants import NONCE, NONE, SELF, UNSAFE_EVAL, UNSAFE_INLINE
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse_lazy
from django.utils.translation import gettext_lazy as _
from import_export.formats import base_formats

from backoffice.logs import logging_config, scrub_sentry_event, structlog_configure

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


# Production unless development is asked for: `make run`/`make setup` and the test suite set DJANGO_DEBUG=true.
DEBUG = env_bool("DJANGO_DEBUG", False)

# `manage.py makemigrations` only compares the models with the migration files: it serves nothing, signs
# nothing and decrypts nothing, so it runs on a bare checkout (CI, pre-commit) without production secrets.
# Every other command and the servers still refuse to start without them.
SECRETS_NOT_NEEDED = (
    not DEBUG and Path(sys.argv[0]).name == "manage.py" and sys.argv[1:2] == ["makemigrations"]
)

SECRET_KEY_MIN_LENGTH = 50
SECRET_KEY_MIN_UNIQUE_CHARACTERS = 5
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if SECRETS_NOT_NEEDED and not SECRET_KEY:
    SECRET_KEY = secrets.token_urlsafe(SECRET_KEY_MIN_LENGTH)  # throwaway: never used to sign anything
if not DEBUG:
    if not SECRET_KEY:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY must be set when DJANGO_DEBUG=false. Production is the default; "
            "for development set DJANGO_DEBUG=true (make run does)."
        )
    if (
        len(SECRET_KEY) < SECRET_KEY_MIN_LENGTH
        or len(set(SECRET_KEY)) < SECRET_KEY_MIN_UNIQUE_CHARACTERS
        or SECRET_KEY.startswith("django-insecure-")
    ):
        raise ImproperlyConfigured(
            f"DJANGO_SECRET_KEY is too weak for production: it needs at least {SECRET_KEY_MIN_LENGTH} characters, "
            f"{SECRET_KEY_MIN_UNIQUE_CHARACTERS} of them different, and no 'django-insecure-' prefix. "
            "Generate one with: python -c 'import secrets; print(secrets.token_urlsafe(50))'"
        )
elif not SECRET_KEY:
    SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production"
# Old keys still accepted for signed data (sessions, password reset links) while rotating SECRET_KEY.
SECRET_KEY_FALLBACKS = env_list("DJANGO_SECRET_KEY_FALLBACKS")

# Field encryption keys (encrypted fields; docs/security.md "Encryption at rest") -------------------
# FIELD_ENCRYPTION_KEYS: comma-separated, newest first. The newest encrypts; every key still decrypts.
# django-fernet-encrypted-fields derives each Fernet key from SECRET_KEY (and each of SECRET_KEY_FALLBACKS)
# with one of these as its SALT_KEY: rotate SECRET_KEY only with the old key in DJANGO_SECRET_KEY_FALLBACKS,
# then run `manage.py rotate_encryption_keys` before dropping the old key (docs/operations.md).
FIELD_ENCRYPTION_KEY_MIN_LENGTH = 32
FIELD_ENCRYPTION_KEYS = env_list("FIELD_ENCRYPTION_KEYS")
if SECRETS_NOT_NEEDED and not FIELD_ENCRYPTION_KEYS:
    FIELD_ENCRYPTION_KEYS = [secrets.token_urlsafe(FIELD_ENCRYPTION_KEY_MIN_LENGTH)]  # throwaway: decrypts nothing
if not FIELD_ENCRYPTION_KEYS:
    if not DEBUG:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS must be set when DJANGO_DEBUG=false (comma-separated, newest first). "
            "Generate a key with: python -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )
    FIELD_ENCRYPTION_KEYS = ["dev-only-field-encryption-key-do-not-use-in-production"]
elif not DEBUG and any(len(key) < FIELD_ENCRYPTION_KEY_MIN_LENGTH for key in FIELD_ENCRYPTION_KEYS):
    raise ImproperlyConfigured(
        f"Every key in FIELD_ENCRYPTION_KEYS needs at least {FIELD_ENCRYPTION_KEY_MIN_LENGTH} characters. "
        "Generate one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'"
    )
SALT_KEY = FIELD_ENCRYPTION_KEYS  # the library's name for the list

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if not DEBUG else "*")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "unfold",
    "unfold.contrib.filters",
    "unfold.contrib.forms",
    "unfold.contrib.inlines",
    "unfold.contrib.import_export",
    "unfold.contrib.simple_history",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "import_export",
    "simple_history",
    "django_filters",
    "django_q",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_prometheus",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "backoffice",
    "inventory",
    "orders",
    "reports",
    "knox",
    "integrations",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "backoffice.security_headers.CSPMiddleware",
    "backoffice.security_headers.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "backoffice.request_guards.RejectNulBytesMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_structlog.middlewares.RequestMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "backoffice.signin.TwoFactorRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "integrations.idempotency.IdempotencyMiddleware",
    "axes.middleware.AxesMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "backoffice.urls"

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

WSGI_APPLICATION = "backoffice.wsgi.application"

# Databases ---------------------------------------------------------------
# SQLite (WAL mode, busy timeout) by default; PostgreSQL via DATABASE_URL.
SQLITE_PATH = os.environ.get("SQLITE_PATH", str(BASE_DIR / "db.sqlite3"))
DATABASES = {
    "default": dj_database_url.config(
        env="DATABASE_URL",
        default=f"sqlite:///{SQLITE_PATH}",
        conn_max_age=int(os.environ.get("DJANGO_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": ("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000;"),
    }
DATABASES["default"].setdefault("TEST", {})
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # In-memory test database; "NAME" stays for tests that need a file (live server).
    DATABASES["default"]["TEST"]["NAME"] = os.environ.get("SQLITE_TEST_PATH") or None
# django-prometheus's wrappers of the same backends count queries, errors and latency per database (/metrics).
_PROMETHEUS_DB_ENGINES = {
    "django.db.backends.sqlite3": "django_prometheus.db.backends.sqlite3",
    "django.db.backends.postgresql": "django_prometheus.db.backends.postgresql",
}
_engine = DATABASES["default"]["ENGINE"]
DATABASES["default"]["ENGINE"] = _PROMETHEUS_DB_ENGINES.get(_engine, _engine)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Cache: Redis when REDIS_URL is set, else local memory.
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    # Django's Redis backend, reusing its client per pool (backoffice/redis_cache.py: same commands, less CPU).
    CACHES = {"default": {"BACKEND": "backoffice.redis_cache.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# The start page's figures are cached this long per warehouse scope, and dropped when stock or orders
# move (backoffice/dashboard_cache.py); 0 turns the cache off.
DASHBOARD_CACHE_SECONDS = int(os.environ.get("DASHBOARD_CACHE_SECONDS", "60"))

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Sign-in: lockout (django-axes), two-factor authentication (django-otp), login audit.
# docs/security.md "Sign-in" explains each setting.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Reverse proxies in front of Django that append to X-Forwarded-For (0: use the socket address).
TRUSTED_PROXY_COUNT = int(os.environ.get("DJANGO_TRUSTED_PROXY_COUNT", "0"))
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_ENABLE_ACCESS_FAILURE_LOG = True
AXES_ENABLE_ADMIN = False  # backoffice/admin.py registers Unfold versions
AXES_CLIENT_IP_CALLABLE = "backoffice.signin.client_ip"
AXES_LOCKOUT_CALLABLE = "backoffice.signin.lockout_response"
# Roles that must use two-factor authentication (superusers too when "Admin" is listed).
# Development defaults to none so that `make run`'s printed admin login works without a phone.
OTP_REQUIRED_ROLES = env_list("DJANGO_OTP_REQUIRED_ROLES", "" if DEBUG else "Admin,Manager")
OTP_TOTP_ISSUER = os.environ.get("DJANGO_OTP_ISSUER", "Backoffice")
OTP_RECOVERY_CODE_COUNT = 10

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("DJANGO_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# Static files --------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"] if (BASE_DIR / "static").is_dir() else []
MEDIA_URL = "media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", BASE_DIR / "media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if env_bool("DJANGO_MANIFEST_STATIC", not DEBUG)
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

LOGIN_URL = reverse_lazy("admin:login")
LOGIN_REDIRECT_URL = "/admin/"

# E-mail ----------------------------------------------------------------------
EMAIL_URL = os.environ.get("EMAIL_URL", "")
if EMAIL_URL:
    # dj-email-url would ignore the "+tls" of smtp+tls:// (STARTTLS; its "submission://") and "+ssl" of smtp+ssl://.
    _email_scheme, _email_sep, _email_rest = EMAIL_URL.partition("://")
    if _email_scheme == "smtp+tls":
        EMAIL_URL = f"submission://{_email_rest}"
    elif _email_scheme == "smtp+ssl":
        EMAIL_URL = f"smtp://{_email_rest}{'&' if '?' in _email_rest else '?'}ssl=true"
    vars().update(dj_email_url.parse(EMAIL_URL))
elif os.environ.get("EMAIL_HOST"):
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = os.environ["EMAIL_HOST"]
    EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "587"))
    EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "backoffice@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
ADMINS = [("Admin", a) for a in env_list("DJANGO_ADMINS")]
# The address people open the back office at: absolute links in e-mails (scheduled reports).
SITE_URL = os.environ.get("SITE_URL", "http://localhost:8000").rstrip("/")
# Documents (order confirmation, purchase order, packing slip, delivery note PDFs; docs/operations.md):
# the company printed at the top, and the currency every amount is shown in (backoffice.money).
COMPANY_NAME = os.environ.get("COMPANY_NAME", "") or "Backoffice"
COMPANY_ADDRESS = os.environ.get("COMPANY_ADDRESS", "").replace("\\n", "\n")
# A PNG/JPEG/SVG file: an absolute path, or a static file path such as "orders/pdf/logo.svg". Empty = no logo.
COMPANY_LOGO = os.environ.get("COMPANY_LOGO", "")
# ISO 4217 code; by default the currency of LANGUAGE_CODE's country (en-us → USD, en-gb → GBP, de/fr/… → EUR).
CURRENCY = os.environ.get("CURRENCY", "").strip().upper() or {"en-gb": "GBP", "en-us": "USD", "en": "USD"}.get(
    LANGUAGE_CODE.lower(), "EUR"
)
# The daily reorder alert also creates the draft purchase orders (reports.reorder; docs/reports.md).
REORDER_AUTO_DRAFT = env_bool("REORDER_AUTO_DRAFT", False)

# Security (production) --------------------------------------------------------
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]

# Browser headers, in every mode (docs/security.md "Content-Security-Policy and browser headers").
# Referrer-Policy (same-origin) and Cross-Origin-Opener-Policy (same-origin) are Django's defaults.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        # 'unsafe-eval': Unfold ships Alpine.js's standard build, which compiles every x-data/x-on
        # expression with Function(). No 'unsafe-inline': inline scripts need the request's nonce.
        "script-src": [SELF, NONCE, UNSAFE_EVAL],
        # <style> elements need the nonce (Unfold's theme colours, htmx's indicator style);
        # style="" attributes are allowed because Unfold renders them and Alpine sets them (x-bind:style).
        "style-src-elem": [SELF, NONCE],
        "style-src-attr": [UNSAFE_INLINE],
        # For browsers that do not know the -elem/-attr directives above.
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        # 'self' instead on the views Unfold opens in its related-object popup (backoffice.security_headers).
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    },
}
PERMISSIONS_POLICY = {
    feature: []
    for feature in (
        "accelerometer",
        "autoplay",
        "camera",
        "display-capture",
        "geolocation",
        "gyroscope",
        "hid",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "screen-wake-lock",
        "serial",
        "usb",
    )
}

# Logs, metrics, error reports (docs/operations.md "Monitoring") -------------------
# Structured logs: JSON lines in production, readable console lines in development; secrets redacted.
LOG_FORMAT = os.environ.get("DJANGO_LOG_FORMAT", "console" if DEBUG else "json")
if LOG_FORMAT not in {"json", "console"}:
    raise ImproperlyConfigured("DJANGO_LOG_FORMAT must be 'json' or 'console'.")
structlog_configure()
LOGGING = logging_config(log_format=LOG_FORMAT, level=os.environ.get("DJANGO_LOG_LEVEL", "INFO"))
# One e-mail to ADMINS per distinct 5xx error or failed task per interval (seconds).
ALERT_MAIL_INTERVAL = int(os.environ.get("ALERT_MAIL_INTERVAL", "900"))
# Error reports hide every form field / query parameter / local named like a secret (the log redaction's rule).
DEFAULT_EXCEPTION_REPORTER_FILTER = "backoffice.alerts.SensitiveDataExceptionReporterFilter"

# /metrics (Prometheus): a bearer token, or a client address in these networks.
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
METRICS_ALLOWED_IPS = env_list("METRICS_ALLOWED_IPS", "127.0.0.1,::1")

SENTRY_DSN = os.environ.get("SENTRY_DSN", "")
if SENTRY_DSN:
    import sentry_sdk

    sentry_sdk.init(
        dsn=SENTRY_DSN,
        environment=os.environ.get("SENTRY_ENVIRONMENT", "development" if DEBUG else "production"),
        traces_sample_rate=float(os.environ.get("SENTRY_TRACES_SAMPLE_RATE", "0")),
        send_default_pii=False,
        max_request_body_size="never",
        before_send=scrub_sentry_event,
    )

# Backups (manage.py backup / restore; nightly schedule keeps the newest BACKUP_KEEP archives).
BACKUP_DIR = Path(os.environ.get("BACKUP_DIR", BASE_DIR / "backups"))
BACKUP_KEEP = int(os.environ.get("BACKUP_KEEP", "14"))

# django-q2 ------------------------------------------------------------------
Q_CLUSTER = {
    "name": "backoffice",
    "workers": int(os.environ.get("Q_WORKERS", "2")),
    "timeout": 300,
    "retry": 360,
    "max_attempts": 3,
    "catch_up": False,
    "label": "Tasks",
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

# REST framework ---------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Tokens first: an unauthenticated request gets 401 with "WWW-Authenticate: Bearer".
        "integrations.auth.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
        # Reached by anonymous requests only: throttled per address before permissions answer 401.
        "integrations.auth.AnonymousThrottleAuthentication",
    ],
    # Per client address (anonymous) and per user, counted in the cache (Redis when REDIS_URL is set).
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": os.environ.get("DJANGO_API_THROTTLE_ANON", "60/minute"),
        "user": os.environ.get("DJANGO_API_THROTTLE_USER", "1200/minute"),
    },
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
    "DEFAULT_PERMISSION_CLASSES": ["backoffice.permissions.ModelPermissions"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    # drf-spectacular plus the error responses and headers of every /api/v1/ operation (docs/api.md).
    "DEFAULT_SCHEMA_CLASS": "backoffice.api_schema.ApiAutoSchema",
    "EXCEPTION_HANDLER": "backoffice.api.exception_handler",
    # JSON nested deeper than backoffice.limits.MAX_JSON_DEPTH is a 400 (docs/security.md).
    "DEFAULT_PARSER_CLASSES": [
        "backoffice.api.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
}
# Personal API tokens (django-rest-knox; integrations app, docs/api.md): "Authorization: Bearer <token>".
KNOX_TOKEN_MODEL = "integrations.ApiToken"
# knox's own migrations would create its (swapped-out) knox_authtoken table, which test flushes cannot truncate.
MIGRATION_MODULES = {"knox": None}
API_TOKEN_DAYS = int(os.environ.get("API_TOKEN_DAYS", "90"))
REST_KNOX = {
    "AUTH_HEADER_PREFIX": "Bearer",
    "TOKEN_PREFIX": "bo_",
    "TOKEN_TTL": timedelta(days=API_TOKEN_DAYS),
    "AUTO_REFRESH": False,
}
# Webhooks to loopback/private addresses and over plain http: development only (integrations/webhooks.py).
WEBHOOK_ALLOW_PRIVATE_TARGETS = DEBUG
SPECTACULAR_SETTINGS = {
    "TITLE": "Backoffice API",
    "DESCRIPTION": "REST API for integrations: catalogue, stock, orders.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # The ways to sign in the document shows (the anonymous throttle class is not one).
    "AUTHENTICATION_WHITELIST": [
        "integrations.auth.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
}

# import-export ----------------------------------------------------------------
IMPORT_EXPORT_USE_TRANSACTIONS = True
IMPORT_EXPORT_SKIP_ADMIN_LOG = False
IMPORT_EXPORT_IMPORT_PERMISSION_CODE = "add"
IMPORT_EXPORT_EXPORT_PERMISSION_CODE = "view"
IMPORT_FORMATS = [base_formats.CSV, base_formats.XLSX]
EXPORT_FORMATS = [base_formats.CSV, base_formats.XLSX]

# Uploads and imports (backoffice/uploads.py, backoffice/imports.py; docs/security.md) ---------
IMPORT_MAX_BYTES = int(os.environ.get("IMPORT_MAX_BYTES", 50 * 1024 * 1024))
IMPORT_MAX_ROWS = int(os.environ.get("IMPORT_MAX_ROWS", 200_000))
IMPORT_MAX_COLUMNS = int(os.environ.get("IMPORT_MAX_COLUMNS", 200))
IMPORT_MAX_UNCOMPRESSED_BYTES = int(os.environ.get("IMPORT_MAX_UNCOMPRESSED_BYTES", 250 * 1024 * 1024))
IMPORT_MAX_COMPRESSION_RATIO = int(os.environ.get("IMPORT_MAX_COMPRESSION_RATIO", 200))
IMPORT_SYNC_MAX_ROWS = int(os.environ.get("IMPORT_SYNC_MAX_ROWS", 200))
# Seconds a preview can be confirmed; abandoned previews are deleted after this.
IMPORT_PREVIEW_MAX_AGE = int(os.environ.get("IMPORT_PREVIEW_MAX_AGE", 24 * 60 * 60))
# Admin list exports of more rows than this are written in the background (backoffice/export_jobs.py).
EXPORT_SYNC_MAX_ROWS = int(os.environ.get("EXPORT_SYNC_MAX_ROWS", 100_000))
# Error rows listed on a preview page (all are counted).
IMPORT_PREVIEW_MAX_ERRORS = int(os.environ.get("IMPORT_PREVIEW_MAX_ERRORS", 1000))
# A background validation or import may take this long per row (its django-q2 timeout, at least 300 s).
IMPORT_TASK_SECONDS_PER_ROW = float(os.environ.get("IMPORT_TASK_SECONDS_PER_ROW", 0.05))
# django-q2 hands a task that is still running to another worker after "retry" seconds: it must
# outlast the longest task, a background import of IMPORT_MAX_ROWS rows.
Q_CLUSTER["retry"] = max(Q_CLUSTER["retry"], int(IMPORT_MAX_ROWS * IMPORT_TASK_SECONDS_PER_ROW) + 600)
# Uploads above 2.5 MB go to a temporary file (deleted at the end of the request), never into memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
# Form fields other than files; a file upload request is bounded by IMPORT_MAX_BYTES (and the proxy's body limit).
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
# Fields in one form post: an order of backoffice.limits.MAX_INLINE_FORMS lines (about 8 fields each).
DATA_UPLOAD_MAX_NUMBER_FIELDS = 3000
FILE_UPLOAD_PERMISSIONS = 0o600
# Screenshots sent with staff feedback (backoffice/feedback.py); never above IMPORT_MAX_BYTES.
FEEDBACK_SCREENSHOT_MAX_BYTES = int(os.environ.get("FEEDBACK_SCREENSHOT_MAX_BYTES", 5 * 1024 * 1024))

# simple-history ---------------------------------------------------------------
SIMPLE_HISTORY_REVERT_DISABLED = False

# Unfold -----------------------------------------------------------------------
UNFOLD = {
    "SITE_TITLE": "Backoffice",
    "SITE_HEADER": "Backoffice",
    "SITE_SUBHEADER": _("Stock, orders and reports"),
    "SITE_SYMBOL": "inventory_2",
    "SHOW_HISTORY": True,
    "SHOW_VIEW_ON_SITE": False,
    "DASHBOARD_CALLBACK": "backoffice.dashboard.dashboard_callback",
    "ENVIRONMENT": "backoffice.dashboard.environment_callback",
    "COLORS": {
        "primary": {
            "50": "oklch(97.7% .014 308.299)",
            "100": "oklch(94.6% .033 307.174)",
            "200": "oklch(90.2% .063 306.703)",
            "300": "oklch(82.7% .119 306.383)",
            "400": "oklch(71.4% .203 305.504)",
            "500": "oklch(62.7% .265 303.9)",
            "600": "oklch(55.8% .288 302.321)",
            "700": "oklch(49.6% .265 301.924)",
            "800": "oklch(43.8% .218 303.724)",
            "900": "oklch(38.1% .176 304.987)",
            "950": "oklch(29.1% .149 302.717)",
        },
    },
    "SIDEBAR": {
        "show_search": True,
        "show_all_applications": False,
        "navigation": "backoffice.navigation.sidebar_navigation",
    },
    "ACCOUNT": {"navigation": "backoffice.navigation.account_navigation"},
    # Hub panels, overdue/backordered highlights, phone-width cards (no inline styles: CSP).
    "STYLES": ["backoffice.navigation.admin_stylesheet"],
    "SCRIPTS": ["backoffice.navigation.admin_script"],
    # Ctrl+K finds records too (backoffice/record_search.py: permissions, warehouse scope, indexed lookups).
    # Unfold's own model search stays off: it reads every row an admin search matches, unbounded.
    "COMMAND": {
        "search_models": False,
        "search_callback": "backoffice.record_search.command_search",
        "show_history": True,
    },
}
