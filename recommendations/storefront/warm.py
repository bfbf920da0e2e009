"""Warming a web process before it serves: the serving packs and whole-shop facts of the shops it
is likely to serve, loaded before its first request rather than beside its first requests.

A process new to a shop otherwise answers its first requests list by list from Redis and
PostgreSQL while the pack and the facts load in a thread of its own (tens of milliseconds each
at 50,000 products, against a fraction of one once they are in), and gunicorn replaces workers
now and then (`max_requests`), so without this every replacement would start cold.

The shops: installed, with a live version that has a pack, the most recently published first,
within the process's bounds (`packs.PACK_BYTES`, `facts.BULK_FACTS`) and within
`settings.STOREFRONT_WARM_SECONDS` of work (0: no warming; keep it well under gunicorn's worker
timeout, which also bounds a worker's boot). A shop left out is loaded in the background on its
first request, as without warming.
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.db import connections
from django.db.models.functions import Length

from recommendations.models import ModelVersion, ServingPack
from recommendations.storefront import facts, packs
from shops.models import Product, Shop

logger = logging.getLogger("basketry.storefront")


def storefront_warm(*, seconds: float | None = None) -> dict[int, int]:
    """Load what the storefront serves for the likeliest shops into this process, in this
    thread; {shop id: version id} of the packs it holds afterwards. Never fails: a process that
    cannot warm up serves as it would have without warming."""
    started = time.monotonic()
    seconds = settings.STOREFRONT_WARM_SECONDS if seconds is None else seconds
    if seconds <= 0:
        return packs.packs_held()
    try:
        candidates = list(
            ServingPack.all_shops.filter(version__status=ModelVersion.Status.LIVE, shop__status=Shop.Status.INSTALLED)
            .annotate(size=Length("data"))
            .order_by("-version__published_at", "-version_id")
            .values_list("shop_id", "version_id", "size", "shop__currency")
        )
        pack_bytes = fact_count = 0
        for shop_id, version_id, size, currency in candidates:
            if time.monotonic() - started > seconds:
                break
            if size <= packs.PACK_BYTES_PER_SHOP and pack_bytes + size <= packs.PACK_BYTES:
                pack_bytes += size
                packs.pack_warm(shop_id, version_id)
            products = Product.all_shops.filter(shop_id=shop_id).count()
            if products <= facts.BULK_FACTS_PER_SHOP and fact_count + products <= facts.BULK_FACTS:
                fact_count += products
                facts.facts_warm(shop_id=shop_id, shop_currency=currency)
    except Exception as error:  # a warm-up is an optimisation: never a reason not to serve
        logger.warning("storefront.warm_failed error=%s: shops load on their first requests", type(error).__name__)
    finally:
        # Not kept open for requests: a server that forks after loading the application
        # (gunicorn --preload) would otherwise hand one connection to every worker.
        for connection in connections.all(initialized_only=True):
            if not connection.in_atomic_block:
                connection.close()
    held = packs.packs_held()
    logger.info(
        "storefront.warmed shops=%s seconds=%.1f",
        len(held),
        time.monotonic() - started,
    )
    return held
