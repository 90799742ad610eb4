"""
WSGI config for backoffice project (gunicorn serves ``backoffice.wsgi:application``).

It exposes the WSGI callable as a module-level variable named ``application``.

For more information on this file, see
https://docs.djangoproject.com/en/5.2/howto/deployment/wsgi/
"""

import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backoffice.settings")

application = get_wsgi_application()


def prepare_worker() -> None:
    """Load every URL configuration (the admin, the API router) now, then move what startup built out of the
    garbage collector's way (``gc.freeze``, as Python's documentation suggests for long-lived processes):
    otherwise every full collection (about one request in 13) walks the ~200,000 objects of Django, the
    admin and the API again — ~100 ms each on this machine, most of a page's p95 (``benchmarks/pages.py``)."""
    from django.urls import get_resolver

    _lookups = get_resolver().reverse_dict  # imports every included URL configuration and indexes it
    gc.collect()
    gc.freeze()


prepare_worker()
