"""Helpers around django-simple-history shared by every app."""

from __future__ import annotations

from django.db import models


def save_with_user(instance: models.Model, user, **save_kwargs) -> None:
    """Save ``instance`` so that its history row names ``user``.

    Inside a request the history middleware already knows the user; services
    are also called from tasks and commands, so they pass it explicitly.
    """
    if user is not None and getattr(user, "is_authenticated", False):
        instance._history_user = user
    instance.save(**save_kwargs)
