"""How each storefront block looks: the merchant's widget settings, stored in `Shop.settings`.

One entry per block kind the widget renders. What is not stored falls back to the defaults below,
which are what the storefront showed before a merchant changed anything.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from django.db import transaction

from recommendations.storefront.cache import storefront_invalidate
from shops.errors import ValidationFailed
from shops.models import Shop

WIDGETS_KEY = "widgets"
BLOCKS = ("related", "bought_together", "cart", "personal")
BLOCK_NAMES = {
    "related": "Related products",
    "bought_together": "Frequently bought together",
    "cart": "Cart suggestions",
    "personal": "Personal picks",
}
DEFAULT_TITLES = {
    "related": "You may also like",
    "bought_together": "Frequently bought together",
    "cart": "Goes well with your cart",
    "personal": "Picked for you",
}
# The counts the demo storefront asked for before they became settings: a bundle of three is what
# a shopper can take in at a glance; a browsing list can be longer.
DEFAULT_ITEMS = {"related": 8, "bought_together": 3, "cart": 4, "personal": 4}
LAYOUTS = {"grid": "Grid", "carousel": "Carousel (one scrolling row)", "list": "List (one per line)"}
# The widget's built-in button colour; white on it is 6.1:1.
DEFAULT_ACCENT = "#1f6f4a"
TITLE_MAX = 80
ITEMS_MIN, ITEMS_MAX = 1, 12
# WCAG 2.1 AA, success criterion 1.4.3, for normal-size text.
MIN_CONTRAST = 4.5
FIELDS = ("enabled", "title", "items", "layout", "accent", "text")

_HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
_MARKUP_OR_CONTROL = re.compile(r"[<>\x00-\x1f\x7f]")


def widget_defaults(*, block: str) -> dict:
    """A block as it looks before the merchant changes it. `text` None keeps the theme's colour."""
    return {
        "enabled": True,
        "title": DEFAULT_TITLES[block],
        "items": DEFAULT_ITEMS[block],
        "layout": "grid",
        "accent": DEFAULT_ACCENT,
        "text": None,
    }


def widget_settings_from(*, stored: Mapping | None) -> dict[str, dict]:
    """Every block's settings from what `Shop.settings` holds, defaults filling the gaps.

    Pure, so the storefront can build it from the Shop row it already loaded.
    """
    stored = stored if isinstance(stored, Mapping) else {}
    merged = {}
    for block in BLOCKS:
        saved = stored.get(block) if isinstance(stored.get(block), Mapping) else {}
        merged[block] = {**widget_defaults(block=block), **{key: saved[key] for key in FIELDS if key in saved}}
    return merged


def widget_settings_get(*, shop: Shop) -> dict[str, dict]:
    """The shop's settings for every block, merged with the defaults."""
    return widget_settings_from(stored=shop.settings.get(WIDGETS_KEY))


def contrast_ratio(first: str, second: str) -> float:
    """WCAG 2.1 contrast ratio of two #rrggbb colours, from 1 (same) to 21 (black on white)."""

    def luminance(colour: str) -> float:
        channels = [int(colour[index : index + 2], 16) / 255 for index in (1, 3, 5)]
        linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    lighter, darker = sorted((luminance(first), luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def _clean_items(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    return value if isinstance(value, int) and ITEMS_MIN <= value <= ITEMS_MAX else None


def _clean_block(values: Mapping, current: dict) -> tuple[dict, dict[str, str]]:
    """The block's new settings and, per field, what is wrong with the input."""
    clean, errors = dict(current), {}
    for unknown in sorted(set(values) - set(FIELDS)):
        errors[unknown] = f"not a widget setting (known: {', '.join(FIELDS)})"
    if "enabled" in values:
        if isinstance(values["enabled"], bool):
            clean["enabled"] = values["enabled"]
        else:
            errors["enabled"] = "true or false"
    if "title" in values:
        title = values["title"].strip() if isinstance(values["title"], str) else ""
        if not title:
            errors["title"] = "Enter a title."
        elif len(title) > TITLE_MAX:
            errors["title"] = f"At most {TITLE_MAX} characters (this one has {len(title)})."
        elif _MARKUP_OR_CONTROL.search(title):
            errors["title"] = "Plain text only: no < or > and no line breaks."
        else:
            clean["title"] = title
    if "items" in values:
        items = _clean_items(values["items"])
        if items is None:
            errors["items"] = f"A whole number from {ITEMS_MIN} to {ITEMS_MAX}."
        else:
            clean["items"] = items
    if "layout" in values:
        if values["layout"] in LAYOUTS:
            clean["layout"] = values["layout"]
        else:
            errors["layout"] = f"One of {', '.join(LAYOUTS)}."
    if "accent" in values:
        accent = values["accent"].strip().lower() if isinstance(values["accent"], str) else ""
        if not _HEX_COLOUR.match(accent):
            errors["accent"] = "A colour as #rrggbb, e.g. #1f6f4a."
        elif (ratio := contrast_ratio(accent, "#ffffff")) < MIN_CONTRAST:
            errors["accent"] = (
                f"The button's white label on {accent} has a contrast of {ratio:.1f}:1; "
                f"WCAG AA needs at least {MIN_CONTRAST}:1. Choose a darker colour."
            )
        else:
            clean["accent"] = accent
    if "text" in values:
        text = values["text"].strip().lower() if isinstance(values["text"], str) else values["text"]
        if text in (None, ""):
            clean["text"] = None
        elif not isinstance(text, str) or not _HEX_COLOUR.match(text):
            errors["text"] = "A colour as #rrggbb, or empty to keep the theme's text colour."
        elif (ratio := contrast_ratio(text, "#ffffff")) < MIN_CONTRAST:
            errors["text"] = (
                f"{text} on a white page background has a contrast of {ratio:.1f}:1; "
                f"WCAG AA needs at least {MIN_CONTRAST}:1. Choose a darker colour, or leave it "
                "empty to keep the theme's text colour (e.g. on a dark theme)."
            )
        else:
            clean["text"] = text
    return clean, errors


@transaction.atomic
def widget_settings_update(*, shop: Shop, block: str, values: Mapping[str, object]) -> dict[str, dict]:
    """Change one block's settings (only the fields given) and return every block's settings.

    Raises ValidationFailed naming every wrong field; then nothing is saved. The storefront shows
    the change from the next request on.
    """
    if block not in BLOCKS:
        raise ValidationFailed(
            f"Unknown block {block!r}: one of {', '.join(BLOCKS)}.",
            extra={"fields": {"block": f"One of {', '.join(BLOCKS)}."}},
        )
    if not isinstance(values, Mapping):
        raise ValidationFailed("Widget settings must be an object.", extra={"fields": {"block": "No settings given."}})
    locked = Shop.objects.select_for_update().get(pk=shop.pk)
    current = widget_settings_from(stored=locked.settings.get(WIDGETS_KEY))
    clean, errors = _clean_block(values, current[block])
    if errors:
        raise ValidationFailed.for_fields(f"{BLOCK_NAMES[block]} settings", errors)
    stored = locked.settings.get(WIDGETS_KEY) if isinstance(locked.settings.get(WIDGETS_KEY), Mapping) else {}
    locked.settings = {**locked.settings, WIDGETS_KEY: {**stored, block: clean}}
    locked.save(update_fields=["settings", "updated_at"])
    shop.settings = locked.settings
    domain = locked.domain
    transaction.on_commit(lambda: storefront_invalidate(domain=domain))
    return {**current, block: clean}
