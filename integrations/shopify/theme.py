"""Theme editor deep links for onboarding a shop onto the Basketry theme app extension.

The dashboard sends merchants straight into the theme editor with a Basketry block already being
added (app blocks) or switched on (the app embed), instead of describing where to click. The
link formats are Shopify's; the block handles are the file names under
``extensions/basketry-theme/blocks/`` without ``.liquid``.

Pure functions without Django: the caller passes the extension id it has configured.
"""

from __future__ import annotations

import re
from urllib.parse import urlencode

#: App block handle -> the templates its schema ``enabled_on`` allows. A deep link that puts a
#: block on another template would open the editor without adding anything, so it is refused.
APP_BLOCK_TEMPLATES: dict[str, tuple[str, ...]] = {
    "related-products": ("product",),
    "bought-together": ("product",),
    "cart-recommendations": ("cart",),
}

#: App embed handles (schema ``"target": "body"``), switched on rather than placed.
APP_EMBED_HANDLES: frozenset[str] = frozenset({"basketry-embed"})

#: Templates onboarding links may open.
TEMPLATES: frozenset[str] = frozenset({"product", "cart"})

#: ``newAppsSection`` wraps the block in its own Apps section; ``mainSection`` drops it into the
#: template's main section where the theme supports app blocks there.
TARGETS: frozenset[str] = frozenset({"newAppsSection", "mainSection"})

# Deep links must use the permanent *.myshopify.com domain: the admin is not served on a shop's
# custom domains.
_SHOP_DOMAIN_RE = re.compile(r"^[a-z0-9][a-z0-9-]*\.myshopify\.com$")
# Extension ids are UUIDs or hex strings; anything else would inject into the query string.
_EXTENSION_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,63}$")


def _editor_url(shop_domain: str, params: dict[str, str]) -> str:
    # "/" stays literal because Shopify documents the value as "{id}/{handle}", and a slash is
    # valid unescaped in a query string.
    return f"https://{shop_domain}/admin/themes/current/editor?{urlencode(params, safe='/')}"


def _check_shop_domain(shop_domain: str) -> None:
    if not isinstance(shop_domain, str) or not _SHOP_DOMAIN_RE.fullmatch(shop_domain):
        raise ValueError(f"shop_domain must be a lowercase *.myshopify.com domain, got {shop_domain!r}")


def _check_extension_id(extension_id: str) -> None:
    if not isinstance(extension_id, str) or not _EXTENSION_ID_RE.fullmatch(extension_id):
        raise ValueError(
            f"extension_id must be the theme app extension's id (letters, digits and '-'), got {extension_id!r}"
        )


def theme_editor_block_link(
    *,
    shop_domain: str,
    extension_id: str,
    block: str,
    template: str = "product",
    target: str = "newAppsSection",
) -> str:
    """Return a theme editor link that starts adding one Basketry app block.

    Args:
        shop_domain: The shop's permanent domain, e.g. ``"acme.myshopify.com"``.
        extension_id: The id of the deployed theme app extension.
        block: An app block handle, one of :data:`APP_BLOCK_TEMPLATES`.
        template: The template to open, ``"product"`` or ``"cart"``; must be one the block allows.
        target: ``"newAppsSection"`` (default) or ``"mainSection"``.

    Returns:
        ``https://{shop_domain}/admin/themes/current/editor?template=...&addAppBlockId={extension_id}/{block}&target=...``

    Raises:
        ValueError: If any argument is not one the extension or Shopify accepts.
    """
    _check_shop_domain(shop_domain)
    _check_extension_id(extension_id)
    if block not in APP_BLOCK_TEMPLATES:
        raise ValueError(f"unknown app block {block!r}; expected one of {sorted(APP_BLOCK_TEMPLATES)}")
    if template not in TEMPLATES:
        raise ValueError(f"unsupported template {template!r}; expected one of {sorted(TEMPLATES)}")
    if template not in APP_BLOCK_TEMPLATES[block]:
        raise ValueError(
            f"app block {block!r} is only enabled on {list(APP_BLOCK_TEMPLATES[block])}, not on {template!r}"
        )
    if target not in TARGETS:
        raise ValueError(f"unsupported target {target!r}; expected one of {sorted(TARGETS)}")
    return _editor_url(
        shop_domain,
        {"template": template, "addAppBlockId": f"{extension_id}/{block}", "target": target},
    )


def theme_editor_embed_link(*, shop_domain: str, extension_id: str, handle: str = "basketry-embed") -> str:
    """Return a theme editor link that opens App embeds with the Basketry embed switched on.

    Args:
        shop_domain: The shop's permanent domain, e.g. ``"acme.myshopify.com"``.
        extension_id: The id of the deployed theme app extension.
        handle: An app embed handle, one of :data:`APP_EMBED_HANDLES`.

    Returns:
        ``https://{shop_domain}/admin/themes/current/editor?context=apps&activateAppId={extension_id}/{handle}``

    Raises:
        ValueError: If any argument is not one the extension or Shopify accepts.
    """
    _check_shop_domain(shop_domain)
    _check_extension_id(extension_id)
    if handle not in APP_EMBED_HANDLES:
        raise ValueError(f"unknown app embed {handle!r}; expected one of {sorted(APP_EMBED_HANDLES)}")
    return _editor_url(shop_domain, {"context": "apps", "activateAppId": f"{extension_id}/{handle}"})
