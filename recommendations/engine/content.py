"""Content similarity: related products from what the catalogue says about them.

TF-IDF (sublinear tf) over three blocks, each L2-normalised, weighted, then the whole vector
L2-normalised, so that a dot product is a cosine:
- title words and bigrams ("tea light", "heart holder"),
- description words (HTML stripped), weighted lower: descriptions are long and boilerplate-prone,
- category, vendor and each tag as whole tokens ("category:home & living"), so that a shared
  multi-word category counts as one strong match, not as loose words.

Needs no sales at all, so it covers new products (cold start). `shared_terms(i, j)` gives the
structured reasons for an explanation such as "Same category 'Candles'; shares 'heart', 'holder'".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

from recommendations.engine.data import Catalog, Orders, top_k_dense

# Anchors scored per dense block (block x n_items float64).
ANCHOR_BATCH = 1024

_HTML_TAG = re.compile(r"<[^>]+>")
_HTML_ENTITY = re.compile(r"&[#a-zA-Z0-9]+;")
_FIELD_PREFIXES = ("category:", "vendor:", "tag:")


def _plain_text(text: str) -> str:
    """Shop descriptions are HTML: markup and entities are not words."""
    return _HTML_ENTITY.sub(" ", _HTML_TAG.sub(" ", text or ""))


def _field_key(value: str) -> str:
    return " ".join((value or "").lower().split())


def _field_tokens(category: str, vendor: str, tags: tuple[str, ...]) -> list[str]:
    tokens = []
    if _field_key(category):
        tokens.append("category:" + _field_key(category))
    if _field_key(vendor):
        tokens.append("vendor:" + _field_key(vendor))
    tokens.extend(sorted({"tag:" + _field_key(tag) for tag in tags if _field_key(tag)}))
    return tokens


@dataclass(frozen=True)
class SharedTerms:
    """Why two products are related by content. Display strings are the first product's spelling."""

    category: str | None
    vendor: str | None
    tags: tuple[str, ...]
    terms: tuple[str, ...]  # most informative shared title/description words or phrases, best first

    @property
    def is_empty(self) -> bool:
        return self.category is None and self.vendor is None and not self.tags and not self.terms


def _tfidf_block(
    documents: list[str], *, ngram_range: tuple[int, int], analyzer=None
) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    """(L2-normalised tf-idf rows, feature names, idf); an empty block when there is no vocabulary."""
    # A term in one document only can never be shared, it just dilutes the cosine: min_df=2 once
    # there are two documents; a one-item catalogue keeps min_df=1 (sklearn refuses min_df > n).
    min_df = 2 if len(documents) >= 2 else 1
    options = (
        {"analyzer": analyzer}
        if analyzer is not None
        else {
            "ngram_range": ngram_range,
            "stop_words": "english",
            "strip_accents": "unicode",
        }
    )
    vectorizer = TfidfVectorizer(sublinear_tf=True, min_df=min_df, dtype=np.float64, **options)
    try:
        matrix = vectorizer.fit_transform(documents)
    except ValueError:  # empty vocabulary: no text, or no term shared by two items
        return sp.csr_matrix((len(documents), 0)), np.zeros(0, dtype=object), np.zeros(0)
    return matrix.tocsr(), vectorizer.get_feature_names_out(), vectorizer.idf_


class ContentModel:
    """Item-to-item cosine on catalogue text and fields; works for items without any sales."""

    name = "content"

    def __init__(
        self,
        *,
        title_weight: float = 1.0,
        description_weight: float = 0.5,
        field_weight: float = 1.0,
        title_ngrams: tuple[int, int] = (1, 2),
        min_similarity: float = 0.0,
    ) -> None:
        self.title_weight = title_weight
        self.description_weight = description_weight
        self.field_weight = field_weight
        self.title_ngrams = title_ngrams
        self.min_similarity = min_similarity
        self._vectors: sp.csr_matrix = sp.csr_matrix((0, 0))
        self._vectors_t: sp.csr_matrix = sp.csr_matrix((0, 0))
        self._text_features = np.zeros(0, dtype=object)
        self._text_block: sp.csr_matrix = sp.csr_matrix((0, 0))
        self._field_features = np.zeros(0, dtype=object)
        self._field_idf = np.zeros(0)
        self._field_idf_by_name: dict[str, float] = {}
        self._text_rows: list[dict[int, float] | None] = []
        self._sellable = np.zeros(0, dtype=bool)
        self._catalog: Catalog | None = None

    def fit(self, catalog: Catalog, orders: Orders | None = None, *, now: float = 0.0) -> ContentModel:
        """Orders are not used; the parameter keeps the item-model interface."""
        self._catalog = catalog
        self._sellable = np.asarray(catalog.sellable, dtype=bool)
        n = catalog.n_items
        titles, title_features, _ = _tfidf_block(list(catalog.titles), ngram_range=self.title_ngrams)
        descriptions, description_features, _ = _tfidf_block(
            [_plain_text(text) for text in catalog.descriptions], ngram_range=(1, 1)
        )
        field_documents = [
            _field_tokens(catalog.categories[i], catalog.vendors[i], tuple(catalog.tags[i])) for i in range(n)
        ]
        fields, self._field_features, self._field_idf = _tfidf_block(
            field_documents, ngram_range=(1, 1), analyzer=lambda tokens: tokens
        )
        # Title and description features kept apart: "red" in a title is a stronger statement.
        self._text_block = sp.hstack([self.title_weight * titles, self.description_weight * descriptions]).tocsr()
        self._text_features = np.concatenate(
            [np.asarray(title_features, dtype=object), np.asarray(description_features, dtype=object)]
        )
        combined = sp.hstack([self._text_block, self.field_weight * fields]).tocsr()
        self._vectors = normalize(combined, norm="l2", axis=1).tocsr() if combined.shape[1] else combined
        self._vectors_t = self._vectors.T.tocsr()
        self._field_idf_by_name = dict(zip(self._field_features.tolist(), self._field_idf.tolist(), strict=True))
        self._text_rows = [None] * n
        return self

    def _text_row(self, i: int) -> dict[int, float]:
        """Item i's title and description weights by feature, built once per item: explaining a
        catalogue's lists asks for the same rows a hundred thousand times, and a sparse row slice
        costs far more than a dict."""
        row = self._text_rows[i]
        if row is None:
            block = self._text_block
            start, end = block.indptr[i], block.indptr[i + 1]
            row = self._text_rows[i] = dict(
                zip(block.indices[start:end].tolist(), block.data[start:end].tolist(), strict=True)
            )
        return row

    @property
    def n_items(self) -> int:
        return self._vectors.shape[0]

    def similarity_rows(self, anchors: np.ndarray) -> np.ndarray:
        """Dense (len(anchors), n_items) cosine similarities, anchor itself included."""
        anchors = np.asarray(anchors, dtype=np.int64)
        if self._vectors.shape[1] == 0:
            return np.zeros((len(anchors), self.n_items))
        return np.asarray((self._vectors[anchors] @ self._vectors_t).toarray(), dtype=np.float64)

    def similar(self, anchors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        anchors = np.asarray(anchors, dtype=np.int64).ravel()
        indices = np.full((len(anchors), k), -1, dtype=np.int32)
        scores = np.full((len(anchors), k), -np.inf)
        valid = np.flatnonzero((anchors >= 0) & (anchors < self.n_items))
        if k <= 0:
            return indices, scores
        for start in range(0, len(valid), ANCHOR_BATCH):
            rows = valid[start : start + ANCHOR_BATCH]
            block = self.similarity_rows(anchors[rows])
            # Nothing in common is no recommendation: leave the slot to another source.
            block[block <= self.min_similarity] = -np.inf
            block[:, ~self._sellable] = -np.inf
            block[np.arange(len(rows)), anchors[rows]] = -np.inf
            indices[rows], scores[rows] = top_k_dense(block, k)
        return indices, scores

    def shared_terms(self, i: int, j: int, top: int = 3) -> SharedTerms:
        """What items i and j have in common: category, vendor, tags and the top shared words.

        Words are ranked by their contribution to the cosine (product of the two tf-idf weights);
        a word already inside a chosen phrase ("heart" after "heart holder") is not repeated.
        """
        catalog = self._catalog
        if catalog is None or not (0 <= i < catalog.n_items and 0 <= j < catalog.n_items):
            return SharedTerms(None, None, (), ())
        same_category = _field_key(catalog.categories[i]) and (
            _field_key(catalog.categories[i]) == _field_key(catalog.categories[j])
        )
        same_vendor = _field_key(catalog.vendors[i]) and _field_key(catalog.vendors[i]) == _field_key(
            catalog.vendors[j]
        )
        tags_j = {_field_key(tag) for tag in catalog.tags[j]}
        shared_tags = {}
        for tag in catalog.tags[i]:
            if _field_key(tag) and _field_key(tag) in tags_j:
                shared_tags.setdefault(_field_key(tag), tag)
        # Rarer tags first: they say more.
        field_idf = self._field_idf_by_name
        tag_order = sorted(shared_tags, key=lambda key: (-field_idf.get("tag:" + key, 0.0), key))

        terms: list[str] = []
        if self._text_block.shape[1]:
            row_i, row_j = self._text_row(i), self._text_row(j)
            if len(row_j) < len(row_i):
                row_i, row_j = row_j, row_i
            # Shared features by their contribution to the cosine; on a tie a phrase before a single
            # word ("heart holder" says more than "heart"), then the feature's index.
            features = self._text_features
            overlap = sorted(
                (-(weight * row_j[feature]), -str(features[feature]).count(" "), feature)
                for feature, weight in row_i.items()
                if feature in row_j
            )
            covered: set[str] = set()
            seen: set[str] = set()
            for *_, feature in overlap:
                term = str(features[feature])
                words = set(term.split())
                if term in seen or words <= covered:
                    continue
                terms.append(term)
                seen.add(term)
                covered |= words
                if len(terms) >= top:
                    break
        return SharedTerms(
            category=catalog.categories[i] if same_category else None,
            vendor=catalog.vendors[i] if same_vendor else None,
            tags=tuple(shared_tags[key] for key in tag_order),
            terms=tuple(terms),
        )
