"""Django settings, read from the environment once at start-up.

Two modes share one code base:
- services: DATABASE_URL (PostgreSQL) and REDIS_URL (cache, Celery broker) are set;
- embedded: neither is set; a SQLite file under var/, an in-process cache and eager Celery tasks.
See README.md for every variable.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import os
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from celery.schedules import crontab
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent


def _env_flag(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _env_list(name: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, "").split(",") if item.strip()]


DATABASE_URL = os.environ.get("DATABASE_URL", "").strip()
REDIS_URL = os.environ.get("REDIS_URL", "").strip()
APP_URL = os.environ.get("APP_URL", "http://127.0.0.1:8000").rstrip("/")

DEBUG = _env_flag("DEBUG", default=False)
# Days raw shopper events are kept before only their daily rollups remain.
EVENT_RETENTION_DAYS = int(os.environ.get("EVENT_RETENTION_DAYS", "30"))
# Event batches one client address (kept only transiently, as a keyed hash) may post per shop and minute.
EVENT_BATCHES_PER_MINUTE = int(os.environ.get("EVENT_BATCHES_PER_MINUTE", "60"))
# How long a new web process may spend loading the likeliest shops' storefront before it serves
# (recommendations/storefront/warm.py); 0 turns warming off.
STOREFRONT_WARM_SECONDS = float(os.environ.get("STOREFRONT_WARM_SECONDS", "15"))
# Addresses or networks of the proxies in front of this deployment (e.g. "10.0.0.0/8,127.0.0.1"):
# only their X-Forwarded-For entries are believed when rate limits look for the client's address.
# A malformed entry stops start-up rather than silently trusting nothing.
TRUSTED_PROXIES = [str(ipaddress.ip_network(entry, strict=False)) for entry in _env_list("TRUSTED_PROXIES")]
# The demo storefront pages (/demo/...): on with DEBUG (`make demo`) or DEMO_STOREFRONT=1.
DEMO_STOREFRONT = _env_flag("DEMO_STOREFRONT", default=DEBUG)

_INSECURE_DEV_SECRET_KEY = "basketry-insecure-development-key-do-not-use-in-production"
SECRET_KEY = os.environ.get("SECRET_KEY", "").strip() or _INSECURE_DEV_SECRET_KEY
USING_INSECURE_SECRET_KEY = SECRET_KEY == _INSECURE_DEV_SECRET_KEY

# Fernet keys for credentials at rest, newest first; older keys still decrypt during a rotation.
# Without ENCRYPTION_KEYS a key is derived from SECRET_KEY, which is fine for a demo but ties the
# stored credentials to SECRET_KEY: production sets ENCRYPTION_KEYS explicitly.
ENCRYPTION_KEYS = _env_list("ENCRYPTION_KEYS") or [
    base64.urlsafe_b64encode(hashlib.sha256(b"basketry-encryption:" + SECRET_KEY.encode()).digest()).decode()
]

SHOPIFY_API_KEY = os.environ.get("SHOPIFY_API_KEY", "")
SHOPIFY_API_SECRET = os.environ.get("SHOPIFY_API_SECRET", "")
# The previous app secret during a rotation: signatures made with it are still accepted.
SHOPIFY_API_SECRET_OLD = os.environ.get("SHOPIFY_API_SECRET_OLD", "")
# The Admin API version every request and webhook subscription uses; upgraded once a quarter
# (each stable version is supported for at least 12 months).
SHOPIFY_API_VERSION = "2026-10"
SHOPIFY_SCOPES = "read_products,read_orders,read_customers,write_app_proxy"
# Orders older than 60 days need this scope; it is optional (shopify.app.toml) and used when granted.
SHOPIFY_OPTIONAL_SCOPES = "read_all_orders"
# Development and tests only: where `https://{shop}` Admin API calls go instead, e.g.
# http://127.0.0.1:8765/shops/{shop} for a local stand-in. Empty in production.
SHOPIFY_ADMIN_API_BASE_URL = os.environ.get("SHOPIFY_ADMIN_API_BASE_URL", "")
# The theme app extension's id (`shopify app deploy` prints it; also in the Dev Dashboard): the
# onboarding deep links into the theme editor need it. Empty: the links are not offered.
SHOPIFY_THEME_EXTENSION_ID = os.environ.get("SHOPIFY_THEME_EXTENSION_ID", "")
# Shopify Billing (integrations/shopify/billing.py, shops/plans.py). "off" switches it off entirely:
# every shop gets every feature, nothing is charged (self-hosting for one's own stores).
SHOPIFY_BILLING = os.environ.get("SHOPIFY_BILLING", "on").strip().lower() not in {"off", "0", "false", "no"}
# Subscriptions are created with `test: true` (Shopify charges nothing; development stores accept
# only these) unless this is switched off, which a production deployment must do. A test
# subscription only unlocks a plan while this is on.
SHOPIFY_BILLING_TEST = _env_flag("SHOPIFY_BILLING_TEST", default=True)
# Refresh an expiring offline token this long before it runs out.
SHOPIFY_TOKEN_REFRESH_MARGIN_SECONDS = 300
# Largest webhook body accepted; Shopify's biggest payloads (orders with many lines) stay well below.
SHOPIFY_WEBHOOK_MAX_BYTES = int(os.environ.get("SHOPIFY_WEBHOOK_MAX_BYTES", str(2 * 1024 * 1024)))
# Days a processed webhook delivery (and the minimised payload it keeps) is kept for diagnosis.
WEBHOOK_RETENTION_DAYS = int(os.environ.get("WEBHOOK_RETENTION_DAYS", "14"))
# Unfinished processing attempts before a delivery becomes a dead letter (integrations/deliveries.py).
WEBHOOK_MAX_ATTEMPTS = int(os.environ.get("WEBHOOK_MAX_ATTEMPTS", "8"))
# Hours between uninstall and the purge of a shop's data if `shop/redact` never arrives (Shopify
# sends it 48 hours after uninstall).
SHOP_PURGE_AFTER_UNINSTALL_HOURS = int(os.environ.get("SHOP_PURGE_AFTER_UNINSTALL_HOURS", "72"))
# A shop with this many products or paid order lines trains on the `training_large` queue, whose
# workers have the memory for it (recommendations/routing.py, docs/OPERATIONS.md).
TRAINING_LARGE_SHOP_PRODUCTS = int(os.environ.get("TRAINING_LARGE_SHOP_PRODUCTS", "20000"))
TRAINING_LARGE_SHOP_ORDER_LINES = int(os.environ.get("TRAINING_LARGE_SHOP_ORDER_LINES", "1000000"))
# Soft time limit of a training on `training_large` (the hard limit is 5 minutes more); a
# 50,000-product shop trains in about 10 minutes on a free core (docs/BENCHMARKS.md). The broker's
# visibility timeout below must outlast it.
TRAINING_LARGE_TIME_LIMIT_MINUTES = int(os.environ.get("TRAINING_LARGE_TIME_LIMIT_MINUTES", "60"))
# Development and tests only: a CA bundle to trust for stores with a private certificate.
WOOCOMMERCE_CA_BUNDLE = os.environ.get("WOOCOMMERCE_CA_BUNDLE", "")
WOOCOMMERCE_ALLOW_INSECURE_HTTP = _env_flag("WOOCOMMERCE_ALLOW_INSECURE_HTTP", default=False)

ALLOWED_HOSTS = _env_list("ALLOWED_HOSTS") or ["127.0.0.1", "localhost", "[::1]", "testserver"]
_app_host = urlsplit(APP_URL).hostname
if _app_host and _app_host not in ALLOWED_HOSTS:
    ALLOWED_HOSTS.append(_app_host)
CSRF_TRUSTED_ORIGINS = [APP_URL]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "shops",
    "integrations",
    "recommendations",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "config.middleware.CacheOutageMiddleware",
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
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)}
else:
    EMBEDDED_DATABASE_PATH = BASE_DIR / "var" / "basketry.sqlite3"
    EMBEDDED_DATABASE_PATH.parent.mkdir(exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": EMBEDDED_DATABASE_PATH,
            # A web request and a management command may write at the same moment in the demo.
            "OPTIONS": {"timeout": 20},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache ---------------------------------------------------------------------------------
# The cache may have a Redis of its own (docs/OPERATIONS.md: a cache-only instance with an LRU
# memory limit, apart from the broker); without CACHE_REDIS_URL it shares REDIS_URL.
CACHE_REDIS_URL = os.environ.get("CACHE_REDIS_URL", "").strip() or REDIS_URL
# A healthy Redis on the same network answers in about a millisecond (a 20 KB list, p99.9 2 ms
# on loopback): a cache slower than this is treated as down rather than holding a request.
CACHE_SOCKET_TIMEOUT = float(os.environ.get("CACHE_SOCKET_TIMEOUT", "0.25"))
CACHE_CONNECT_TIMEOUT = float(os.environ.get("CACHE_CONNECT_TIMEOUT", "0.1"))
# After a cache failure each process serves without the cache this long before asking again.
CACHE_BREAKER_COOLDOWN_SECONDS = float(os.environ.get("CACHE_BREAKER_COOLDOWN_SECONDS", "5"))
if CACHE_REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "shops.cache_guard.GuardedRedisCache",
            "LOCATION": CACHE_REDIS_URL,
            "KEY_PREFIX": "basketry",
            "OPTIONS": {
                "socket_connect_timeout": CACHE_CONNECT_TIMEOUT,
                "socket_timeout": CACHE_SOCKET_TIMEOUT,
                "breaker_cooldown": CACHE_BREAKER_COOLDOWN_SECONDS,
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "basketry"}}

# --- Celery ---------------------------------------------------------------------------------
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_DEFAULT_QUEUE = "default"
# Declared explicitly so a worker started with `-Q training` and every producer agree on them.
CELERY_TASK_QUEUES = [Queue(name) for name in ("webhooks", "sync", "training", "training_large", "default")]
# Every task names its queue here, in one place.
_QUEUE_BY_TASK = {
    "recommendations.data_profile_refresh": {"queue": "training"},
    "recommendations.training_run_execute": {"queue": "training"},
    "recommendations.training_nightly": {"queue": "default"},
    "recommendations.training_runs_reap": {"queue": "default"},
    "recommendations.events_roll_up": {"queue": "default"},
    "recommendations.events_roll_up_all": {"queue": "default"},
    "integrations.webhook_process": {"queue": "webhooks"},
    "integrations.sync_run": {"queue": "sync"},
    "integrations.sync_poll": {"queue": "sync"},
    "integrations.sync_all": {"queue": "default"},
    "integrations.shopify_billing_reconcile": {"queue": "sync"},
    "integrations.shopify_billing_reconcile_all": {"queue": "default"},
    "integrations.woocommerce_connected": {"queue": "sync"},
    "integrations.woocommerce_webhooks_check_all": {"queue": "default"},
    "integrations.shops_purge_due": {"queue": "default"},
    "integrations.webhook_deliveries_purge": {"queue": "default"},
    "integrations.webhook_deliveries_sweep": {"queue": "default"},
}
# A large shop's training goes to `training_large` (recommendations/routing.py); the table routes the rest.
CELERY_TASK_ROUTES = ("recommendations.routing.training_task_route", _QUEUE_BY_TASK)
CELERY_BEAT_SCHEDULE = {
    # 03:15 UTC, after most shops' evening peak: https://crontab.guru/#15_3_*_*_*
    "training-nightly": {"task": "recommendations.training_nightly", "schedule": crontab(minute=15, hour=3)},
    # Every 2 minutes, the training lock's lifetime: a run whose worker died is failed with the
    # reason and its shop queued again (https://crontab.guru/#*/2_*_*_*_*).
    "training-reap": {"task": "recommendations.training_runs_reap", "schedule": crontab(minute="*/2")},
    # 00:20 UTC, once the day is over: https://crontab.guru/#20_0_*_*_*
    "events-roll-up": {"task": "recommendations.events_roll_up_all", "schedule": crontab(minute=20, hour=0)},
    # Every 6 hours: catch changes whose webhooks never arrived (https://crontab.guru/#40_*/6_*_*_*).
    "shopify-reconcile": {
        "task": "integrations.sync_all",
        "schedule": crontab(minute=40, hour="*/6"),
        "args": ("reconcile",),
    },
    # Every 6 hours, offset from the sync: Shopify's active subscriptions decide each shop's plan
    # (https://crontab.guru/#10_*/6_*_*_*).
    "shopify-billing-reconcile": {
        "task": "integrations.shopify_billing_reconcile_all",
        "schedule": crontab(minute=10, hour="*/6"),
    },
    # Sundays 04:30 UTC, a full sync: deletions whose webhooks were lost (https://crontab.guru/#30_4_*_*_0).
    "shopify-full-weekly": {
        "task": "integrations.sync_all",
        "schedule": crontab(minute=30, hour=4, day_of_week=0),
        "args": ("full",),
    },
    # Hourly: purge shops uninstalled long enough ago (https://crontab.guru/#5_*_*_*_*).
    "shops-purge": {"task": "integrations.shops_purge_due", "schedule": crontab(minute=5)},
    # Hourly: WooCommerce disables a webhook after repeated failed deliveries and never retries
    # (https://crontab.guru/#25_*_*_*_*).
    "woocommerce-webhooks-check": {
        "task": "integrations.woocommerce_webhooks_check_all",
        "schedule": crontab(minute=25),
    },
    # Every minute: deliveries whose message was lost or whose processing failed go out again.
    "webhook-deliveries-sweep": {"task": "integrations.webhook_deliveries_sweep", "schedule": 60.0},
    # 00:50 UTC: https://crontab.guru/#50_0_*_*_*
    "webhook-deliveries-purge": {
        "task": "integrations.webhook_deliveries_purge",
        "schedule": crontab(minute=50, hour=0),
    },
}
# Training tasks run for minutes: one message at a time per worker process keeps the others free.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# visibility_timeout: an unacknowledged message (an acks_late task whose whole worker vanished)
# goes back to the queue after this long. It must outlast the longest hard time limit (training
# on `training_large`: TRAINING_LARGE_TIME_LIMIT_MINUTES + 5) and the longest retry countdown
# (sync: 10 min), or a task still running would be handed out again. socket_timeout /
# socket_connect_timeout: a broker that is down or hung must not hold a web request; a publish
# gives up after these (seconds; above kombu's 1 s BRPOP wait, which consumers need). The webhook
# ingress publishes without retries; its outbox row is sent again by the sweeper.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": max(60 * 60, (TRAINING_LARGE_TIME_LIMIT_MINUTES + 15) * 60),
    "socket_timeout": 3,
    "socket_connect_timeout": 2,
}
# A pool process is replaced after a task during which its peak memory passed this (KiB): a
# training's arrays stay in the process after it ends (2,500 products, 20,000 orders: 130 MB idle,
# 529 MB peak, 334 MB kept). Other tasks stay far below it. See docs/OPERATIONS.md.
CELERY_WORKER_MAX_MEMORY_PER_CHILD = 400 * 1024
# Defaults for a task that does not state its own limits; every task should.
CELERY_TASK_SOFT_TIME_LIMIT = 60
CELERY_TASK_TIME_LIMIT = 90
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"

# --- Internationalisation -------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "static"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
    "EXCEPTION_HANDLER": "integrations.shopify.views._invalid_session_handler",
}

BASKETRY_MODE = {
    "database": "postgresql"
    if DATABASE_URL.startswith(("postgres", "postgresql"))
    else ("sqlite" if not DATABASE_URL else DATABASE_URL.split(":", 1)[0]),
    "cache": "redis" if CACHE_REDIS_URL else "in-process",
    "celery": "redis broker" if REDIS_URL else "eager",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "basketry": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO"), "propagate": False},
        # Django's own log of every 500 (with its traceback) goes to the console outside DEBUG too.
        "django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False},
    },
}
