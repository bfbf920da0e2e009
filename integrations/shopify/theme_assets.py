"""The files the theme app extension ships that the backend also serves.

Shopify serves a theme app extension's ``assets/`` from its CDN (``asset_url``), and Theme Check
refuses scripts loaded from anywhere else (``RemoteAsset``). The storefront widget is one script
for every platform, served by the backend as ``/static/basketry/widget.js`` (WooCommerce, the demo,
the dashboard preview). Its copy in the extension is generated from that file by
``manage.py theme_assets``, and ``manage.py theme_assets --check`` (run by ``make lint`` and the
tests) fails when the two differ, so a deployed extension always carries the widget this backend
speaks to.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles import finders

EXTENSION_ASSETS = Path(settings.BASE_DIR) / "extensions" / "basketry-theme" / "assets"

#: Static file (as the backend serves it) -> its name in the extension's assets/.
SHIPPED_ASSETS: dict[str, str] = {"basketry/widget.js": "basketry-widget.js"}


@dataclass(frozen=True)
class AssetState:
    static_name: str
    source: Path
    target: Path
    current: bool


def theme_assets_state() -> list[AssetState]:
    """Whether each shipped asset in the extension is byte-identical to the file the backend serves."""
    states = []
    for static_name, asset_name in SHIPPED_ASSETS.items():
        found = finders.find(static_name)
        if not found:
            raise FileNotFoundError(f"static file {static_name} not found")
        source, target = Path(found), EXTENSION_ASSETS / asset_name
        current = target.is_file() and target.read_bytes() == source.read_bytes()
        states.append(AssetState(static_name=static_name, source=source, target=target, current=current))
    return states


def theme_assets_write() -> list[Path]:
    """Copy every stale shipped asset into the extension; return the files written."""
    written = []
    for state in theme_assets_state():
        if not state.current:
            state.target.write_bytes(state.source.read_bytes())
            written.append(state.target)
    return written
