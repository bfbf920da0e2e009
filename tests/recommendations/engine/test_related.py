"""Related-products blend: content for new products, behaviour for sold ones. No database."""

from __future__ import annotations

import numpy as np
import pytest

from recommendations.engine.data import Catalog, orders_from_lines
from recommendations.engine.related import SOURCES, CoCustomerModel, RelatedBlendModel

NOW = 1_700_000_000.0


def make_catalog(titles: list[str], *, categories=None, sellable=None) -> Catalog:
    n = len(titles)
    return Catalog(
        titles=titles,
        descriptions=[""] * n,
        categories=categories if categories is not None else [""] * n,
        vendors=[""] * n,
        tags=[()] * n,
        prices=np.ones(n),
        created_at=np.zeros(n),
        sellable=np.ones(n, dtype=bool) if sellable is None else np.asarray(sellable, dtype=bool),
    )


def make_orders(baskets: list[tuple[int, list[int]]], n_users: int):
    line_order = [number for number, (_, items) in enumerate(baskets) for _ in items]
    return orders_from_lines(
        order_time=NOW - np.arange(1, len(baskets) + 1) * 3600.0,
        order_user=np.array([user for user, _ in baskets]),
        line_order=np.array(line_order, dtype=np.int64),
        line_item=np.array([item for _, items in baskets for item in items], dtype=np.int64),
        n_users=n_users,
    )


# Items 0-1 (coffee) are bought together, 2-3 (tea) together; 4 is a new coffee product with no
# sales; 5 has neither text nor sales.
TITLES = ["Coffee beans dark roast", "Coffee grinder", "Green tea leaves", "Tea pot", "Coffee beans light roast", ""]
CATEGORIES = ["Coffee", "Coffee", "Tea", "Tea", "Coffee", ""]
BASKETS = [(u, [0, 1]) for u in range(4)] + [(u, [2, 3]) for u in range(4, 8)] + [(8, [0, 3])]


def fitted_blend(**weights) -> RelatedBlendModel:
    model = RelatedBlendModel(**weights)
    return model.fit(make_catalog(TITLES, categories=CATEGORIES), make_orders(BASKETS, 9), now=NOW)


def test_new_product_without_sales_gets_related_items_from_content():
    indices, _, sources = fitted_blend().similar_with_sources(np.array([4]), 3)
    assert indices[0, 0] == 0  # the other coffee beans
    assert sources[0, 0] == "content"
    assert set(indices[0][indices[0] >= 0].tolist()) <= {0, 1}


def test_sold_items_get_co_bought_items_first_with_their_source():
    indices, scores, sources = fitted_blend().similar_with_sources(np.array([0, 2]), 4)
    assert indices[0, 0] == 1 and indices[1, 0] == 3
    assert sources[0, 0] in {"co_customer", "bought_together"}
    assert set(sources[indices >= 0].tolist()) <= set(SOURCES)
    assert (sources[indices < 0] == "").all()
    finite = np.isfinite(scores)
    assert (np.diff(np.where(finite, scores, -1e9), axis=1) <= 0).all()


def test_every_item_with_text_gets_a_list_and_an_item_without_text_or_sales_gets_none():
    indices, _ = fitted_blend().similar(np.arange(6), 3)
    assert (indices[:5, 0] >= 0).all()
    assert (indices[5] == -1).all()


def test_never_the_anchor_never_unsellable_no_duplicates():
    model = RelatedBlendModel()
    sellable = [True, False, True, True, True, True]
    model.fit(make_catalog(TITLES, categories=CATEGORIES, sellable=sellable), make_orders(BASKETS, 9), now=NOW)
    indices, _ = model.similar(np.arange(6), 5)
    for anchor, row in enumerate(indices):
        returned = row[row >= 0]
        assert anchor not in returned and 1 not in returned
        assert len(set(returned.tolist())) == len(returned)


def test_weights_switch_components_off():
    content_only = fitted_blend(co_customer_weight=0.0, basket_weight=0.0)
    _, _, sources = content_only.similar_with_sources(np.arange(5), 3)
    assert set(sources[sources != ""].tolist()) == {"content"}
    behaviour_only = fitted_blend(content_weight=0.0)
    indices, _ = behaviour_only.similar(np.array([4, 0]), 3)
    assert (indices[0] == -1).all()  # no sales, no behaviour
    assert indices[1, 0] == 1


def test_components_alone_follow_the_interface():
    catalog, orders = make_catalog(TITLES, categories=CATEGORIES), make_orders(BASKETS, 9)
    co_customer = CoCustomerModel().fit(catalog, orders, now=NOW)
    indices, scores = co_customer.similar(np.array([0, 4]), 3)
    assert indices[0, 0] == 1 and scores[0, 0] == pytest.approx(4 / np.sqrt(5 * 4))
    assert (indices[1] == -1).all()
    # Its items are explained by the customers they share, whatever their text shares.
    same, _, sources = co_customer.similar_with_sources(np.array([0, 4]), 3)
    np.testing.assert_array_equal(same, indices)
    assert (sources[indices >= 0] == "co_customer").all() and (sources[indices < 0] == "").all()


def test_fixed_seed_gives_identical_results():
    first = fitted_blend().similar_with_sources(np.arange(6), 4)
    second = fitted_blend().similar_with_sources(np.arange(6), 4)
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "titles, baskets, n_users",
    [
        ([], [], 0),  # empty catalogue
        (["Mug"], [], 0),  # one item, zero orders
        (["Mug"], [(0, [0])], 1),  # one item, one order
        (["Mug", "Cup"], [(0, [0]), (1, [1])], 2),  # single-item baskets only
        (["", ""], [(0, [0, 1])], 1),  # empty catalogue text
        (["Mug", "Mug"], [(-1, [0, 1])], 0),  # only a guest order
    ],
)
def test_edge_cases_do_not_fail(titles, baskets, n_users):
    model = RelatedBlendModel()
    model.fit(make_catalog(titles), make_orders(baskets, n_users), now=NOW)
    indices, scores, sources = model.similar_with_sources(np.arange(len(titles)), 3)
    assert indices.shape == scores.shape == sources.shape == (len(titles), 3)
    for anchor, row in enumerate(indices):
        assert anchor not in row


def test_basket_similarity_is_confidence_with_popular_companions_discounted():
    from recommendations.engine.bought_together import cooccurrence_build
    from recommendations.engine.related import BasketModel

    # 0 sells with 1 in three orders and with 2 in three; 1 also sells alone in five more orders.
    baskets = [(0, [0, 1])] * 3 + [(1, [0, 2])] * 3 + [(2, [1])] * 5
    catalog, orders = make_catalog(["a", "b", "c"]), make_orders(baskets, 3)
    model = BasketModel().fit(catalog, orders, now=NOW)
    rows = model.similarity_rows(np.array([0, 2]))
    np.testing.assert_allclose(rows[0], [0.0, 3 / 6 / 8**0.3, 3 / 6 / 3**0.3])
    np.testing.assert_allclose(rows[1], [3 / 3 / 6**0.3, 0.0, 0.0])
    assert rows[0, 2] > rows[0, 1]  # the same co-count, the less popular companion first
    # The training's co-occurrence is reused when it was built from the same orders, else rebuilt.
    shared = cooccurrence_build(orders, 3)
    assert BasketModel(co=shared).fit(catalog, orders, now=NOW)._counts is shared.counts
    other = cooccurrence_build(make_orders(baskets[:4], 3), 3)
    rebuilt = BasketModel(co=other).fit(catalog, orders, now=NOW)
    np.testing.assert_allclose(rebuilt.similarity_rows(np.array([0])), rows[:1])


def test_a_basket_weight_puts_the_products_bought_in_the_same_orders_first():
    # 0 and 3 are bought by the same customers, but in different orders; 0 and 2 in one order.
    baskets = [(0, [0]), (0, [3]), (1, [0]), (1, [3]), (2, [0, 2]), (3, [2])]
    catalog, orders = make_catalog(["w", "x", "y", "z"]), make_orders(baskets, 4)
    plain = RelatedBlendModel(content_weight=0.0, basket_weight=0.0).fit(catalog, orders, now=NOW)
    basket = RelatedBlendModel(content_weight=0.0, basket_weight=2.0).fit(catalog, orders, now=NOW)
    assert plain.similar(np.array([0]), 1)[0][0, 0] == 3
    indices, _, sources = basket.similar_with_sources(np.array([0]), 2)
    assert indices[0].tolist() == [2, 3]
    assert sources[0].tolist() == ["bought_together", "co_customer"]


def test_recent_sales_count_the_last_days_of_the_shops_own_sales():
    from recommendations.engine.related import recent_sales

    day = 86_400.0
    catalog = make_catalog(["a", "b", "c"], sellable=[True, True, False])
    # Item 0 sold twice in the last month of sales, item 1 once then and once long before, item 2
    # (not on sale) three times; the latest order is a year before "now".
    times = np.array([0, -1, -2, -3, -4, -5, -100]) * day + NOW - 365 * day
    orders = orders_from_lines(
        order_time=times,
        order_user=np.zeros(7, dtype=int),
        line_order=np.arange(7),
        line_item=np.array([0, 0, 1, 2, 2, 2, 1]),
        n_users=1,
    )
    np.testing.assert_allclose(recent_sales(catalog, orders, now=NOW, days=30), [1.0, 0.5, 1.5])
    # Orders after "now" (a hold-out) are not known yet.
    np.testing.assert_allclose(recent_sales(catalog, orders, now=times[2], days=30), [0.0, 1.0, 3.0])
    assert not recent_sales(catalog, orders_from_lines(
        order_time=np.zeros(0), order_user=np.zeros(0, dtype=int), line_order=np.zeros(0, dtype=int),
        line_item=np.zeros(0, dtype=int), n_users=0,
    ), now=NOW, days=30).any()  # fmt: skip


def test_recent_sales_reorder_related_items_but_never_bring_one_in():
    # 1 and 2 are each bought with 0 once; 2 sells more besides (which also weakens its
    # co-purchase evidence); 3 sells most, never with 0.
    baskets = [(0, [0, 1]), (1, [0, 2]), (2, [2]), (3, [2]), (4, [3]), (4, [3]), (4, [3]), (4, [3])]
    catalog, orders = make_catalog(["w", "x", "y", "z"]), make_orders(baskets, 5)
    plain = RelatedBlendModel(content_weight=0.0, recent_weight=0.0).fit(catalog, orders, now=NOW)
    assert plain.similar(np.array([0]), 3)[0][0].tolist() == [1, 2, -1]
    for weight, expected in ((0.4, [1, 2, -1]), (4.0, [2, 1, -1])):
        model = RelatedBlendModel(content_weight=0.0, recent_weight=weight).fit(catalog, orders, now=NOW)
        indices, scores, sources = model.similar_with_sources(np.array([0]), 3)
        assert indices[0].tolist() == expected  # 3 never, however well it sells
        assert set(sources[0][:2]) <= {"co_customer", "bought_together"}
    # What the term adds: its weight times the item's recent sales over the best seller's (3: 4).
    _, with_term = (
        RelatedBlendModel(content_weight=0.0, recent_weight=0.4).fit(catalog, orders, now=NOW).similar(np.array([0]), 2)
    )
    _, without = plain.similar(np.array([0]), 2)
    np.testing.assert_allclose(with_term[0] - without[0], [0.4 * 1 / 4, 0.4 * 3 / 4])
