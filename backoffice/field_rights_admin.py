"""The admin side of ``backoffice.field_rights``: protected fields read-only, sensitive fields masked.

``protected_fields`` (``{field: permission}``) are read-only on the change form
for users without the permission: they are not in the form, so a POST that
carries them changes nothing (and the service would refuse it anyway).
``sensitive_fields`` (encrypted) are additionally replaced by their masked
value (``<field>_masked``, read-only) on the change form, the version pages
and the history list's "changes", and left out of exports. Lists show the
masked value to everyone (add ``"<field>_masked"`` to ``list_display``).
"""

from __future__ import annotations

from simple_history.template_utils import HistoricalRecordContextHelper
from unfold.decorators import display

from backoffice.encryption import mask
from backoffice.field_rights import may


def masked_display(field_name: str, description: str):
    """An admin column/read-only field showing ``••••1234``."""

    @display(description=description)
    def masked(self, obj):
        return mask(getattr(obj, field_name, None)) or "-"

    masked.__name__ = f"{field_name}_masked"
    return masked


class _MaskingHistoryHelper(HistoricalRecordContextHelper):
    def __init__(self, model, historical_record, *, hidden: set[str], **kwargs):
        super().__init__(model, historical_record, **kwargs)
        self.hidden = hidden

    def prepare_delta_change_value(self, change, value):
        if change.field in self.hidden:
            return mask(value) or "-"
        return super().prepare_delta_change_value(change, value)


class ProtectedFieldsAdminMixin:
    """Put before ``SimpleHistoryAdmin``/``ModelAdmin`` in the bases."""

    protected_fields: dict[str, str] = {}
    sensitive_fields: dict[str, str] = {}

    def _locked_fields(self, request) -> set[str]:
        rules = {**self.protected_fields, **self.sensitive_fields}
        return {name for name, permission in rules.items() if not may(request.user, permission)}

    def _hidden_fields(self, request) -> set[str]:
        return {name for name, permission in self.sensitive_fields.items() if not may(request.user, permission)}

    def get_fieldsets(self, request, obj=None):
        hidden = self._hidden_fields(request)
        fieldsets = super().get_fieldsets(request, obj)
        if not hidden:
            return fieldsets
        return [
            (name, {**options, "fields": [f"{f}_masked" if f in hidden else f for f in options["fields"]]})
            for name, options in fieldsets
        ]

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        hidden = self._hidden_fields(request)
        for name in sorted(self._locked_fields(request)):
            readonly.append(f"{name}_masked" if name in hidden else name)
        return readonly

    def get_export_resource_kwargs(self, request, **kwargs):
        return {**super().get_export_resource_kwargs(request, **kwargs), "user": request.user}

    def get_historical_record_context_helper(self, request, historical_record):
        hidden = self._hidden_fields(request)
        if not hidden:
            return super().get_historical_record_context_helper(request, historical_record)
        return _MaskingHistoryHelper(self.model, historical_record, hidden=hidden)
