"""`import_orders --format online-retail`: counts, idempotency, privacy and bad input."""

from __future__ import annotations

import csv
import gzip
import io
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from shops.models import Order, OrderLine, Product
from shops.tenancy import shop_scope

HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
# Two normal invoices, a guest invoice, a cancellation, a return line, a free line, postage, and
# invoice 536370 listed again further down (exports are not always grouped by invoice).
SAMPLE_ROWS = """\
536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,2010-12-01 08:26:00,2.55,17850,United Kingdom
536365,71053,WHITE METAL LANTERN,6,2010-12-01 08:26:00,3.39,17850,United Kingdom
536365,POST,POSTAGE,1,2010-12-01 08:26:00,18.00,17850,United Kingdom
536370,22728,ALARM CLOCK BAKELIKE PINK,24,2010-12-01 08:45:00,3.75,12583.0,France
536370,22727,ALARM CLOCK BAKELIKE RED ,24,2010-12-01 08:45:00,3.75,12583.0,France
C536379,85123A,WHITE HANGING HEART T-LIGHT HOLDER,-1,2010-12-01 09:41:00,2.55,14527,United Kingdom
536380,22961,JAM MAKING SET PRINTED,-3,2010-12-01 09:45:00,1.45,,United Kingdom
536381,22139,RETROSPOT TEA SET CERAMIC 11 PC ,1,2010-12-01 09:58:00,0.00,,United Kingdom
536382,22139,RETROSPOT TEA SET CERAMIC 11 PC ,2,2011-03-01 10:00:00,4.95,,United Kingdom
536382,85123A,WHITE HANGING HEART T-LIGHT HOLDER,1,2011-03-01 10:00:00,2.95,,United Kingdom
536370,21754,HOME BUILDING BLOCK WORD,3,2010-12-01 08:45:00,5.95,12583.0,France
"""


def write_csv(directory: Path, body: str, *, name: str = "orders.csv", compress: bool = False) -> Path:
    path = directory / name
    content = (HEADER + body).encode()
    path.write_bytes(gzip.compress(content) if compress else content)
    return path


def import_orders(shop, path, *args) -> str:
    out = io.StringIO()
    call_command("import_orders", shop.domain, str(path), "--format", "online-retail", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
@pytest.mark.parametrize("compress", [False, True], ids=["plain_case", "gzip_case"])
def test_import_builds_orders_products_and_reports_skips(shop, tmp_path, compress):
    path = write_csv(tmp_path, SAMPLE_ROWS, compress=compress)

    output = import_orders(shop, path)

    assert "Imported 3 orders with 7 lines and 6 new products" in output
    assert "Skipped 1 lines: cancellation." in output
    assert "Skipped 1 lines: non-positive quantity." in output
    assert "Skipped 1 lines: non-positive price." in output
    assert "Skipped 1 lines: non-product code." in output
    with shop_scope(shop):
        assert sorted(Order.objects.values_list("external_id", flat=True)) == ["536365", "536370", "536382"]
        france = Order.objects.get(external_id="536370")
        # Lines of 536370 listed further down joined the same order, and its total followed.
        assert france.lines.count() == 3
        assert france.total == Decimal("24") * Decimal("3.75") * 2 + Decimal("3") * Decimal("5.95")
        assert Product.objects.filter(external_id="POST").exists() is False
        assert Product.objects.get(external_id="85123A").title == "WHITE HANGING HEART T-LIGHT HOLDER"
        assert Product.objects.get(external_id="85123A").currency == shop.currency
        assert OrderLine.objects.count() == 7


@pytest.mark.django_db
def test_customers_are_stored_only_as_keyed_hashes(shop, other_shop, tmp_path):
    path = write_csv(tmp_path, SAMPLE_ROWS)
    import_orders(shop, path)
    import_orders(other_shop, path)

    with shop_scope(shop):
        refs = dict(Order.objects.values_list("external_id", "customer_ref"))
    with shop_scope(other_shop):
        other_refs = dict(Order.objects.values_list("external_id", "customer_ref"))
    assert refs["536382"] is None  # guest order kept, with no customer
    assert refs["536365"] == shop.customer_ref("17850")
    assert refs["536370"] == shop.customer_ref("12583")  # "12583.0" is the same customer
    assert "17850" not in refs["536365"] and len(refs["536365"]) == 64
    # The same customer is unlinkable across shops.
    assert other_refs["536365"] != refs["536365"]


@pytest.mark.django_db
def test_second_run_imports_nothing(shop, tmp_path):
    path = write_csv(tmp_path, SAMPLE_ROWS)
    import_orders(shop, path)

    output = import_orders(shop, path)

    assert "Imported 0 orders with 0 lines and 0 new products" in output
    assert "Skipped 3 orders already imported." in output
    with shop_scope(shop):
        assert Order.objects.count() == 3
        assert OrderLine.objects.count() == 7
        assert Product.objects.count() == 6


@pytest.mark.django_db
def test_since_and_until_select_a_window(shop, tmp_path):
    path = write_csv(tmp_path, SAMPLE_ROWS)

    output = import_orders(shop, path, "--since", "2011-01-01", "--until", "2011-06-01")

    assert "Imported 1 orders" in output
    assert "Skipped 5 lines: outside --since/--until." in output
    with shop_scope(shop):
        assert list(Order.objects.values_list("external_id", flat=True)) == ["536382"]


@pytest.mark.django_db
def test_dates_are_read_in_the_shops_time_zone(shop, tmp_path):
    shop.timezone = "America/New_York"
    shop.save(update_fields=["timezone"])
    path = write_csv(tmp_path, "536365,85123A,HEART,1,2011-07-01 08:00:00,2.55,1,UK\n")
    import_orders(shop, path)
    with shop_scope(shop):
        created_at = Order.objects.get().created_at
    assert created_at.isoformat() == "2011-07-01T12:00:00+00:00"


BAD_FILES = [
    ("wrong_columns_case", "id,sku,qty\n1,2,3\n", "missing column(s) InvoiceNo, StockCode"),
    (
        "bad_date_case",
        HEADER + "1,85123A,HEART,1,2010-12-01 08:26:00,2.55,1,UK\n2,85124,X,1,yesterday,1.0,1,UK\n",
        "line 3: bad InvoiceDate 'yesterday'",
    ),
    ("bad_quantity_case", HEADER + "1,85123A,HEART,two,2010-12-01 08:26:00,2.55,1,UK\n", "line 2: bad Quantity 'two'"),
    ("bad_price_case", HEADER + "1,85123A,HEART,1,2010-12-01 08:26:00,cheap,1,UK\n", "line 2: bad UnitPrice 'cheap'"),
    ("short_row_case", HEADER + "1,85123A,HEART\n", "line 2: 3 field(s), expected 8"),
]


@pytest.mark.django_db
@pytest.mark.parametrize("case,content,message", BAD_FILES, ids=[case for case, _, _ in BAD_FILES])
def test_malformed_file_is_refused_and_nothing_is_written(shop, tmp_path, case, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)

    with pytest.raises(CommandError, match=message.replace("(", r"\(").replace(")", r"\)")):
        import_orders(shop, path)

    with shop_scope(shop):
        assert Order.objects.count() == 0
        assert Product.objects.count() == 0


@pytest.mark.django_db
def test_a_bad_line_after_many_good_batches_rolls_back_the_whole_file(shop, tmp_path):
    good = "".join(
        f"{500000 + n},{10000 + n % 50},ITEM {n % 50},1,2011-01-01 10:00:00,1.00,{n % 90},UK\n" for n in range(12000)
    )
    path = write_csv(tmp_path, good + "999999,10001,ITEM,1,not-a-date,1.00,1,UK\n")

    with pytest.raises(CommandError, match="line 12002: bad InvoiceDate"):
        import_orders(shop, path)

    with shop_scope(shop):
        assert Order.objects.count() == 0
        assert OrderLine.objects.count() == 0
        assert Product.objects.count() == 0


@pytest.mark.django_db
def test_binary_and_missing_files_get_a_clear_error(shop, tmp_path):
    binary = tmp_path / "picture.png"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe\x00\x81")
    with pytest.raises(CommandError, match="not a UTF-8 text file"):
        import_orders(shop, binary)
    with pytest.raises(CommandError, match="no such file"):
        import_orders(shop, tmp_path / "absent.csv")
    with pytest.raises(CommandError, match="is a directory"):
        import_orders(shop, tmp_path)
    with pytest.raises(CommandError, match="No shop with domain 'nowhere.example'"):
        call_command("import_orders", "nowhere.example", str(binary), "--format", "online-retail")
    with pytest.raises(CommandError, match="--since 'last week' is not an ISO date"):
        import_orders(shop, binary, "--since", "last week")


def test_command_line_errors_are_one_clear_line_with_exit_code_1(tmp_path):
    """The real process, as an operator's script sees it: exit code 1 and one line on stderr."""
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}", "LOG_LEVEL": "WARNING"}
    env.pop("REDIS_URL", None)

    def manage(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=settings.BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    assert manage("migrate", "-v0").returncode == 0
    assert manage("create_shop", "--platform", "csv", "--domain", "cli.example").returncode == 0

    missing = manage("import_orders", "cli.example", str(tmp_path / "absent.csv"), "--format", "online-retail")
    bad_domain = manage("create_shop", "--platform", "shopify", "--domain", "https://x.example/")

    for result, message in ((missing, "absent.csv: no such file."), (bad_domain, "Invalid domain")):
        assert result.returncode == 1
        errors = [line for line in result.stderr.splitlines() if line.strip() and " WARNING " not in line]
        assert len(errors) == 1, result.stderr
        assert errors[0].startswith("CommandError: ") and message in errors[0]


@pytest.mark.django_db
@pytest.mark.online_retail
def test_real_online_retail_slice_matches_an_independent_count(shop, tmp_path, online_retail_path):
    """The first 30,000 lines of the real file: the import agrees with a plain recount."""
    with gzip.open(online_retail_path, "rt", newline="") as source:
        lines = [next(source) for _ in range(30001)]
    path = tmp_path / "slice.csv"
    path.write_text("".join(lines))

    expected_orders, expected_products, expected_lines = set(), set(), 0
    service_codes = {"POST", "DOT", "M", "C2", "D", "S", "B", "BANK CHARGES", "AMAZONFEE", "CRUK", "PADS"}
    for row in csv.DictReader(io.StringIO("".join(lines))):
        code = row["StockCode"].upper()
        if (
            row["InvoiceNo"].startswith("C")
            or code in service_codes
            or code.startswith("GIFT_")
            or int(row["Quantity"]) <= 0
            or Decimal(row["UnitPrice"]) <= 0
        ):
            continue
        expected_orders.add(row["InvoiceNo"])
        expected_products.add(row["StockCode"])
        expected_lines += 1

    import_orders(shop, path)

    with shop_scope(shop):
        assert Order.objects.count() == len(expected_orders)
        assert Product.objects.count() == len(expected_products)
        assert OrderLine.objects.count() == expected_lines


@pytest.mark.django_db
def test_a_large_import_queues_a_retraining_unless_told_not_to(shop, tmp_path, django_capture_on_commit_callbacks):
    from recommendations.models import TrainingRun

    def rows(first_invoice: int) -> str:
        return "".join(
            f"{first_invoice + n},{10000 + n % 7},ITEM,1,2011-01-01 10:00:00,1.00,{n % 9},UK\n" for n in range(250)
        )

    path = write_csv(tmp_path, rows(600000))

    with django_capture_on_commit_callbacks(execute=False):
        output = import_orders(shop, path)
    assert "Queued a retraining" in output
    with shop_scope(shop):
        assert TrainingRun.objects.get().trigger == TrainingRun.Trigger.SYNC

    path = write_csv(tmp_path, rows(700000), name="more.csv")
    with django_capture_on_commit_callbacks(execute=False):
        output = import_orders(shop, path, "--no-train")
    assert "Imported 250 orders" in output
    assert "Queued a retraining" not in output
    with shop_scope(shop):
        assert TrainingRun.objects.count() == 1
