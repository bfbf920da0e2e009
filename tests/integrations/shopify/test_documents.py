"""Every GraphQL document the client can send, held to Shopify's published Admin schema: valid,
allowed by the scopes the app asks for, and within the 1,000-point requested-cost limit."""

from __future__ import annotations

import pytest
from django.conf import settings
from graphql import parse
from graphql.execution.values import get_variable_values

from integrations.shopify.cost import MAX_QUERY_COST, requested_cost
from integrations.shopify.queries import client_documents, orders_bulk_query, orders_page, orders_page_variables
from tests.fakes.shopify_schema import schema_or_skip

APP_SCOPES = frozenset(settings.SHOPIFY_SCOPES.split(",")) | frozenset(settings.SHOPIFY_OPTIONAL_SCOPES.split(","))
WITHOUT_CUSTOMERS = APP_SCOPES - {"read_customers"}
BUDGETS = (1000, 500, 120)
DOCUMENTS = [(budget, *document) for budget in BUDGETS for document in client_documents(budget=budget)]


@pytest.fixture(scope="module")
def schema():
    return schema_or_skip(settings.SHOPIFY_API_VERSION)


@pytest.mark.parametrize(
    "budget,name,document,variables,bulk", DOCUMENTS, ids=[f"{row[1]} @{row[0]}" for row in DOCUMENTS]
)
def test_every_client_document_is_valid_allowed_and_within_the_cost_limit(
    schema, budget, name, document, variables, bulk
):
    tree = parse(document)
    assert schema.validate(tree) == [], name
    scopes = WITHOUT_CUSTOMERS if "without customers" in name else APP_SCOPES
    assert schema.denied(tree, scopes) == [], name
    if bulk:
        # Shopify's limits on bulk queries: at most 5 connections, nested at most 2 deep.
        depths = schema.connection_depths(tree)
        assert 1 <= len(depths) <= 5 and max(depths) <= 2, depths
        return
    coerced = get_variable_values(schema.schema, tree.definitions[0].variable_definitions or (), variables)
    assert not isinstance(coerced, list), coerced
    cost = schema.requested_cost(tree, variables)
    assert cost <= min(budget, MAX_QUERY_COST), (name, cost)
    # The client's schema-less count agrees with the count over the schema.
    assert requested_cost(document, variables) == cost


def test_customer_ids_need_read_customers(schema):
    page = parse(orders_page(customers=True))
    denied = schema.denied(page, WITHOUT_CUSTOMERS)
    assert [entry.path for entry in denied] == [("orders", "nodes", "customer")]
    assert "read_customers" in denied[0].access.text
    assert schema.denied(parse(orders_bulk_query(since=None, customers=True)), WITHOUT_CUSTOMERS)
    assert not schema.denied(parse(orders_page(customers=False)), WITHOUT_CUSTOMERS)
    # Write scopes open what their read scope opens.
    assert not schema.denied(page, (WITHOUT_CUSTOMERS - {"read_orders"}) | {"write_orders", "write_customers"})


def test_the_cost_count_matches_shopifys_documented_examples(schema):
    """The pages the reconciliation used to send: 10,602 and 150,702 points by the documented rules."""
    old_products = (
        "query($first: Int!) { products(first: $first) { pageInfo { hasNextPage endCursor } nodes { id title"
        " featuredMedia { preview { image { url } } } variants(first: 100) { nodes { id price } } } } }"
    )
    old_orders = (
        "query($first: Int!) { orders(first: $first) { nodes { id customer { id }"
        " totalPriceSet { shopMoney { amount } } customAttributes { key value }"
        " lineItems(first: 250) { nodes { id product { id } variant { id }"
        " originalUnitPriceSet { shopMoney { amount } } customAttributes { key value } } } } } }"
    )
    for document, expected in ((old_products, 10_602), (old_orders, 150_702)):
        assert schema.requested_cost(parse(document), {"first": 100}) == expected
        assert requested_cost(document, {"first": 100}) == expected
    # And the page sizes chosen now stay within the limit at any budget.
    for budget in (1000, 300, 50):
        variables = orders_page_variables(cursor=None, search=None, budget=budget, customers=True)
        assert schema.requested_cost(parse(orders_page(customers=True)), variables) <= budget
