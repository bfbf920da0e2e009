"""GET /api/schema/openapi.json: a valid OpenAPI document that names every API route."""

from __future__ import annotations

import copy
import re

import jsonschema_rs
import pytest
import schemathesis
from django.urls import URLPattern, URLResolver, get_resolver

from config.openapi import SCHEMA_PATH, openapi_document

# The routes the document must cover: every API, App Proxy, webhook and connect route, and the probes.
API_PREFIXES = ("/api/", "/proxy/", "/webhooks/", "/woocommerce/")
PROBES = ("/livez", "/readyz", "/servez")
_CONVERTER = re.compile(r"<(?:\w+:)?(\w+)>")


def url_routes(patterns=None, prefix: str = "/") -> list[str]:
    """Every route of the URL map as an OpenAPI path (`<int:shop_id>` -> `{shop_id}`)."""
    routes = []
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        route = prefix + _CONVERTER.sub(r"{\1}", str(entry.pattern))
        if isinstance(entry, URLResolver):
            routes.extend(url_routes(entry.url_patterns, route))
        elif isinstance(entry, URLPattern):
            routes.append(route)
    return routes


def undocumented(routes: list[str], document: dict) -> list[str]:
    return [
        route
        for route in routes
        if (route.startswith(API_PREFIXES) or route in PROBES) and route not in document["paths"]
    ]


def test_the_document_is_served_at_its_documented_url(client):
    response = client.get(SCHEMA_PATH)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == openapi_document()


def test_every_api_route_is_in_the_document():
    routes = url_routes()

    assert "/webhooks/woocommerce/{shop_id}" in routes  # converters are translated
    assert undocumented(routes, openapi_document()) == []


def test_a_route_added_without_its_schema_is_reported():
    routes = [*url_routes(), "/api/plugin/v1/new-thing", "/proxy/other", "/dashboard/not-an-api"]

    assert undocumented(routes, openapi_document()) == ["/api/plugin/v1/new-thing", "/proxy/other"]


def test_every_documented_path_is_a_route():
    """No stale entries: each path in the document is served by the URL map."""
    routes = set(url_routes())

    assert sorted(set(openapi_document()["paths"]) - routes) == []


def test_the_document_is_valid_openapi():
    schema = schemathesis.openapi.from_dict(copy.deepcopy(openapi_document()))
    schema.validate()

    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == sum(
        method in ("get", "post", "options") for path in openapi_document()["paths"].values() for method in path
    )


def test_validation_would_catch_a_broken_document():
    broken = copy.deepcopy(openapi_document())
    del broken["paths"]["/livez"]["get"]["responses"]
    with pytest.raises(jsonschema_rs.ValidationError):
        schemathesis.openapi.from_dict(broken).validate()


def _refs(node):
    if isinstance(node, dict):
        if "$ref" in node:
            yield node["$ref"]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def test_every_reference_resolves_and_every_component_is_used():
    document = openapi_document()
    names = {ref.rsplit("/", 1)[1] for ref in _refs(document)}

    assert names <= set(document["components"]["schemas"])
    assert set(document["components"]["schemas"]) <= names


def test_every_operation_documents_its_responses_and_signed_ones_their_scheme():
    document = openapi_document()
    schemes = set(document["components"]["securitySchemes"])
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            assert operation["responses"], (method, path)
            for requirement in operation.get("security", []):
                assert set(requirement) <= schemes, (method, path)
            if path.startswith(("/api/plugin/", "/api/admin/", "/webhooks/", "/proxy/")) and path != "/proxy/widget.js":
                assert operation.get("security"), f"{method} {path} names no security scheme"
                assert "401" in operation["responses"], (method, path)
