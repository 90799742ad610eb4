"""Settings for the test suite: the development configuration, opted into explicitly.

``backoffice.settings`` runs in production mode unless ``DJANGO_DEBUG`` says
otherwise. pytest-django imports the settings before any conftest runs, so the
switch lives here, in the module pyproject.toml names as DJANGO_SETTINGS_MODULE.
Tests of production mode start their own process with ``backoffice.settings``
(tests/backoffice/test_settings.py).
"""

import os

os.environ["DJANGO_DEBUG"] = "true"

from backoffice.settings import *  # noqa: E402, F403

# API throttles count per user id in the cache, which outlives each test's database: a suite-sized
# budget keeps them out of the way. tests/backoffice/test_auth.py sets a low rate where it tests them.
REST_FRAMEWORK = {**REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"anon": "100000/minute", "user": "100000/minute"}}  # noqa: F405

# Real password hashing costs ~0.4 s per sign-in; the sign-in tests make hundreds.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# pytest-django leaves a SQLite test database in memory under xdist only when ENGINE is literally
# Django's backend or TEST NAME is ":memory:"; with django-prometheus's wrapper (kept, so the suite
# covers it) say ":memory:" explicitly, or each worker would open a file named after the dev database.
if DATABASES["default"]["ENGINE"].endswith("sqlite3") and not DATABASES["default"]["TEST"].get("NAME"):  # noqa: F405
    DATABASES["default"]["TEST"]["NAME"] = ":memory:"  # noqa: F405

# The start page caches its figures per warehouse scope (backoffice/dashboard_cache.py); the cache
# outlives each test's database, so it is off here and the tests of the cache turn it on themselves.
DASHBOARD_CACHE_SECONDS = 0

# Under pytest-xdist the workers share one Redis; a test that clears the cache (Django's RedisCache
# clear() is FLUSHDB) would wipe what another worker's test just cached. Each worker gets its own
# Redis database number, so workers never see each other's keys.
if REDIS_URL:  # noqa: F405
    from urllib.parse import urlsplit, urlunsplit

    _worker = os.environ.get("PYTEST_XDIST_WORKER", "gw-1")
    _database = 1 + (int(_worker[2:]) + 1) % 15 if _worker[2:].lstrip("-").isdigit() else 1
    CACHES = {  # noqa: F405
        "default": {**CACHES["default"], "LOCATION": urlunsplit(urlsplit(REDIS_URL)._replace(path=f"/{_database}"))}  # noqa: F405
    }
