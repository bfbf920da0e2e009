"""Template helpers for the dashboard: links and forms that keep the embedded app's parameters."""

from __future__ import annotations

from django import template
from django.utils.html import format_html, format_html_join

from shops.dashboard.views.base import page_url

register = template.Library()


@register.simple_tag(takes_context=True)
def dashurl(context, name: str, *args, **query) -> str:
    """`{% dashurl 'dashboard-rules' q='x' %}`: the page's URL with Shopify's shop and host kept."""
    return page_url(context["request"], name, *args, **query)


@register.simple_tag(takes_context=True)
def dash_carry_fields(context) -> str:
    """Hidden inputs for GET forms, so that a search inside Shopify admin stays embedded."""
    carry = getattr(context["request"], "dashboard", None)
    if carry is None or not carry.carry:
        return ""
    return format_html_join("", '<input type="hidden" name="{}" value="{}">', carry.carry.items())


@register.simple_tag
def field_error(errors: dict, name: str, element_id: str = "") -> str:
    """An inline error for one form field, announced with the field (aria-describedby target)."""
    message = (errors or {}).get(name)
    if not message:
        return ""
    return format_html('<p class="error" id="{}">{}</p>', element_id or f"error-{name}", message)


# The dashboard's pages in menu order; a page appears once its route exists.
PAGES = (
    ("dashboard-overview", "Overview"),
    ("dashboard-recommendations", "Recommendations"),
    ("dashboard-widgets", "Widgets"),
    ("dashboard-rules", "Rules"),
    ("dashboard-insights", "Insights"),
    ("dashboard-experiments", "Experiments"),
    ("dashboard-privacy", "Privacy & fairness"),
)


@register.inclusion_tag("dashboard/_nav.html", takes_context=True)
def dash_nav(context) -> dict:
    from django.urls import NoReverseMatch

    request = context["request"]
    current = request.resolver_match.url_name if request.resolver_match else ""
    entries = []
    for name, label in PAGES:
        try:
            entries.append({"url": page_url(request, name), "label": label, "current": name == current})
        except NoReverseMatch:
            continue
    embedded = bool(getattr(request, "dashboard", None) and request.dashboard.carry)
    return {"entries": entries, "embedded": embedded}


@register.simple_tag
def shopify_api_key() -> str:
    from django.conf import settings

    return settings.SHOPIFY_API_KEY


@register.filter
def get(mapping, key: str):
    """`values|get:'when.category'`: a dict entry whose key has a dot in it."""
    return (mapping or {}).get(key, "")


@register.filter
def percent(value, digits: int = 1) -> str:
    """0.1234 -> "12.3%"."""
    return f"{float(value) * 100:.{int(digits)}f}%"


@register.filter
def points(value, digits: int = 2) -> str:
    """A difference of two shares in percentage points, signed: 0.0123 -> "+1.23"."""
    return f"{float(value) * 100:+.{int(digits)}f}"
