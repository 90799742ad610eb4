"""Fields only some users may see or change (docs/security.md "Credit limit and tax exemption").

A model's rules are a dict ``{field name: "app.permission"}``. The services
check them (``check_field_rights``: one place that the admin, imports and the
API all go through); the admin shows such fields read-only
(``backoffice.field_rights_admin``); imports list a row error naming the
column (``ProtectedFieldsResourceMixin``). Sensitive (encrypted) fields are
also *hidden*: masked in lists and on the change form, left out of exports.

``user=None`` is the system (demo data, management commands): not checked.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import models

from backoffice.errors import BusinessError


class FieldChangeRefused(BusinessError):
    """The user may not change some of the fields asked for; nothing was written."""

    code = "field_change_refused"
    http_status = 403

    def __init__(self, fields: list[str], model: type[models.Model] | None = None) -> None:
        self.fields = list(fields)
        names = ", ".join(_label(model, name) for name in self.fields)
        super().__init__(f"Only a Manager or Admin may change: {names}.", fields=self.fields)


def _label(model, name: str) -> str:
    if model is None:
        return name
    try:
        return str(model._meta.get_field(name).verbose_name)
    except Exception:  # noqa: BLE001 - a label, never an error
        return name


def may(user, permission: str) -> bool:
    """``user=None`` is the system; otherwise the permission (superusers have every one)."""
    return user is None or bool(getattr(user, "is_active", False) and user.has_perm(permission))


def _current_value(obj, model, name: str):
    if obj is not None:
        return getattr(obj, name)
    default = model._meta.get_field(name).get_default()
    return None if default == "" else default


def _same(a, b) -> bool:
    if a in (None, "") and b in (None, ""):
        return True
    return a == b


def refused_fields(
    user, *, model: type[models.Model], current, values: Mapping[str, Any], rules: Mapping[str, str]
) -> list[str]:
    """Names in ``values`` that change a protected field the user may not change.

    ``current`` is the saved record, or ``None`` for a new one (then the field's default is the "unchanged" value:
    a new record may be created with protected fields left at their defaults).
    """
    refused = []
    for name, permission in rules.items():
        changed = name in values and not _same(values[name], _current_value(current, model, name))
        if changed and not may(user, permission):
            refused.append(name)
    return refused


def check_field_rights(user, *, model, current, values: Mapping[str, Any], rules: Mapping[str, str]) -> None:
    """Raise ``FieldChangeRefused`` if ``values`` change a field the user may not change."""
    refused = refused_fields(user, model=model, current=current, values=values, rules=rules)
    if refused:
        raise FieldChangeRefused(refused, model)


class ProtectedFieldsResourceMixin:
    """For a django-import-export resource: protected fields in imports and exports.

    ``protected_fields``: ``{field: permission}``; ``sensitive_fields``: the ones left out of exports for users without
    the permission. The import engine passes ``user`` to ``import_data``; the admin's export passes it to the
    constructor (``ProtectedFieldsAdminMixin.get_export_resource_kwargs``). An import row that changes a protected
    field the user may not change is invalid, with the column named; new rows may leave them at their defaults.
    A resource used without a user (scripts, tests of the resource alone) is the system and is not restricted.
    """

    protected_fields: Mapping[str, str] = {}
    sensitive_fields: Mapping[str, str] = {}

    def __init__(self, user=None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.user = user

    def before_import(self, dataset, **kwargs):
        if "user" in kwargs:
            self.user = kwargs["user"]
        super().before_import(dataset, **kwargs)

    def get_export_fields(self, selected_fields=None):
        fields = super().get_export_fields(selected_fields)
        hidden = {name for name, permission in self.sensitive_fields.items() if not may(self.user, permission)}
        return [f for f in fields if f.attribute not in hidden]

    def check_field_rights(self, *, current, values) -> None:
        """The service's rule (override to call the model's own ``<model>_check_field_rights``)."""
        check_field_rights(
            self.user, model=self._meta.model, current=current, values=values, rules=self.protected_fields
        )

    def validate_instance(self, instance, import_validation_errors=None, validate_unique=True):
        errors = {key: list(messages) for key, messages in (import_validation_errors or {}).items()}
        model = type(instance)
        current = model._base_manager.filter(pk=instance.pk).first() if instance.pk else None
        columns = {f.attribute: f.column_name for f in self.fields.values() if f.attribute}
        values = {name: getattr(instance, name) for name in self.protected_fields if name in columns}
        try:
            self.check_field_rights(current=current, values=values)
            refused = []
        except FieldChangeRefused as error:
            refused = error.fields
        for name in refused:
            column = columns[name]
            if current is None:
                reason = f"Only a Manager or Admin may set {column}: leave it empty for a new record."
            else:
                reason = f"Only a Manager or Admin may change {column} (it is {_shown(self, name, current)})."
            errors.setdefault(column, []).append(reason)
        super().validate_instance(instance, errors or None, validate_unique)


def _shown(resource, name: str, current) -> str:
    value = getattr(current, name)
    if name in resource.sensitive_fields:
        return "set" if value else "empty"
    if value in (None, ""):
        return "empty"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)
