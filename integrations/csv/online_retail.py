"""Streaming reader for CSV files in the UCI Online Retail layout.

One row per order line: InvoiceNo, StockCode, Description, Quantity, InvoiceDate, UnitPrice,
CustomerID, Country. Rows of one invoice are grouped into one OrderRecord; products are derived
from the stock codes. No Django import: the reader only turns text into records and counts what
it skipped and why.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import re
import zoneinfo
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import BinaryIO

from shops.errors import ValidationFailed
from shops.records import OrderLineRecord, OrderRecord, ProductRecord

REQUIRED_COLUMNS = ("InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID")

# Postage, fees, discounts, manual adjustments and gift vouchers: lines that are not products.
_NON_PRODUCT_CODES = frozenset(
    {
        "POST",
        "DOT",
        "M",
        "C2",
        "D",
        "S",
        "B",
        "BANK CHARGES",
        "AMAZONFEE",
        "CRUK",
        "PADS",
        "ADJUST",
        "ADJUST2",
        "TEST001",
        "TEST002",
    }
)
_NON_PRODUCT_PREFIXES = ("GIFT_",)
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[ T](\d{1,2}):(\d{2})(?::(\d{2}))?$")
_US_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4}) (\d{1,2}):(\d{2})(?::(\d{2}))?$")


class SkipReason:
    CANCELLATION = "cancellation"
    NON_POSITIVE_QUANTITY = "non-positive quantity"
    NON_POSITIVE_PRICE = "non-positive price"
    NON_PRODUCT_CODE = "non-product code"
    OUTSIDE_DATE_RANGE = "outside --since/--until"


class OnlineRetailFormatError(ValidationFailed):
    pass


@dataclass(frozen=True)
class _Row:
    invoice: str
    stock_code: str
    description: str
    quantity: int
    created_at: dt.datetime
    unit_price: Decimal
    customer_id: str | None


def is_product_code(stock_code: str) -> bool:
    code = stock_code.strip().upper()
    return bool(code) and code not in _NON_PRODUCT_CODES and not code.startswith(_NON_PRODUCT_PREFIXES)


def open_binary(path: Path) -> BinaryIO:
    """Open the file for reading, with a clear error if it is missing or unreadable."""
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise OnlineRetailFormatError(f"{path}: no such file.") from None
    except IsADirectoryError:
        raise OnlineRetailFormatError(f"{path}: is a directory, not a CSV file.") from None
    except PermissionError:
        raise OnlineRetailFormatError(f"{path}: permission denied.") from None


class OnlineRetailReader:
    """Iterate over a file's orders; `skipped` counts lines left out per reason as it goes.

    `raw` is the file as opened (gzip is detected from its first bytes); `raw.tell()` tells how far
    the reading has got, for a progress bar.
    """

    def __init__(
        self,
        raw: BinaryIO,
        *,
        name: str,
        timezone_name: str = "UTC",
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
    ) -> None:
        self.name = name
        self.tz = zoneinfo.ZoneInfo(timezone_name)
        self.since = since
        self.until = until
        self.skipped: Counter[str] = Counter()
        self.lines_read = 0
        self.products: dict[str, ProductRecord] = {}
        magic = raw.peek(2)[:2] if hasattr(raw, "peek") else b""
        binary: BinaryIO = gzip.GzipFile(fileobj=raw) if magic == b"\x1f\x8b" else raw
        self._text = io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")
        self._line_number = 1
        self._last_date_text = ""
        self._last_date: dt.datetime | None = None

    def _fail(self, message: str) -> OnlineRetailFormatError:
        return OnlineRetailFormatError(f"{self.name}, line {self._line_number}: {message}")

    def _rows(self) -> Iterator[list[str]]:
        try:
            yield from csv.reader(self._text)
        except UnicodeDecodeError:
            raise self._fail("not a UTF-8 text file; expected a CSV in the online-retail layout.") from None
        except (gzip.BadGzipFile, EOFError, OSError) as error:
            raise self._fail(f"the compressed file is damaged ({error}).") from None
        except csv.Error as error:
            raise self._fail(f"malformed CSV ({error}).") from None

    def _parse_date(self, text: str) -> dt.datetime:
        if text == self._last_date_text and self._last_date is not None:
            return self._last_date
        match = _ISO_DATE.match(text.strip())
        try:
            if match:
                year, month, day, hour, minute, second = match.groups()
            else:
                match = _US_DATE.match(text.strip())
                if not match:
                    raise ValueError
                month, day, year, hour, minute, second = match.groups()
            parsed = dt.datetime(
                int(year), int(month), int(day), int(hour), int(minute), int(second or 0), tzinfo=self.tz
            )
        except ValueError:
            raise self._fail(f"bad InvoiceDate {text!r}; expected YYYY-MM-DD HH:MM[:SS].") from None
        self._last_date_text, self._last_date = text, parsed
        return parsed

    def _parse_row(self, fields: list[str], index: dict[str, int]) -> _Row:
        def column(name: str) -> str:
            return fields[index[name]].strip()

        invoice = column("InvoiceNo")
        if not invoice:
            raise self._fail("empty InvoiceNo.")
        try:
            quantity = int(column("Quantity"))
        except ValueError:
            raise self._fail(f"bad Quantity {column('Quantity')!r}; expected a whole number.") from None
        try:
            unit_price = Decimal(column("UnitPrice"))
            if not unit_price.is_finite():
                raise InvalidOperation
        except InvalidOperation:
            raise self._fail(f"bad UnitPrice {column('UnitPrice')!r}; expected a number.") from None
        customer = column("CustomerID")
        if customer.endswith(".0"):
            customer = customer[:-2]
        return _Row(
            invoice=invoice,
            stock_code=column("StockCode"),
            description=column("Description"),
            quantity=quantity,
            created_at=self._parse_date(column("InvoiceDate")),
            unit_price=unit_price,
            customer_id=customer or None,
        )

    def _skip_reason(self, row: _Row) -> str | None:
        if row.invoice.upper().startswith("C"):
            return SkipReason.CANCELLATION
        if not is_product_code(row.stock_code):
            return SkipReason.NON_PRODUCT_CODE
        if row.quantity <= 0:
            return SkipReason.NON_POSITIVE_QUANTITY
        if row.unit_price <= 0:
            return SkipReason.NON_POSITIVE_PRICE
        if (self.since and row.created_at < self.since) or (self.until and row.created_at >= self.until):
            return SkipReason.OUTSIDE_DATE_RANGE
        return None

    def _remember_product(self, row: _Row) -> None:
        known = self.products.get(row.stock_code)
        if known is None or (not known.title and row.description):
            self.products[row.stock_code] = ProductRecord(
                external_id=row.stock_code,
                title=row.description or row.stock_code,
                price=row.unit_price,
                created_at=known.created_at if known else row.created_at,
            )

    def __iter__(self) -> Iterator[OrderRecord]:
        rows = self._rows()
        header = next(rows, None)
        if header is None:
            return
        index = {name.strip(): position for position, name in enumerate(header)}
        missing = [name for name in REQUIRED_COLUMNS if name not in index]
        if missing:
            raise OnlineRetailFormatError(
                f"{self.name}: not an online-retail CSV: missing column(s) {', '.join(missing)} "
                f"(expected {', '.join(REQUIRED_COLUMNS)}, Country)."
            )
        width = max(index[name] for name in REQUIRED_COLUMNS) + 1

        current: _Row | None = None
        lines: list[OrderLineRecord] = []
        for fields in rows:
            self._line_number += 1
            if not fields:
                continue
            if len(fields) < width:
                raise self._fail(f"{len(fields)} field(s), expected {len(header)}.")
            row = self._parse_row(fields, index)
            self.lines_read += 1
            reason = self._skip_reason(row)
            if reason:
                self.skipped[reason] += 1
                continue
            if current is None or row.invoice != current.invoice:
                if current is not None:
                    yield self._order(current, lines)
                current, lines = row, []
            self._remember_product(row)
            lines.append(
                OrderLineRecord(product_external_id=row.stock_code, quantity=row.quantity, unit_price=row.unit_price)
            )
        if current is not None:
            yield self._order(current, lines)

    @staticmethod
    def _order(first: _Row, lines: list[OrderLineRecord]) -> OrderRecord:
        return OrderRecord(
            external_id=first.invoice,
            created_at=first.created_at,
            customer_id=first.customer_id,
            lines=tuple(lines),
        )
