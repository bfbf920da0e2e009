"""Errors the application raises on purpose, each with a message fit to show a merchant or an operator."""


class ApplicationError(Exception):
    def __init__(self, message: str, *, extra: dict | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra or {}


class ShopScopeError(ApplicationError):
    """A shop-owned table was queried without a shop scope, or across two scopes."""


class ValidationFailed(ApplicationError):
    """Input a service refuses; nothing was written."""
