"""What every platform's mapping needs to read a payload safely."""

from __future__ import annotations

import html
import re
from decimal import Decimal, InvalidOperation

_TAG = re.compile(r"<[^>]+>")


class PayloadInvalid(ValueError):
    """A payload misses what Basketry needs; the delivery or sync stops with this reason."""


def declared_length(request) -> int:
    """The request's Content-Length as a number; a malformed one counts as too large."""
    try:
        return max(int(request.META.get("CONTENT_LENGTH") or 0), 0)
    except ValueError:
        return 2**63


def money(value: object) -> Decimal:
    """A non-negative, finite amount; empty means 0."""
    try:
        amount = Decimal(str(value if value not in (None, "") else "0"))
    except InvalidOperation as error:
        raise PayloadInvalid(f"not an amount: {value!r}") from error
    if not amount.is_finite() or amount < 0:
        raise PayloadInvalid(f"not an amount: {value!r}")
    return amount


def plain_text(value: object) -> str:
    """HTML (product descriptions) as plain text."""
    return html.unescape(_TAG.sub(" ", str(value or ""))).strip()
