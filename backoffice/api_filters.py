"""Filters every ``/api/v1/`` list shares: ``updated_since`` (incremental sync) and date ranges."""

from __future__ import annotations

import datetime as dt

import django_filters
from django.core.exceptions import ValidationError
from django_filters.fields import IsoDateTimeField


class UtcIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 date-time, converted to UTC: PostgreSQL refuses offsets beyond ±15:59 that
    Python accepts, and a moment at the edge of the calendar cannot be converted — both 400s."""

    def to_python(self, value):
        value = super().to_python(value)
        if value is None:
            return None
        try:
            return value.astimezone(dt.UTC)
        except (OverflowError, ValueError):
            raise ValidationError("Enter a date and time within the years 1 to 9999.", code="invalid") from None


class IsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    """``django_filters.IsoDateTimeFilter`` taking any offset (see ``UtcIsoDateTimeField``)."""

    field_class = UtcIsoDateTimeField


class UpdatedSinceFilterSet(django_filters.FilterSet):
    """``?updated_since=2025-01-31T10:00:00+01:00``: rows changed at or after that moment (``updated_at``)."""

    updated_since = IsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")
    created_after = IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")


def active_filter():
    return django_filters.BooleanFilter(field_name="is_active")
