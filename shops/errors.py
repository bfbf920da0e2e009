"""Errors the application raises on purpose, each with a message fit to show a merchant or an operator."""

from __future__ import annotations


class ApplicationError(Exception):
    def __init__(self, message: str, *, extra: dict | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra or {}


class ShopScopeError(ApplicationError):
    """A shop-owned table was queried without a shop scope, or across two scopes."""


class ValidationFailed(ApplicationError):
    """Input a service refuses; nothing was written."""

    @classmethod
    def for_fields(cls, subject: str, errors: dict[str, str]) -> ValidationFailed:
        """One message naming every field's problem, and the problems per field for a form."""
        details = "; ".join(f"{field}: {message}" for field, message in sorted(errors.items()))
        return cls(f"Invalid {subject}: {details}.", extra={"fields": errors})
