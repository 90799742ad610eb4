"""Encryption at rest for sensitive fields (docs/security.md "Encryption at rest").

The fields use django-fernet-encrypted-fields (module ``encrypted_fields``):
each value is a Fernet token (AES-128-CBC + HMAC-SHA256) in a text column.
The library derives one Fernet key per pair of ``SECRET_KEY`` (and each of
``SECRET_KEY_FALLBACKS``) and ``SALT_KEY`` (PBKDF2-SHA256, 100,000 rounds);
``backoffice.settings`` maps the environment's ``FIELD_ENCRYPTION_KEYS``
(newest first) onto ``SALT_KEY``. The first pair (``SECRET_KEY`` × newest
key) encrypts; every pair decrypts, so old keys keep working until
``manage.py rotate_encryption_keys`` has re-encrypted everything.

``EncryptedCharField`` below is the library's field with two changes:

* the derived keys are cached once per process and per key configuration,
  not on every field instance (the history table's field is a copy of the
  model's), so a settings change (tests, ``override_settings``) is picked up
  and ``clear_key_cache()`` is rarely needed;
* ``clean()`` does not set a flag on the shared field instance (the library's
  semaphore would let another thread of the same gunicorn worker read a
  ciphertext instead of the value while a form is being cleaned).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.apps import apps
from django.conf import settings
from django.core.signals import setting_changed
from django.db import models, transaction
from django.db.models import ExpressionWrapper, F, TextField, Value
from django.dispatch import receiver
from encrypted_fields.fields import EncryptedFieldMixin

logger = logging.getLogger(__name__)

MASK = "••••"
# Every Fernet token starts with the version byte 0x80, base64-encoded.
TOKEN_PREFIX = "gAAAAA"
KEY_SETTINGS = {"SECRET_KEY", "SECRET_KEY_FALLBACKS", "SALT_KEY", "FIELD_ENCRYPTION_KEYS"}
# (model, field, digest of the stored token) already warned about: one log line per field and row, not per read.
_warned: set[tuple[str, str, str]] = set()
_WARNED_MAX = 10_000


def _key_configuration() -> tuple[tuple[str, ...], tuple[str, ...]]:
    salts = settings.SALT_KEY if isinstance(settings.SALT_KEY, (list, tuple)) else [settings.SALT_KEY]
    secrets = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return tuple(secrets), tuple(salts)


class _KeySource:
    """Just enough of a field for the library's own key derivation (``EncryptedFieldMixin.keys``)."""


@lru_cache(maxsize=8)
def _derived_keys(configuration: tuple[tuple[str, ...], tuple[str, ...]]) -> tuple[bytes, ...]:
    # The library reads the settings itself; the configuration argument is the cache key.
    return tuple(EncryptedFieldMixin.keys.func(_KeySource()))


def field_keys() -> tuple[bytes, ...]:
    """The Fernet keys, the encrypting one first (the library's derivation and order)."""
    return _derived_keys(_key_configuration())


def multi_fernet() -> MultiFernet:
    return MultiFernet([Fernet(key) for key in field_keys()])


def newest_fernet() -> Fernet:
    return Fernet(field_keys()[0])


def clear_key_cache() -> None:
    """Forget every derived key: ours, and the library's per-field cache (for fields of the library's own classes)."""
    _derived_keys.cache_clear()
    _warned.clear()
    for _model, model_field in encrypted_fields():
        model_field.__dict__.pop("keys", None)
        model_field.__dict__.pop("f", None)


@receiver(setting_changed)
def _key_setting_changed(*, setting, **kwargs) -> None:
    if setting in KEY_SETTINGS:
        clear_key_cache()


class EncryptedCharField(EncryptedFieldMixin, models.CharField):
    """A CharField stored as a Fernet token (``max_length`` limits the clear value; the column is text).

    An empty value is stored as NULL (the library's behaviour): declare it ``null=True, blank=True``.
    Encrypted values cannot be searched, filtered or ordered on in the database.
    """

    @property
    def keys(self) -> list[bytes]:
        return list(field_keys())

    @property
    def f(self) -> MultiFernet:
        return multi_fernet()

    def to_python(self, value):
        if value is None or not isinstance(value, str):
            return value
        if value.startswith(TOKEN_PREFIX):
            try:
                return self.f.decrypt(value.encode("utf-8")).decode("utf-8")
            except InvalidToken:
                # A token no configured key opens: an old key was removed before rotate_encryption_keys ran, or
                # SECRET_KEY was changed without SECRET_KEY_FALLBACKS. Read as empty (never the token itself, which
                # would be shown and saved as if it were the value); ``manage.py preflight`` fails on it.
                self._warn_undecryptable(value)
                return None
        return models.CharField.to_python(self, value)

    def _warn_undecryptable(self, token: str) -> None:
        """One warning per field and stored value (a row's token), without the value."""
        label = self.model._meta.label if getattr(self, "model", None) else ""
        key = (label, self.name, hashlib.sha256(token.encode("utf-8")).hexdigest())
        if key in _warned:
            return
        if len(_warned) >= _WARNED_MAX:
            _warned.clear()
        _warned.add(key)
        logger.warning(
            "encrypted value cannot be decrypted with the configured keys: read as empty "
            "(see manage.py rotate_encryption_keys)",
            extra={"model": label, "field": self.name},
        )

    def clean(self, value, model_instance):
        # Form values are clear text already (to_python only decrypts values that are tokens).
        return models.CharField.clean(self, value, model_instance)


def mask(value: str | None) -> str:
    """``••••1234``: the last four characters of a long enough value; ``••••`` for a short one; "" when empty."""
    if not value:
        return ""
    text = str(value)
    return MASK + text[-4:] if len(text) >= 8 else MASK


# Key rotation ---------------------------------------------------------------------------------------


def encrypted_fields() -> Iterator[tuple[type[models.Model], models.Field]]:
    """Every encrypted concrete field of every installed model, history tables included."""
    for model in apps.get_models():
        if model._meta.proxy or not model._meta.managed:
            continue
        for model_field in model._meta.concrete_fields:
            if isinstance(model_field, EncryptedFieldMixin):
                yield model, model_field


@dataclass
class RotationCount:
    table: str
    column: str
    rotated: int = 0
    current: int = 0
    unreadable: list[object] = field(default_factory=list)


def rotate_field(
    model: type[models.Model], model_field: models.Field, *, batch_size: int = 500, dry_run: bool = False
) -> RotationCount:
    """Re-encrypt one column with the newest key, ``batch_size`` rows per transaction.

    Values the newest key opens already are left alone (running it twice changes nothing); values no key
    opens are counted by primary key and never written. ``dry_run``: only count (``rotated`` is then what
    would be re-encrypted), write nothing.
    """
    count = RotationCount(table=model._meta.db_table, column=model_field.column)
    newest, every = newest_fernet(), multi_fernet()
    manager = model._base_manager
    pk_name = model._meta.pk.name
    raw = ExpressionWrapper(F(model_field.name), output_field=TextField())  # the stored token, not decrypted
    last_pk = None
    while True:
        queryset = manager.exclude(**{f"{model_field.name}__isnull": True}).order_by(pk_name)
        if last_pk is not None:
            queryset = queryset.filter(**{f"{pk_name}__gt": last_pk})
        batch = list(queryset.annotate(_token=raw).values_list(pk_name, "_token")[:batch_size])
        if not batch:
            return count
        last_pk = batch[-1][0]
        changed = []
        for pk, token in batch:
            data = str(token).encode("utf-8")
            try:
                newest.decrypt(data)
                count.current += 1
                continue
            except InvalidToken:
                pass
            try:
                rotated = every.rotate(data).decode("utf-8")
            except InvalidToken:
                count.unreadable.append(pk)
                continue
            if dry_run:
                count.rotated += 1
                continue
            row = model(**{pk_name: pk})
            setattr(row, model_field.attname, Value(rotated, output_field=TextField()))
            changed.append(row)
        if changed:
            with transaction.atomic():
                manager.bulk_update(changed, [model_field.name], batch_size=batch_size)
            count.rotated += len(changed)


def rotate_all(*, batch_size: int = 500, dry_run: bool = False) -> list[RotationCount]:
    """Re-encrypt every encrypted value (main and history tables) with the newest key (``dry_run``: only count)."""
    return [
        rotate_field(model, model_field, batch_size=batch_size, dry_run=dry_run)
        for model, model_field in encrypted_fields()
    ]


def undecryptable_values() -> list[RotationCount]:
    """The columns holding values no configured key opens (``unreadable``: their primary keys); nothing is written."""
    return [count for count in rotate_all(dry_run=True) if count.unreadable]
