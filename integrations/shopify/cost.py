"""Requested query cost by Shopify's documented rules, and page sizes chosen from it.

Shopify prices a query before running it (https://shopify.dev/docs/apps/build/apis/graphql-admin/rate-limits):
a scalar or enum costs 0, an object 1, a connection 2 plus `first` (or `last`) times the cost of one
node, so nested connections multiply; a mutation costs 10. A query whose requested cost exceeds
1,000 is refused before it runs (MAX_COST_EXCEEDED). The bucket that pays for queries refills at
the store's restore rate (100 points a second on standard plans, more on larger ones) and charges
the requested cost up front, refunding what the query did not use.

The client knows no schema at run time, so a connection is recognised by its `first`/`last`
argument, which Shopify requires on every connection outside bulk operations. `pageInfo`,
`edges` and `cursor` are part of the connection's own 2 points. The test suite checks these
numbers against a schema-aware count over Shopify's published Admin schema.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    parse,
    value_from_ast_untyped,
)

MAX_QUERY_COST = 1000
MUTATION_COST = 10
MAX_PAGE_SIZE = 250
# A request should not have to wait longer than this for the bucket to hold its requested cost:
# on a store restoring 50 points a second, pages are priced at 500 rather than 1,000.
REFILL_SECONDS = 10.0
MIN_BUDGET = 50


@lru_cache(maxsize=64)
def parsed(document: str) -> DocumentNode:
    return parse(document, no_location=True)


def _arguments(field: FieldNode, variables: Mapping) -> dict:
    return {
        argument.name.value: value_from_ast_untyped(argument.value, dict(variables))
        for argument in field.arguments or ()
    }


class _Counter:
    def __init__(self, document: DocumentNode, variables: Mapping) -> None:
        self.variables = variables
        self.fragments = {
            definition.name.value: definition
            for definition in document.definitions
            if isinstance(definition, FragmentDefinitionNode)
        }

    def selections(self, selection_set: SelectionSetNode | None) -> int:
        """Fields add up; fragments on other types are alternatives, so the dearest one counts."""
        if selection_set is None:
            return 0
        total, alternatives = 0, [0]
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self.field(selection)
            elif isinstance(selection, InlineFragmentNode):
                alternatives.append(self.selections(selection.selection_set))
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments.get(selection.name.value)
                alternatives.append(self.selections(fragment.selection_set) if fragment else 0)
        return total + max(alternatives)

    def field(self, field: FieldNode) -> int:
        if field.selection_set is None:
            return 0
        arguments = _arguments(field, self.variables)
        size = arguments.get("first", arguments.get("last"))
        if "first" in arguments or "last" in arguments:
            return 2 + int(size or 0) * self.node(field.selection_set)
        return 1 + self.selections(field.selection_set)

    def node(self, connection: SelectionSetNode) -> int:
        """The cost of one node of a connection, whether selected as `nodes` or `edges { node }`."""
        costs = [0]
        for selection in connection.selections:
            if not isinstance(selection, FieldNode):
                continue
            name = selection.name.value
            if name == "nodes":
                costs.append(1 + self.selections(selection.selection_set))
            elif name == "edges" and selection.selection_set is not None:
                for inner in selection.selection_set.selections:
                    if isinstance(inner, FieldNode) and inner.name.value == "node":
                        costs.append(1 + self.selections(inner.selection_set))
        return max(costs)


def requested_cost(document: str, variables: Mapping | None = None) -> int:
    """What Shopify will ask for this document with these variables."""
    tree = parsed(document)
    counter = _Counter(tree, variables or {})
    total = 0
    for definition in tree.definitions:
        if not isinstance(definition, OperationDefinitionNode):
            continue
        if definition.operation == OperationType.MUTATION:
            total += MUTATION_COST * sum(isinstance(s, FieldNode) for s in definition.selection_set.selections)
        else:
            total += counter.selections(definition.selection_set)
    return total


def cost_budget(throttle: Mapping | None) -> int:
    """The most one request should ask for: Shopify's 1,000-point limit, less on a store whose
    bucket is smaller or refills slowly (`throttleStatus` of the last answer)."""
    budget = float(MAX_QUERY_COST)
    if throttle:
        try:
            maximum = float(throttle.get("maximumAvailable") or MAX_QUERY_COST)
            rate = float(throttle.get("restoreRate") or 0)
        except (TypeError, ValueError):
            return MAX_QUERY_COST
        budget = min(budget, maximum)
        if rate > 0:
            budget = min(budget, rate * REFILL_SECONDS)
    return max(MIN_BUDGET, int(budget))


def largest_page(
    document: str, variables: Mapping, *, key: str, budget: int, maximum: int = MAX_PAGE_SIZE
) -> int | None:
    """The largest `variables[key]` (1..maximum) whose requested cost fits the budget, or None
    when even one node is over it. The cost grows with the page size, so a bisection finds it."""

    def fits(size: int) -> bool:
        return requested_cost(document, {**variables, key: size}) <= budget

    if not fits(1):
        return None
    low, high = 1, maximum
    while low < high:
        middle = (low + high + 1) // 2
        if fits(middle):
            low = middle
        else:
            high = middle - 1
    return low
