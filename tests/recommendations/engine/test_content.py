"""Content similarity and its explanations on a small hand-written catalogue. No database."""

from __future__ import annotations

import numpy as np
import pytest

from recommendations.engine.content import ContentModel, SharedTerms
from recommendations.engine.data import Catalog, orders_from_lines


def make_catalog(rows: list[tuple[str, str, str, str, tuple[str, ...]]], *, sellable=None) -> Catalog:
    n = len(rows)
    return Catalog(
        titles=[row[0] for row in rows],
        descriptions=[row[1] for row in rows],
        categories=[row[2] for row in rows],
        vendors=[row[3] for row in rows],
        tags=[row[4] for row in rows],
        prices=np.ones(n),
        created_at=np.zeros(n),
        sellable=np.ones(n, dtype=bool) if sellable is None else np.asarray(sellable, dtype=bool),
    )


SHOP = [
    ("White hanging heart T-light holder", "<p>A <b>heart</b> holder.</p>", "Candles", "Acme", ("gift", "home")),
    ("Red hanging heart T-light holder", "Heart shaped holder for tea lights.", "Candles", "Acme", ("gift",)),
    ("Vanilla scented candle", "Hand-poured soy wax candle.", "Candles", "Glow Co", ("home",)),
    ("Blue ceramic mug", "Dishwasher safe mug.", "Kitchen", "Potter", ("kitchen",)),
    ("Green ceramic mug", "Dishwasher safe stoneware mug.", "Kitchen", "Potter", ()),
    ("Jute doormat", "", "Home & Garden", "Mats Ltd", ()),
    ("", "", "", "", ()),  # an item without any text
]  # fmt: skip
NO_ORDERS = orders_from_lines(
    order_time=np.zeros(0), order_user=np.zeros(0), line_order=np.zeros(0), line_item=np.zeros(0), n_users=0
)


def fitted(rows=SHOP, **options) -> ContentModel:
    return ContentModel(**options).fit(make_catalog(rows), NO_ORDERS, now=0.0)


def test_cold_start_items_get_related_items_sharing_category_and_words():
    model = fitted()
    indices, scores = model.similar(np.array([0, 3]), 3)
    assert indices[0, 0] == 1  # the other heart holder
    assert indices[0, 1] == 2  # same category, no shared title words
    assert indices[1, 0] == 4
    assert np.all(np.diff(scores[0][np.isfinite(scores[0])]) <= 0)


def test_never_the_anchor_never_unsellable_no_duplicates_and_padding():
    model = ContentModel().fit(make_catalog(SHOP, sellable=[True, False, True, True, True, True, True]), NO_ORDERS)
    indices, scores = model.similar(np.arange(7), 6)
    for anchor, row in enumerate(indices):
        returned = row[row >= 0]
        assert anchor not in returned
        assert 1 not in returned
        assert len(set(returned.tolist())) == len(returned)
    assert (indices[6] == -1).all() and np.isneginf(scores[6]).all()  # no text: nothing to relate
    # The doormat shares nothing with anyone: padding, not arbitrary items.
    assert (indices[5] == -1).all()


def test_category_vendor_and_tags_count_as_whole_tokens():
    rows = [
        ("Alpha", "", "Home & Living", "", ()),
        ("Beta", "", "Home & Living", "", ()),
        ("Gamma", "", "Living Room", "", ()),  # shares the word "living", not the category
        ("Delta", "", "Garden", "", ()),
    ]
    model = fitted(rows)
    indices, _ = model.similar(np.array([0]), 3)
    assert indices[0].tolist() == [1, -1, -1]


def test_shared_terms_names_category_vendor_tags_and_informative_words():
    model = fitted()
    shared = model.shared_terms(0, 1, top=3)
    assert isinstance(shared, SharedTerms)
    assert shared.category == "Candles"
    assert shared.vendor == "Acme"
    assert shared.tags == ("gift",)
    assert len(shared.terms) == 3
    words = {word for term in shared.terms for word in term.split()}
    assert {"heart", "holder"} <= words
    assert "white" not in words and "red" not in words
    # A word already inside a chosen phrase is not repeated on its own.
    for term in shared.terms:
        assert not any(term != other and term in other.split() for other in shared.terms)


def test_shared_terms_for_unrelated_items_is_empty():
    model = fitted()
    assert model.shared_terms(0, 3).is_empty
    assert model.shared_terms(0, 6).is_empty
    assert model.shared_terms(0, 99).is_empty
    assert model.shared_terms(3, 4).category == "Kitchen"
    assert model.shared_terms(3, 4).tags == ()


def test_html_markup_is_not_vocabulary():
    model = fitted()
    assert not {"p", "b"} & set(model._text_features.tolist())


@pytest.mark.parametrize(
    "rows",
    [
        [],  # empty catalogue
        [("Only item", "", "", "", ())],  # one item
        [("", "", "", "", ()), ("", "", "", "", ())],  # empty catalogue text
        [("The", "", "", "", ()), ("the", "", "", "", ())],  # stop words only
        [("Unique one", "", "", "", ()), ("Different two", "", "", "", ())],  # nothing shared
    ],
)
def test_edge_cases_do_not_fail(rows):
    model = fitted(rows)
    indices, scores = model.similar(np.arange(len(rows)), 3)
    assert indices.shape == (len(rows), 3)
    assert (indices == -1).all() and np.isneginf(scores).all()
    if len(rows) >= 2:
        assert model.shared_terms(0, 1).is_empty
