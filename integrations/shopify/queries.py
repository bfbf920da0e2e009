"""Every GraphQL document the app sends to Shopify, and the page sizes it sends them with.

One place, so that a test can walk all of them through Shopify's published Admin schema, the
scopes the app holds and the cost limit (tests/integrations/shopify/test_documents.py).

Customer ids need `read_customers` (the schema's `requiredAccess` on `Customer`); the order
documents select `customer { id }` only when that scope is granted.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from integrations.shopify.cost import MAX_QUERY_COST, largest_page

PRODUCT_FIELDS = """id legacyResourceId title handle status vendor productType tags description
      createdAt updatedAt onlineStoreUrl totalInventory tracksInventory
      featuredMedia { preview { image { url } } }"""
VARIANT_FIELDS = "id price availableForSale"
COLLECTION_FIELDS = "id handle title"
_ORDER_FIELDS = """id legacyResourceId createdAt updatedAt cancelledAt test displayFinancialStatus currencyCode
      totalPriceSet { shopMoney { amount } } customAttributes { key value }"""
LINE_FIELDS = """id quantity product { id } variant { id } originalUnitPriceSet { shopMoney { amount } }
      customAttributes { key value }"""
_PAGE_INFO = "pageInfo { hasNextPage endCursor }"

# Nested connections of the paged queries: most products have a handful of variants and
# collections and most orders a handful of lines, so small nested pages keep the outer page
# large; a node with more is completed by the follow-up queries below.
VARIANTS_PER_PRODUCT = 10
COLLECTIONS_PER_PRODUCT = 10
LINES_PER_ORDER = 10

CUSTOMER_SCOPES = frozenset({"read_customers", "write_customers"})


def order_fields(*, customers: bool) -> str:
    return _ORDER_FIELDS + (" customer { id }" if customers else "")


def scopes_of(scope_string: str | None) -> frozenset[str]:
    return frozenset(scope.strip() for scope in (scope_string or "").split(",") if scope.strip())


def customers_granted(scope_string: str | None) -> bool:
    return bool(scopes_of(scope_string) & CUSTOMER_SCOPES)


# --- the shop ----------------------------------------------------------------------------------

SHOP_INFO = (
    "query ShopInfo { shop { id name currencyCode ianaTimezone } currentAppInstallation { accessScopes { handle } } }"
)

# --- bulk operations ---------------------------------------------------------------------------

# groupObjects is left at its default (false since 2026-01): Shopify writes children anywhere in
# the file, which the reader joins on __parentId, and calls ungrouped output faster and more reliable.
BULK_RUN = """mutation BulkRun($query: String!) {
  bulkOperationRunQuery(query: $query) { bulkOperation { id status } userErrors { field message code } }
}"""
BULK_STATUS = """query BulkStatus($id: ID!) {
  bulkOperation(id: $id) { id status errorCode objectCount rootObjectCount url partialDataUrl }
}"""


def products_bulk_query() -> str:
    return (
        "{ products { edges { node { " + PRODUCT_FIELDS + " variants { edges { node { " + VARIANT_FIELDS + " } } }"
        " collections { edges { node { " + COLLECTION_FIELDS + " } } } } } } }"
    )


def orders_bulk_query(*, since: dt.datetime | None, customers: bool) -> str:
    search = f"(query: \"created_at:>='{since.strftime('%Y-%m-%dT%H:%M:%SZ')}'\")" if since else ""
    return (
        "{ orders"
        + search
        + " { edges { node { "
        + order_fields(customers=customers)
        + " lineItems { edges { node { "
        + LINE_FIELDS
        + " } } } } } } }"
    )


# --- paged queries (reconciliation) ------------------------------------------------------------

PRODUCTS_PAGE = (
    "query Products($first: Int!, $cursor: String, $query: String, $variants: Int!, $collections: Int!) {"
    " products(first: $first, after: $cursor, query: $query, sortKey: UPDATED_AT) { "
    + _PAGE_INFO
    + " nodes { "
    + PRODUCT_FIELDS
    + " variants(first: $variants) { "
    + _PAGE_INFO
    + " nodes { "
    + VARIANT_FIELDS
    + " } } collections(first: $collections) { "
    + _PAGE_INFO
    + " nodes { "
    + COLLECTION_FIELDS
    + " } } } } }"
)
PRODUCT_VARIANTS = (
    "query ProductVariants($id: ID!, $first: Int!, $cursor: String) {"
    " product(id: $id) { variants(first: $first, after: $cursor) { "
    + _PAGE_INFO
    + " nodes { "
    + VARIANT_FIELDS
    + " } } } }"
)
PRODUCT_COLLECTIONS = (
    "query ProductCollections($id: ID!, $first: Int!, $cursor: String) {"
    " product(id: $id) { collections(first: $first, after: $cursor) { "
    + _PAGE_INFO
    + " nodes { "
    + COLLECTION_FIELDS
    + " } } } }"
)
ORDER_LINES = (
    "query OrderLines($id: ID!, $first: Int!, $cursor: String) {"
    " order(id: $id) { lineItems(first: $first, after: $cursor) { "
    + _PAGE_INFO
    + " nodes { "
    + LINE_FIELDS
    + " } } } }"
)


def orders_page(*, customers: bool) -> str:
    return (
        "query Orders($first: Int!, $cursor: String, $query: String, $lines: Int!) {"
        " orders(first: $first, after: $cursor, query: $query, sortKey: UPDATED_AT) { "
        + _PAGE_INFO
        + " nodes { "
        + order_fields(customers=customers)
        + " lineItems(first: $lines) { "
        + _PAGE_INFO
        + " nodes { "
        + LINE_FIELDS
        + " } } } } }"
    )


class CostTooHigh(Exception):
    """Not even one node of the query fits the budget, whatever the page sizes."""


def sized(document: str, variables: dict, *, outer: str, nested: tuple[str, ...], budget: int) -> dict:
    """`variables` with the outer page as large as the budget allows. When not even one outer
    node fits, the nested pages are halved until it does; CostTooHigh when nothing is left to shrink."""
    variables = dict(variables)
    while True:
        size = largest_page(document, variables, key=outer, budget=budget)
        if size is not None:
            return {**variables, outer: size}
        shrinkable = [key for key in nested if variables[key] > 1]
        if not shrinkable:
            raise CostTooHigh(f"one node of this query costs more than {budget} points")
        for key in shrinkable:
            variables[key] = max(1, variables[key] // 2)


def products_page_variables(*, cursor: str | None, search: str | None, budget: int) -> dict:
    base = {
        "first": 1,
        "cursor": cursor,
        "query": search,
        "variants": VARIANTS_PER_PRODUCT,
        "collections": COLLECTIONS_PER_PRODUCT,
    }
    return sized(PRODUCTS_PAGE, base, outer="first", nested=("variants", "collections"), budget=budget)


def orders_page_variables(*, cursor: str | None, search: str | None, budget: int, customers: bool) -> dict:
    base = {"first": 1, "cursor": cursor, "query": search, "lines": LINES_PER_ORDER}
    return sized(orders_page(customers=customers), base, outer="first", nested=("lines",), budget=budget)


def follow_up_variables(document: str, *, node_id: str, cursor: str | None, budget: int) -> dict:
    return sized(document, {"id": node_id, "first": 1, "cursor": cursor}, outer="first", nested=(), budget=budget)


def client_documents(*, budget: int = MAX_QUERY_COST) -> Iterator[tuple[str, str, dict, bool]]:
    """(name, document, variables, is_bulk_inner_query) for everything the client can send, with
    the variables it sends at this budget, under both answers to read_customers."""
    since = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    yield "shop info", SHOP_INFO, {}, False
    yield "bulk run", BULK_RUN, {"query": products_bulk_query()}, False
    yield "bulk status", BULK_STATUS, {"id": "gid://shopify/BulkOperation/1"}, False
    yield "products bulk query", products_bulk_query(), {}, True
    yield "products page", PRODUCTS_PAGE, products_page_variables(cursor=None, search="", budget=budget), False
    for document in (PRODUCT_VARIANTS, PRODUCT_COLLECTIONS, ORDER_LINES):
        kind = "Order" if document is ORDER_LINES else "Product"
        variables = follow_up_variables(document, node_id=f"gid://shopify/{kind}/1", cursor="c", budget=budget)
        yield document.split("(")[0].removeprefix("query "), document, variables, False
    for customers in (True, False):
        label = "with customers" if customers else "without customers"
        yield f"orders bulk query {label}", orders_bulk_query(since=since, customers=customers), {}, True
        yield f"orders bulk query {label}, all orders", orders_bulk_query(since=None, customers=customers), {}, True
        variables = orders_page_variables(cursor=None, search="", budget=budget, customers=customers)
        yield f"orders page {label}", orders_page(customers=customers), variables, False
