"""Encryption at rest for credentials and per-shop secrets, and keyed hashing of customer ids."""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models


@functools.cache
def _fernet() -> MultiFernet:
    try:
        return MultiFernet([Fernet(key.encode()) for key in settings.ENCRYPTION_KEYS])
    except (ValueError, TypeError) as error:
        raise ImproperlyConfigured(
            "ENCRYPTION_KEYS must be comma-separated Fernet keys (32 url-safe base64-encoded bytes each)."
        ) from error


def encrypt_text(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt_text(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as error:
        raise ImproperlyConfigured(
            "A stored secret cannot be decrypted with ENCRYPTION_KEYS: was a key removed before rotation finished?"
        ) from error


class EncryptedTextField(models.TextField):
    """A text column whose stored value is a Fernet token; Python code sees the plaintext."""

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str | None:
        return None if value is None else decrypt_text(value)

    def get_prep_value(self, value: Any) -> str | None:
        value = super().get_prep_value(value)
        return None if value is None else encrypt_text(value)


class EncryptedJSONField(models.TextField):
    """A JSON object stored encrypted; Python code sees a dict."""

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> dict | None:
        return None if value is None else json.loads(decrypt_text(value))

    def to_python(self, value: Any) -> dict | None:
        if value is None or isinstance(value, dict):
            return value
        return json.loads(value)

    def get_prep_value(self, value: Any) -> str | None:
        return None if value is None else encrypt_text(json.dumps(value, sort_keys=True))


def keyed_hash(*, secret: str, value: str) -> str:
    """HMAC-SHA256 of `value`: stable per shop, unlinkable across shops, not reversible without the secret."""
    return hmac.new(secret.encode(), value.encode(), hashlib.sha256).hexdigest()
