"""The generated demo shop."""

# The demo shop `make demo` creates and the demo storefront serves.
DEMO_DOMAIN = "demo-store.localhost"


def demo_orders_end():
    """Where `make demo`'s year of orders ends: the start of today (UTC), so that the dashboard's
    recent days have orders, and re-running the demo the same day regenerates the same shop."""
    import datetime as dt

    from django.utils import timezone

    return timezone.now().astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
