"""The WSGI entry point gunicorn serves: it loads every URL configuration before the first request and moves
the objects startup built out of the garbage collector's way (full collections were ~100 ms spikes)."""

from __future__ import annotations

import gc
import importlib
import sys

import pytest
from django.test import RequestFactory
from django.urls import get_resolver


@pytest.mark.django_db
def test_the_worker_loads_its_urls_freezes_startup_objects_and_answers(monkeypatch):
    frozen = []
    monkeypatch.setattr(gc, "freeze", lambda: frozen.append(get_resolver()._populated))  # not this test process
    monkeypatch.delitem(sys.modules, "backoffice.wsgi", raising=False)

    wsgi = importlib.import_module("backoffice.wsgi")
    statuses = []
    environ = RequestFactory()._base_environ(PATH_INFO="/healthz", REQUEST_METHOD="GET", HTTP_HOST="localhost")
    body = b"".join(wsgi.application(environ, lambda status, headers, *args: statuses.append(status)))

    assert frozen == [True]  # frozen once, after the URL configuration was loaded
    assert statuses and statuses[0].startswith("200"), (statuses, body[:200])
