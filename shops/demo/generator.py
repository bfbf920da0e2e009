"""Seeded generator of a realistic synthetic home & kitchen / gifts shop.

Used by ``make demo`` and by tests so the project runs without any external data. The output is
built only from ``random.Random(seed)``, so the same arguments always give identical records, in
any process and whatever ``PYTHONHASHSEED`` is (nothing here iterates over a set of strings).

The data carries the signals the recommenders are meant to find, so that their evaluation has
something to recover:

* long-tailed (Zipf-like) product popularity and long-tailed customer activity;
* planted complementary pairs (teapot + loose-leaf tea, notebook + pen set, ...) that are added to
  each other's baskets far more often than chance, exposed as ``DemoShop.complementary_pairs``;
* seasonal categories (Christmas decorations in Nov-Dec, garden and picnic goods in summer),
  exposed as ``DemoShop.seasonal_categories``, plus more order volume in the gifting season;
* customers who each prefer 1-3 categories, so personal recommendations have signal;
* cold-start products launched in the last month, drafts that never sell, archived products that
  stop selling, and cancelled / refunded / test orders that importers and training must exclude.

Standard library only: no numpy and no Django import.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
import random
import re
import urllib.parse
from dataclasses import dataclass, field
from decimal import Decimal

from shops.records import OrderLineRecord, OrderRecord, OrderStatus, ProductRecord, ProductStatus

__all__ = ["DemoShop", "demo_shop_generate", "DEFAULT_END"]

# Fixed so that output does not depend on the day it is generated.
DEFAULT_END = dt.datetime(2026, 10, 31, 23, 0, tzinfo=dt.UTC)

PERIOD_DAYS = 365
NEW_PRODUCT_DAYS = 30
MAX_BASKET_PRODUCTS = 6

# Shares of the catalogue and of the orders.
DRAFT_SHARE = 0.05
ARCHIVED_SHARE = 0.05
OUT_OF_STOCK_SHARE = 0.06
GUEST_SHARE = 0.15
CUSTOMERS_PER_ORDER = 0.15  # 4000 orders -> 600 customers
# Pareto activity weights: most customers order once or twice, a loyal few order monthly.
CUSTOMER_ACTIVITY_ALPHA = 0.9
CUSTOMER_ACTIVITY_CAP = 100.0
CANCELLED_SHARE = 0.03
REFUNDED_SHARE = 0.02
TEST_SHARE = 0.01
# Unpaid orders only make sense at the very end of the export window.
PENDING_SHARE_OF_RECENT = 0.25
PENDING_WINDOW = dt.timedelta(hours=48)

# Basket construction. The core size is what the customer came for; planted complements are
# added on top, which pushes the share of multi-product orders to roughly 45-50%.
CORE_BASKET_SIZE_WEIGHTS = (0.57, 0.24, 0.10, 0.05, 0.025, 0.015)  # sizes 1..6
QUANTITY_WEIGHTS = (0.84, 0.11, 0.03, 0.02)  # quantities 1..4
TASTE_PROBABILITY = 0.7  # how often a registered customer shops in a preferred category
COMPLEMENT_FORWARD_PROBABILITY = 0.55
COMPLEMENT_REVERSE_PROBABILITY = 0.2
MAX_PLANTED_PAIRS = 15

# Zipf-like popularity over a random ranking of the catalogue; the offset flattens the very
# head so that a single product does not dominate a 300-product shop.
POPULARITY_EXPONENT = 1.05
POPULARITY_RANK_OFFSET = 2
# Planted pairs sit in the upper part of the ranking so they have enough orders to be
# measurable; a pair that sells twice a year teaches nothing.
PAIR_RANK_HEAD_SHARE = 0.3

# Relative order volume by hour of day (shop time, UTC here): quiet nights, a lunchtime bump
# and an evening peak when people browse from the sofa.
HOURLY_VOLUME = (
    0.5,
    0.3,
    0.2,
    0.15,
    0.15,
    0.2,
    0.4,
    0.7,
    0.9,
    1.0,
    1.0,
    1.1,
    1.3,
    1.2,
    1.0,
    1.0,
    1.0,
    1.1,
    1.4,
    1.8,
    2.1,
    2.0,
    1.5,
    0.9,
)
# Monday..Sunday.
WEEKDAY_VOLUME = (0.95, 0.95, 0.95, 1.0, 0.95, 0.95, 1.25)

_CENT = Decimal("0.01")
_UTC = dt.UTC


@dataclass(frozen=True)
class DemoShop:
    products: tuple[ProductRecord, ...]
    # Sorted by created_at; external ids increase with time.
    orders: tuple[OrderRecord, ...]
    # (first, second) external ids: buying the first makes the second likely, and less so the
    # other way round.
    complementary_pairs: tuple[tuple[str, str], ...]
    # Category -> months (1-12) in which its demand peaks.
    seasonal_categories: dict[str, tuple[int, ...]]


# --------------------------------------------------------------------------------------------
# Vocabulary
# --------------------------------------------------------------------------------------------

_FOOD_ADJECTIVES = ("Organic", "Small-Batch", "Fairtrade", "Hand-Blended", "Classic", "Reserve", "Signature")
_OBJECT_ADJECTIVES = ("Rustic", "Speckled", "Classic", "Nordic", "Vintage", "Handmade", "Minimal", "Heritage")
_SCENT_ADJECTIVES = ("Calming", "Cosy", "Fresh", "Wild", "Botanical", "Midnight", "Sunday")
_SCENTS = ("Lavender", "Fig & Cassis", "Sea Salt", "Cedarwood", "Vanilla", "Orange Blossom", "Amber")
_SKIN_SCENTS = ("Oat & Honey", "Lavender", "Charcoal", "Rose", "Sea Salt", "Neroli")
_FESTIVE_ADJECTIVES = ("Festive", "Frosted", "Nordic", "Vintage", "Woodland", "Starry", "Classic")
_KIDS_ADJECTIVES = ("Little", "Happy", "Rainbow", "Jungle", "Sleepy", "Tiny", "Playful")
_GARDEN_ADJECTIVES = ("Heritage", "Rustic", "Classic", "Potting-Shed", "Allotment", "Cottage", "Hardy")
_PAPER_ADJECTIVES = ("Classic", "Pocket", "Botanical", "Minimal", "Everyday", "Linen-Bound", "Heritage")
_SUMMER_ADJECTIVES = ("Sunny", "Seaside", "Riviera", "Classic", "Coastal", "Meadow", "Harbour")
_BAG_ADJECTIVES = ("Everyday", "Classic", "Weekend", "Market", "Heritage", "Minimal", "Harbour")
_ORIGINS = ("Colombian", "Ethiopian", "Espresso", "Decaf", "Brazilian", "Guatemalan")


@dataclass(frozen=True)
class _NounSpec:
    noun: str
    adjectives: tuple[str, ...]
    # Material, colour, flavour or scent: whatever sits between adjective and noun.
    materials: tuple[str, ...]
    min_price: str
    max_price: str
    blurb: str


@dataclass(frozen=True)
class _CategorySpec:
    name: str
    colour: str
    # SVG fragment drawn on the tile, light on the category colour.
    shape: str
    # Share of the catalogue and relative demand per product.
    catalogue_weight: float
    demand_weight: float
    tags: tuple[str, ...]
    sentences: tuple[str, ...]
    nouns: tuple[_NounSpec, ...]


_CATEGORIES: tuple[_CategorySpec, ...] = (
    _CategorySpec(
        name="Tea & Coffee",
        colour="#8d6e63",
        shape="<circle cx='60' cy='50' r='26' fill='#fff' fill-opacity='.35'/>",
        catalogue_weight=1.2,
        demand_weight=1.3,
        tags=("hot-drinks", "pantry", "morning-ritual", "gift-idea", "slow-living"),
        sentences=(
            "Sourced from small growers and packed in our roastery.",
            "A favourite for slow weekend mornings.",
            "Best enjoyed with a biscuit and a good book.",
        ),
        nouns=(
            _NounSpec(
                "Loose-Leaf Tea",
                _FOOD_ADJECTIVES,
                ("Earl Grey", "Assam", "Sencha", "Chamomile", "Peppermint", "Rooibos", "Darjeeling"),
                "5.50",
                "14.00",
                "Brew at 90 degrees for three to four minutes.",
            ),
            _NounSpec(
                "Ground Coffee",
                _FOOD_ADJECTIVES,
                _ORIGINS,
                "7.00",
                "16.00",
                "Ground medium-coarse for cafetiere and filter.",
            ),
            _NounSpec(
                "Coffee Beans",
                _FOOD_ADJECTIVES,
                _ORIGINS,
                "8.00",
                "18.00",
                "Whole beans roasted in small batches every week.",
            ),
            _NounSpec(
                "Hot Chocolate",
                _FOOD_ADJECTIVES,
                ("Dark", "Salted Caramel", "Mint", "Orange", "Milk"),
                "5.00",
                "11.00",
                "Made with real cocoa flakes that melt into hot milk.",
            ),
            _NounSpec(
                "Tea Bags",
                _FOOD_ADJECTIVES,
                ("English Breakfast", "Green", "Lemon & Ginger", "Berry"),
                "3.50",
                "8.00",
                "Plastic-free pyramid bags, twenty to a tin.",
            ),
            _NounSpec(
                "French Press",
                _OBJECT_ADJECTIVES,
                ("Glass", "Copper", "Matte Black", "Steel"),
                "24.00",
                "55.00",
                "Makes four cups with a fine double mesh filter.",
            ),
            _NounSpec(
                "Tea Infuser",
                _OBJECT_ADJECTIVES,
                ("Steel", "Silicone", "Brass"),
                "4.50",
                "12.00",
                "Fits any mug or teapot.",
            ),
        ),
    ),
    _CategorySpec(
        name="Kitchen",
        colour="#5c8a8a",
        shape="<rect x='34' y='26' width='52' height='48' rx='6' fill='#fff' fill-opacity='.35'/>",
        catalogue_weight=1.3,
        demand_weight=1.2,
        tags=("homeware", "table", "everyday", "gift-idea", "cook"),
        sentences=(
            "Made to be used every day and to last for years.",
            "Looks just as good on the table as in the cupboard.",
            "Each piece varies slightly, which is part of its charm.",
        ),
        nouns=(
            _NounSpec(
                "Teapot",
                _OBJECT_ADJECTIVES,
                ("Stoneware", "Cast Iron", "Porcelain", "Glass", "Enamel"),
                "22.00",
                "65.00",
                "Brews four generous cups and keeps them warm.",
            ),
            _NounSpec(
                "Mug",
                _OBJECT_ADJECTIVES,
                ("Sage", "Terracotta", "Navy", "Cream", "Stoneware", "Enamel"),
                "9.00",
                "22.00",
                "Holds a generous 350 ml.",
            ),
            _NounSpec(
                "Tea Towel",
                _OBJECT_ADJECTIVES,
                ("Linen", "Cotton", "Gingham", "Striped"),
                "6.00",
                "16.00",
                "Absorbent, quick to dry and softer with every wash.",
            ),
            _NounSpec(
                "Chopping Board",
                _OBJECT_ADJECTIVES,
                ("Oak", "Olive Wood", "Walnut", "Bamboo"),
                "18.00",
                "48.00",
                "Oiled by hand and finished with a leather hanging loop.",
            ),
            _NounSpec(
                "Butter Dish",
                _OBJECT_ADJECTIVES,
                ("Ceramic", "Glass", "Marble"),
                "12.00",
                "28.00",
                "Keeps a standard block soft and spreadable.",
            ),
            _NounSpec(
                "Salad Bowl",
                _OBJECT_ADJECTIVES,
                ("Acacia", "Stoneware", "Olive Wood"),
                "18.00",
                "45.00",
                "Big enough for a family salad.",
            ),
            _NounSpec(
                "Apron",
                _OBJECT_ADJECTIVES,
                ("Linen", "Canvas", "Denim"),
                "16.00",
                "34.00",
                "Adjustable neck strap and a deep front pocket.",
            ),
        ),
    ),
    _CategorySpec(
        name="Candles & Home Fragrance",
        colour="#b5838d",
        shape="<ellipse cx='60' cy='48' rx='14' ry='24' fill='#fff' fill-opacity='.4'/>",
        catalogue_weight=1.1,
        demand_weight=1.1,
        tags=("home-fragrance", "cosy", "candles", "gift-idea", "hand-poured"),
        sentences=(
            "Hand-poured in small batches.",
            "Fills a living room without overpowering it.",
            "A lovely gift for a new home.",
        ),
        nouns=(
            _NounSpec(
                "Scented Candle",
                _SCENT_ADJECTIVES,
                _SCENTS,
                "12.00",
                "38.00",
                "Soy wax with a cotton wick and around forty hours of burn time.",
            ),
            _NounSpec(
                "Matches",
                ("Long", "Fireside", "Cook's", "Library"),
                ("Black-Tipped", "Gold-Tipped", "Pink-Tipped", "Striped Box"),
                "2.50",
                "6.00",
                "Extra-long matches in a box pretty enough to leave out.",
            ),
            _NounSpec(
                "Reed Diffuser", _SCENT_ADJECTIVES, _SCENTS, "18.00", "42.00", "Scents a room for around three months."
            ),
            _NounSpec(
                "Diffuser Refill",
                _SCENT_ADJECTIVES,
                _SCENTS,
                "9.00",
                "20.00",
                "Tops up any of our diffusers, with a fresh set of reeds.",
            ),
            _NounSpec(
                "Wax Melts", _SCENT_ADJECTIVES, _SCENTS, "4.50", "9.00", "Six soy melts for any tealight burner."
            ),
            _NounSpec(
                "Candle Snuffer",
                _OBJECT_ADJECTIVES,
                ("Brass", "Matte Black", "Copper"),
                "9.00",
                "19.00",
                "Puts a flame out without smoke or spilt wax.",
            ),
        ),
    ),
    _CategorySpec(
        name="Garden",
        colour="#6b8e23",
        shape="<path d='M60 22C86 34 86 66 60 78C34 66 34 34 60 22Z' fill='#fff' fill-opacity='.35'/>",
        catalogue_weight=1.0,
        demand_weight=0.9,
        tags=("garden", "outdoors", "grow-your-own", "gift-idea", "allotment"),
        sentences=(
            "Built for years of muddy weekends.",
            "A thoughtful gift for anyone with green fingers.",
            "Tested in our own allotment before it reached the shop.",
        ),
        nouns=(
            _NounSpec(
                "Watering Can",
                _GARDEN_ADJECTIVES,
                ("Galvanised", "Copper", "Sage Enamel", "Zinc"),
                "16.00",
                "45.00",
                "A long spout and a brass rose for seedlings.",
            ),
            _NounSpec(
                "Seed Collection",
                _GARDEN_ADJECTIVES,
                ("Wildflower", "Herb", "Sweet Pea", "Tomato", "Sunflower"),
                "3.50",
                "9.00",
                "Five varieties with sowing notes for each.",
            ),
            _NounSpec(
                "Gardening Gloves",
                _GARDEN_ADJECTIVES,
                ("Leather", "Floral Cotton", "Waxed Canvas"),
                "9.00",
                "22.00",
                "Snug at the wrist and tough at the fingertips.",
            ),
            _NounSpec(
                "Plant Pot",
                _GARDEN_ADJECTIVES,
                ("Terracotta", "Concrete", "Glazed Blue", "Zinc"),
                "8.00",
                "30.00",
                "With a drainage hole and a matching saucer.",
            ),
            _NounSpec(
                "Trowel",
                _GARDEN_ADJECTIVES,
                ("Ash-Handled", "Copper", "Steel"),
                "12.00",
                "26.00",
                "Forged blade that will outlive the shed.",
            ),
            _NounSpec(
                "Bird Feeder",
                _GARDEN_ADJECTIVES,
                ("Cedar", "Zinc", "Copper"),
                "14.00",
                "36.00",
                "Easy to fill and squirrel-resistant.",
            ),
            _NounSpec(
                "Kneeler",
                _GARDEN_ADJECTIVES,
                ("Waxed Canvas", "Foam", "Oilcloth"),
                "12.00",
                "24.00",
                "Saves your knees on the gravel path.",
            ),
        ),
    ),
    _CategorySpec(
        name="Christmas Decorations",
        colour="#a4303f",
        shape="<polygon points='60,20 86,74 34,74' fill='#fff' fill-opacity='.4'/>",
        catalogue_weight=0.9,
        demand_weight=0.9,
        tags=("christmas", "festive", "decorations", "seasonal", "gift-idea"),
        sentences=(
            "Comes out of the box year after year.",
            "Wrapped in tissue and ready to give.",
            "Part of this year's woodland collection.",
        ),
        nouns=(
            _NounSpec(
                "Bauble Set",
                _FESTIVE_ADJECTIVES,
                ("Glass", "Gold", "Silver", "Forest Green", "Red"),
                "8.00",
                "26.00",
                "Six hand-finished baubles with ribbon loops.",
            ),
            _NounSpec(
                "Tree Topper",
                _FESTIVE_ADJECTIVES,
                ("Gold Star", "Silver Star", "Brass", "Felt Angel"),
                "9.00",
                "28.00",
                "Sits securely on any tree tip.",
            ),
            _NounSpec(
                "Advent Calendar",
                _FESTIVE_ADJECTIVES,
                ("Wooden", "Fabric", "Paper"),
                "15.00",
                "45.00",
                "Twenty-four pockets to fill with small surprises.",
            ),
            _NounSpec(
                "Christmas Stocking",
                _FESTIVE_ADJECTIVES,
                ("Knitted", "Velvet", "Tartan", "Felt"),
                "12.00",
                "28.00",
                "Roomy enough for a satsuma and a few treats.",
            ),
            _NounSpec(
                "Wreath",
                _FESTIVE_ADJECTIVES,
                ("Eucalyptus", "Pine", "Dried Flower", "Willow"),
                "25.00",
                "65.00",
                "Made to order and posted the same week.",
            ),
            _NounSpec(
                "Garland",
                _FESTIVE_ADJECTIVES,
                ("Felt Ball", "Pine Cone", "Paper Star", "Beaded"),
                "9.00",
                "24.00",
                "Two metres long, for a mantelpiece or staircase.",
            ),
            _NounSpec(
                "Hanging Ornament",
                _FESTIVE_ADJECTIVES,
                ("Wooden", "Felt", "Porcelain", "Glass"),
                "4.00",
                "12.00",
                "Hangs from a loop of red twine.",
            ),
        ),
    ),
    _CategorySpec(
        name="Stationery",
        colour="#3f5f8a",
        shape="<rect x='38' y='22' width='44' height='56' rx='3' fill='#fff' fill-opacity='.35'/>",
        catalogue_weight=1.1,
        demand_weight=1.0,
        tags=("stationery", "desk", "paper", "gift-idea", "letter-writing"),
        sentences=(
            "Printed on recycled paper in a small family press.",
            "Made for lists, letters and half-finished ideas.",
            "A small gift that always gets used.",
        ),
        nouns=(
            _NounSpec(
                "Notebook",
                _PAPER_ADJECTIVES,
                ("Kraft", "Linen", "Navy", "Sage", "Recycled"),
                "6.00",
                "22.00",
                "A5 with 192 dotted pages that lie flat.",
            ),
            _NounSpec(
                "Pen Set",
                _PAPER_ADJECTIVES,
                ("Brass", "Bamboo", "Fineliner", "Gel"),
                "8.00",
                "24.00",
                "Smooth, quick-drying ink in a reusable case.",
            ),
            _NounSpec(
                "Greeting Card",
                _PAPER_ADJECTIVES,
                ("Letterpress", "Watercolour", "Foil", "Kraft"),
                "2.50",
                "5.50",
                "Blank inside, with a recycled envelope.",
            ),
            _NounSpec(
                "Gift Wrap",
                _PAPER_ADJECTIVES,
                ("Kraft", "Floral", "Starry", "Recycled"),
                "3.50",
                "9.00",
                "Three sheets of fully recyclable wrap with tags.",
            ),
            _NounSpec(
                "Desk Planner",
                _PAPER_ADJECTIVES,
                ("Linen", "Kraft", "Undated"),
                "12.00",
                "26.00",
                "A week to a spread with room for notes.",
            ),
            _NounSpec(
                "Washi Tape Set",
                _PAPER_ADJECTIVES,
                ("Pastel", "Floral", "Gold Foil", "Kraft"),
                "4.00",
                "10.00",
                "Five rolls that tear by hand and peel off cleanly.",
            ),
        ),
    ),
    _CategorySpec(
        name="Bags",
        colour="#7b6d8d",
        shape="<path d='M40 44h40v32H40zM50 44v-8a10 10 0 0 1 20 0v8' fill='none' stroke='#fff' stroke-width='5'/>",
        catalogue_weight=0.9,
        demand_weight=0.8,
        tags=("bags", "accessories", "everyday-carry", "gift-idea", "reusable"),
        sentences=(
            "Stitched to carry heavy shopping for years.",
            "Folds away small enough for a coat pocket.",
            "Sized for everyday essentials.",
        ),
        nouns=(
            _NounSpec(
                "Tote Bag",
                _BAG_ADJECTIVES,
                ("Canvas", "Jute", "Organic Cotton", "Striped"),
                "12.00",
                "32.00",
                "Long handles that sit comfortably on a shoulder.",
            ),
            _NounSpec(
                "Gift Bag",
                _BAG_ADJECTIVES,
                ("Kraft", "Linen", "Foil", "Recycled"),
                "2.50",
                "7.00",
                "With a ribbon tie and a matching tag.",
            ),
            _NounSpec(
                "Cooler Bag",
                _BAG_ADJECTIVES,
                ("Insulated", "Striped", "Navy"),
                "18.00",
                "42.00",
                "Keeps drinks cold for an afternoon in the park.",
            ),
            _NounSpec(
                "Market Basket",
                _BAG_ADJECTIVES,
                ("Seagrass", "Wicker", "Jute"),
                "20.00",
                "55.00",
                "Woven by hand with leather handles.",
            ),
            _NounSpec(
                "Backpack",
                _BAG_ADJECTIVES,
                ("Waxed Canvas", "Recycled Nylon", "Corduroy"),
                "35.00",
                "89.00",
                "A padded laptop sleeve and a hidden back pocket.",
            ),
            _NounSpec(
                "Coin Purse",
                _BAG_ADJECTIVES,
                ("Leather", "Velvet", "Cork"),
                "8.00",
                "20.00",
                "A sturdy clasp and room for cards.",
            ),
            _NounSpec(
                "Wash Bag",
                _BAG_ADJECTIVES,
                ("Waxed Cotton", "Floral", "Linen"),
                "12.00",
                "28.00",
                "Wipe-clean lining for travel.",
            ),
        ),
    ),
    _CategorySpec(
        name="Kids",
        colour="#e0a458",
        shape=(
            "<polygon points='60,22 69,46 94,46 74,61 81,85 60,70 39,85 46,61 26,46 51,46'"
            " fill='#fff' fill-opacity='.4'/>"
        ),
        catalogue_weight=1.0,
        demand_weight=0.8,
        tags=("for-little-ones", "birthday", "gift-idea", "non-toxic", "family"),
        sentences=(
            "Safety tested and suitable from age three.",
            "Designed to keep little hands busy on rainy days.",
            "A birthday present that parents like too.",
        ),
        nouns=(
            _NounSpec(
                "Colouring Book",
                _KIDS_ADJECTIVES,
                ("Animal", "Dinosaur", "Ocean", "Space"),
                "4.00",
                "9.00",
                "Forty pages of thick paper that takes felt tips.",
            ),
            _NounSpec(
                "Crayon Set",
                _KIDS_ADJECTIVES,
                ("Beeswax", "Soy", "Rainbow", "Jumbo"),
                "5.00",
                "14.00",
                "Chunky crayons that are hard to snap.",
            ),
            _NounSpec(
                "Wooden Puzzle",
                _KIDS_ADJECTIVES,
                ("Farm", "Dinosaur", "World Map", "Ocean"),
                "9.00",
                "26.00",
                "Thick pieces painted with water-based colours.",
            ),
            _NounSpec(
                "Soft Toy",
                _KIDS_ADJECTIVES,
                ("Bunny", "Fox", "Bear", "Whale"),
                "12.00",
                "30.00",
                "Soft organic cotton, machine washable.",
            ),
            _NounSpec(
                "Lunch Box",
                _KIDS_ADJECTIVES,
                ("Steel", "Bamboo", "Dinosaur"),
                "9.00",
                "22.00",
                "Two compartments and a clip that small hands can open.",
            ),
            _NounSpec(
                "Play Tent",
                _KIDS_ADJECTIVES,
                ("Canvas", "Striped", "Star-Print"),
                "45.00",
                "89.00",
                "Pops up in minutes and packs into its own bag.",
            ),
        ),
    ),
    _CategorySpec(
        name="Bath & Body",
        colour="#7fb7a4",
        shape="<ellipse cx='60' cy='50' rx='28' ry='18' fill='#fff' fill-opacity='.4'/>",
        catalogue_weight=1.0,
        demand_weight=1.0,
        tags=("self-care", "bathroom", "pamper", "gift-idea", "natural"),
        sentences=(
            "Made with plant oils and no palm oil.",
            "Gentle enough for sensitive skin.",
            "A small luxury for a long soak.",
        ),
        nouns=(
            _NounSpec(
                "Soap Bar", _SCENT_ADJECTIVES, _SKIN_SCENTS, "4.50", "9.00", "Cold-process soap cured for six weeks."
            ),
            _NounSpec(
                "Soap Dish",
                _OBJECT_ADJECTIVES,
                ("Ceramic", "Terrazzo", "Marble", "Beech"),
                "8.00",
                "18.00",
                "Raised ridges so the soap dries between uses.",
            ),
            _NounSpec(
                "Hand Cream",
                _SCENT_ADJECTIVES,
                _SKIN_SCENTS,
                "8.00",
                "22.00",
                "Rich but quick to absorb, in a recyclable tube.",
            ),
            _NounSpec(
                "Bath Salts",
                _SCENT_ADJECTIVES,
                _SKIN_SCENTS,
                "9.00",
                "20.00",
                "Magnesium flakes blended with essential oils.",
            ),
            _NounSpec(
                "Bath Bomb", _SCENT_ADJECTIVES, _SKIN_SCENTS, "3.50", "7.00", "Fizzes slowly and leaves the skin soft."
            ),
            _NounSpec(
                "Body Brush",
                _OBJECT_ADJECTIVES,
                ("Bamboo", "Beech", "Sisal"),
                "9.00",
                "18.00",
                "Firm natural bristles for dry brushing.",
            ),
            _NounSpec(
                "Lip Balm",
                _SCENT_ADJECTIVES,
                ("Peppermint", "Rose", "Vanilla", "Honey"),
                "3.50",
                "7.00",
                "Beeswax and shea in a pocket-sized tin.",
            ),
        ),
    ),
    _CategorySpec(
        name="Picnic & Summer",
        colour="#f2b134",
        shape="<circle cx='60' cy='48' r='20' fill='#fff' fill-opacity='.45'/>",
        catalogue_weight=0.9,
        demand_weight=0.8,
        tags=("summer", "picnic", "outdoors", "gift-idea", "al-fresco"),
        sentences=(
            "Light enough to carry to the far end of the beach.",
            "Made for long evenings outside.",
            "Packs flat for the car boot.",
        ),
        nouns=(
            _NounSpec(
                "Picnic Blanket",
                _SUMMER_ADJECTIVES,
                ("Tartan", "Striped", "Waterproof", "Wool"),
                "28.00",
                "69.00",
                "A waterproof backing and a leather carry strap.",
            ),
            _NounSpec(
                "Water Bottle",
                _SUMMER_ADJECTIVES,
                ("Steel", "Glass", "Sage", "Coral"),
                "14.00",
                "32.00",
                "Keeps drinks cold for twenty-four hours.",
            ),
            _NounSpec(
                "Plate Set",
                _SUMMER_ADJECTIVES,
                ("Enamel", "Melamine", "Bamboo"),
                "16.00",
                "38.00",
                "Four plates that survive being dropped on the patio.",
            ),
            _NounSpec(
                "Beach Towel",
                _SUMMER_ADJECTIVES,
                ("Striped", "Turkish Cotton", "Waffle"),
                "18.00",
                "45.00",
                "Dries fast and shakes off sand.",
            ),
            _NounSpec(
                "Sun Hat",
                _SUMMER_ADJECTIVES,
                ("Straw", "Linen", "Canvas"),
                "14.00",
                "36.00",
                "Packable, with a wide brim.",
            ),
            _NounSpec(
                "Tumbler Set",
                _SUMMER_ADJECTIVES,
                ("Glass", "Acrylic", "Recycled Glass"),
                "12.00",
                "30.00",
                "Four tumblers for lemonade in the garden.",
            ),
            _NounSpec(
                "Citronella Lantern",
                _SUMMER_ADJECTIVES,
                ("Zinc", "Glass", "Tin"),
                "10.00",
                "26.00",
                "Keeps midges away on warm evenings.",
            ),
        ),
    ),
)

_GENERIC_SENTENCES = (
    "Designed in small batches by {vendor}.",
    "Gift wrapping is available at checkout.",
    "Plastic-free packaging, as with everything in the shop.",
    "One of our most-loved pieces from {vendor}.",
)

_VENDOR_CATEGORIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Copper Kettle Tea", ("Tea & Coffee", "Kitchen")),
    ("Marlow Pottery", ("Kitchen", "Bath & Body", "Candles & Home Fragrance")),
    ("Hearth & Hollow", ("Candles & Home Fragrance", "Christmas Decorations", "Kitchen")),
    ("Wildmeadow Garden", ("Garden", "Picnic & Summer")),
    ("Paper Lantern Press", ("Stationery", "Christmas Decorations", "Kids")),
    ("Pip & Puddle", ("Kids", "Bags")),
    ("Saltmarsh Soap Works", ("Bath & Body", "Candles & Home Fragrance")),
    ("North Quay Supply", ("Bags", "Picnic & Summer", "Garden")),
    ("Evergreen Atelier", ("Christmas Decorations", "Candles & Home Fragrance", "Stationery")),
    ("Bramblewood", ("Garden", "Kitchen", "Kids")),
    ("Tidewater Goods", ("Picnic & Summer", "Bags", "Bath & Body")),
    ("Fennel & Finch", ("Tea & Coffee", "Stationery", "Kitchen")),
)

# (category, noun) of the first and second product of each planted pair.
_PAIR_TEMPLATES: tuple[tuple[tuple[str, str], tuple[str, str]], ...] = (
    (("Kitchen", "Teapot"), ("Tea & Coffee", "Loose-Leaf Tea")),
    (("Tea & Coffee", "French Press"), ("Tea & Coffee", "Ground Coffee")),
    (("Kitchen", "Mug"), ("Tea & Coffee", "Hot Chocolate")),
    (("Candles & Home Fragrance", "Scented Candle"), ("Candles & Home Fragrance", "Matches")),
    (("Candles & Home Fragrance", "Reed Diffuser"), ("Candles & Home Fragrance", "Diffuser Refill")),
    (("Garden", "Watering Can"), ("Garden", "Seed Collection")),
    (("Garden", "Gardening Gloves"), ("Bath & Body", "Hand Cream")),
    (("Christmas Decorations", "Bauble Set"), ("Christmas Decorations", "Tree Topper")),
    (("Christmas Decorations", "Christmas Stocking"), ("Stationery", "Gift Wrap")),
    (("Stationery", "Notebook"), ("Stationery", "Pen Set")),
    (("Stationery", "Greeting Card"), ("Bags", "Gift Bag")),
    (("Kids", "Colouring Book"), ("Kids", "Crayon Set")),
    (("Kids", "Lunch Box"), ("Picnic & Summer", "Water Bottle")),
    (("Bath & Body", "Soap Bar"), ("Bath & Body", "Soap Dish")),
    (("Picnic & Summer", "Picnic Blanket"), ("Bags", "Cooler Bag")),
)

# Demand multiplier by month for the seasonal categories: (peak months, peak, shoulder, off).
# Shoulder months are the ones adjacent to the peak, so demand ramps up instead of jumping.
_SEASONS: tuple[tuple[str, tuple[int, ...], float, float, float], ...] = (
    ("Christmas Decorations", (11, 12), 4.0, 1.0, 0.15),
    ("Garden", (4, 5, 6, 7), 2.2, 1.1, 0.45),
    ("Picnic & Summer", (5, 6, 7, 8), 2.6, 1.1, 0.35),
    ("Candles & Home Fragrance", (10, 11, 12, 1), 1.5, 1.1, 0.8),
)


# --------------------------------------------------------------------------------------------
# Public entry point
# --------------------------------------------------------------------------------------------


def demo_shop_generate(
    *,
    seed: int = 7,
    product_count: int = 300,
    order_count: int = 4000,
    end: dt.datetime | None = None,
    currency: str = "EUR",
) -> DemoShop:
    """Generate a deterministic synthetic shop whose orders span the 365 days before ``end``.

    The same arguments always give equal (and identically ordered) records. Orders are mostly
    paid, with a few percent cancelled or refunded, about 1% test orders, and some pending ones
    in the last 48 hours; about 15% are guest checkouts (``customer_id`` None).
    """
    if product_count < 1:
        raise ValueError("product_count must be at least 1")
    if order_count < 0:
        raise ValueError("order_count must not be negative")
    if end is None:
        end = DEFAULT_END
    if end.tzinfo is None or end.utcoffset() is None:
        raise ValueError("end must be timezone-aware")
    end = end.astimezone(_UTC)
    start = end - dt.timedelta(days=PERIOD_DAYS)

    rng = random.Random(seed)
    catalogue = _catalogue_build(rng, product_count=product_count, start=start, end=end)
    orders = _orders_build(rng, catalogue, order_count=order_count, start=start, end=end, currency=currency)
    pairs = tuple(
        (catalogue.products[first].external_id, catalogue.products[second].external_id)
        for first, second in catalogue.pairs
    )
    return DemoShop(
        products=tuple(planned.record() for planned in catalogue.products),
        orders=orders,
        complementary_pairs=pairs,
        seasonal_categories={name: peak for name, peak, *_ in _SEASONS},
    )


# --------------------------------------------------------------------------------------------
# Catalogue
# --------------------------------------------------------------------------------------------


@dataclass
class _PlannedProduct:
    external_id: str
    title: str
    handle: str
    category: _CategorySpec
    noun: _NounSpec
    vendor: str
    price: Decimal
    tags: tuple[str, ...]
    description: str
    image_url: str
    status: str = ProductStatus.PUBLISHED
    in_stock: bool = True
    created_at: dt.datetime = DEFAULT_END
    updated_at: dt.datetime = DEFAULT_END
    popularity: float = 1.0

    @property
    def orderable_until(self) -> dt.datetime | None:
        # An archived product stopped selling when it was archived.
        return self.updated_at if self.status == ProductStatus.ARCHIVED else None

    def orderable_at(self, moment: dt.datetime) -> bool:
        if self.status == ProductStatus.DRAFT or moment < self.created_at:
            return False
        until = self.orderable_until
        return until is None or moment < until

    def record(self) -> ProductRecord:
        return ProductRecord(
            external_id=self.external_id,
            title=self.title,
            price=self.price,
            handle=self.handle,
            url=f"/products/{self.handle}",
            image_url=self.image_url,
            category=self.category.name,
            vendor=self.vendor,
            tags=self.tags,
            description=self.description,
            status=self.status,
            in_stock=self.in_stock,
            created_at=self.created_at,
            updated_at=self.updated_at,
        )


@dataclass
class _Catalogue:
    products: list[_PlannedProduct]
    # Indexes into products.
    pairs: list[tuple[int, int]]
    titles: set[str] = field(default_factory=set)
    handles: set[str] = field(default_factory=set)


def _catalogue_build(rng: random.Random, *, product_count: int, start: dt.datetime, end: dt.datetime) -> _Catalogue:
    categories_by_name = {category.name: category for category in _CATEGORIES}
    catalogue = _Catalogue(products=[], pairs=[])

    pair_count = min(MAX_PLANTED_PAIRS, len(_PAIR_TEMPLATES), product_count // 5)
    template_indexes = sorted(rng.sample(range(len(_PAIR_TEMPLATES)), pair_count))
    for template_index in template_indexes:
        members = []
        for category_name, noun_name in _PAIR_TEMPLATES[template_index]:
            category = categories_by_name[category_name]
            noun = next(spec for spec in category.nouns if spec.noun == noun_name)
            members.append(_product_plan(rng, catalogue, category, noun))
        catalogue.pairs.append((members[0], members[1]))

    category_weights = [category.catalogue_weight for category in _CATEGORIES]
    while len(catalogue.products) < product_count:
        category = rng.choices(_CATEGORIES, weights=category_weights)[0]
        _product_plan(rng, catalogue, category, rng.choice(category.nouns))

    _lifecycle_assign(rng, catalogue, start=start, end=end)
    _popularity_assign(rng, catalogue)
    return catalogue


def _product_plan(rng: random.Random, catalogue: _Catalogue, category: _CategorySpec, noun: _NounSpec) -> int:
    """Append one product of the given kind and return its index."""
    title = _title_unique(rng, catalogue, noun)
    handle = _slug(title)
    suffix = 2
    while handle in catalogue.handles:
        handle = f"{_slug(title)}-{suffix}"
        suffix += 1
    catalogue.titles.add(title)
    catalogue.handles.add(handle)

    vendor = rng.choice([name for name, served in _VENDOR_CATEGORIES if category.name in served])
    index = len(catalogue.products)
    catalogue.products.append(
        _PlannedProduct(
            external_id=f"P{1001 + index}",
            title=title,
            handle=handle,
            category=category,
            noun=noun,
            vendor=vendor,
            price=_price_draw(rng, noun),
            tags=_tags_draw(rng, category, noun, title),
            description=_description_draw(rng, category, noun, vendor),
            image_url=_image_data_url(rng, category, title),
        )
    )
    return index


def _title_unique(rng: random.Random, catalogue: _Catalogue, noun: _NounSpec) -> str:
    # Few enough products per noun that a free combination is almost always found quickly;
    # the numbered fallback only matters for catalogues far larger than the vocabulary.
    for _ in range(40):
        title = f"{rng.choice(noun.adjectives)} {rng.choice(noun.materials)} {noun.noun}"
        if title not in catalogue.titles:
            return title
    edition = 2
    while f"{title} No. {edition}" in catalogue.titles:
        edition += 1
    return f"{title} No. {edition}"


def _slug(text: str) -> str:
    text = text.lower().replace("&", " and ").replace("'", "")
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")


def _price_draw(rng: random.Random, noun: _NounSpec) -> Decimal:
    low, high = float(noun.min_price), float(noun.max_price)
    # Log-uniform: cheap variants are as common as expensive ones in relative terms.
    raw = math.exp(rng.uniform(math.log(low), math.log(high)))
    price = Decimal(round(raw * 2) / 2).quantize(_CENT)  # to the nearest 0.50
    if price > Decimal("5.00") and rng.random() < 0.3:
        price -= Decimal("0.05")  # the odd 14.95 among round prices
    return min(max(price, Decimal(noun.min_price)), Decimal(noun.max_price)).quantize(_CENT)


def _tags_draw(rng: random.Random, category: _CategorySpec, noun: _NounSpec, title: str) -> tuple[str, ...]:
    tags = [_slug(category.name), _slug(noun.noun)]
    # The material word is a useful tag for search ("linen", "lavender").
    material = next((m for m in noun.materials if f" {m} " in f" {title} "), "")
    if material and rng.random() < 0.6:
        tags.append(_slug(material))
    extra_count = rng.randint(0, 5 - len(tags))
    for tag in rng.sample(category.tags, len(category.tags)):
        if extra_count == 0:
            break
        if tag not in tags:
            tags.append(tag)
            extra_count -= 1
    return tuple(tags)


def _description_draw(rng: random.Random, category: _CategorySpec, noun: _NounSpec, vendor: str) -> str:
    extra_pool = list(category.sentences) + [sentence.format(vendor=vendor) for sentence in _GENERIC_SENTENCES]
    extra_count = rng.choices((0, 1, 2), weights=(0.25, 0.45, 0.3))[0]
    return " ".join([noun.blurb, *rng.sample(extra_pool, extra_count)])


def _image_data_url(rng: random.Random, category: _CategorySpec, title: str) -> str:
    initials = "".join(word[0] for word in title.split() if word[0].isalpha())[:3].upper()
    # A slight tilt per product so tiles of one category are not pixel-identical.
    angle = rng.randint(-12, 12)
    svg = (
        "<svg xmlns='http://www.w3.org/2000/svg' width='120' height='120' viewBox='0 0 120 120'>"
        f"<rect width='120' height='120' rx='12' fill='{category.colour}'/>"
        f"<g transform='rotate({angle} 60 50)'>{category.shape}</g>"
        "<text x='60' y='106' font-family='sans-serif' font-size='20' font-weight='bold' "
        f"text-anchor='middle' fill='#fff'>{initials}</text></svg>"
    )
    return "data:image/svg+xml," + urllib.parse.quote(svg, safe="/:=',.()-")


def _lifecycle_assign(rng: random.Random, catalogue: _Catalogue, *, start: dt.datetime, end: dt.datetime) -> None:
    """Statuses, stock and created/updated dates."""
    products = catalogue.products
    paired = {index for pair in catalogue.pairs for index in pair}
    # Planted pairs stay sellable so their signal is present all year.
    free = [index for index in range(len(products)) if index not in paired]
    if not paired and free:
        # Guarantees at least one product can be ordered from the first day.
        paired = {free.pop(0)}

    status_pool = rng.sample(free, len(free))
    draft_count = round(len(products) * DRAFT_SHARE)
    archived_count = round(len(products) * ARCHIVED_SHARE)
    drafts = set(status_pool[:draft_count])
    archived = set(status_pool[draft_count : draft_count + archived_count])
    out_of_stock = set(rng.sample(free, min(len(free), round(len(products) * OUT_OF_STOCK_SHARE))))

    new_since = end - dt.timedelta(days=NEW_PRODUCT_DAYS)
    for index, product in enumerate(products):
        if index in paired or index in archived:
            created = _moment_between(rng, start - dt.timedelta(days=500), start - dt.timedelta(days=20))
        else:
            roll = rng.random()
            if roll < 0.5:
                created = _moment_between(rng, start - dt.timedelta(days=600), start)
            elif roll < 0.9:
                created = _moment_between(rng, start, new_since)
            else:
                created = _moment_between(rng, new_since, end - dt.timedelta(hours=6))
        product.created_at = created

        if index in archived:
            product.status = ProductStatus.ARCHIVED
            product.updated_at = _moment_between(rng, start + dt.timedelta(days=90), end - dt.timedelta(days=7))
        else:
            if index in drafts:
                product.status = ProductStatus.DRAFT
            # Most products are touched now and then after launch; some never again.
            product.updated_at = created if rng.random() < 0.15 else _moment_between(rng, created, end)
        product.in_stock = index not in out_of_stock


def _popularity_assign(rng: random.Random, catalogue: _Catalogue) -> None:
    products = catalogue.products
    paired = [index for pair in catalogue.pairs for index in pair]
    paired_set = set(paired)
    ranking = [index for index in range(len(products)) if index not in paired_set]
    rng.shuffle(ranking)
    head = max(1, int(len(products) * PAIR_RANK_HEAD_SHARE))
    for index in paired:
        ranking.insert(rng.randint(0, min(head, len(ranking))), index)
    for rank, index in enumerate(ranking):
        products[index].popularity = 1.0 / (rank + 1 + POPULARITY_RANK_OFFSET) ** POPULARITY_EXPONENT


def _moment_between(rng: random.Random, low: dt.datetime, high: dt.datetime) -> dt.datetime:
    span = max(0, int((high - low).total_seconds()))
    return low + dt.timedelta(seconds=rng.randint(0, span))


# --------------------------------------------------------------------------------------------
# Orders
# --------------------------------------------------------------------------------------------


def _season_multiplier(category_name: str, month: int) -> float:
    for name, peak_months, peak, shoulder, off in _SEASONS:
        if name != category_name:
            continue
        if month in peak_months:
            return peak
        neighbours = {(m % 12) + 1 for m in peak_months} | {((m - 2) % 12) + 1 for m in peak_months}
        return shoulder if month in neighbours else off
    return 1.0


class _ProductSampler:
    """Weighted draws among the products orderable in one month and one availability state."""

    def __init__(self, products: list[_PlannedProduct], orderable: list[int], month: int) -> None:
        self._products = products
        self._global = self._cumulative(orderable, month)
        by_category: dict[str, list[int]] = {}
        for index in orderable:
            by_category.setdefault(products[index].category.name, []).append(index)
        self._by_category = {name: self._cumulative(indexes, month) for name, indexes in by_category.items()}

    def _cumulative(self, indexes: list[int], month: int) -> tuple[list[int], list[float]]:
        cumulative: list[float] = []
        total = 0.0
        for index in indexes:
            product = self._products[index]
            total += (
                product.popularity * product.category.demand_weight * _season_multiplier(product.category.name, month)
            )
            cumulative.append(total)
        return indexes, cumulative

    @staticmethod
    def _draw(rng: random.Random, table: tuple[list[int], list[float]]) -> int | None:
        indexes, cumulative = table
        if not indexes:
            return None
        position = bisect.bisect_right(cumulative, rng.random() * cumulative[-1])
        return indexes[min(position, len(indexes) - 1)]

    def draw_any(self, rng: random.Random) -> int | None:
        return self._draw(rng, self._global)

    def draw_in_category(self, rng: random.Random, category_name: str) -> int | None:
        table = self._by_category.get(category_name)
        return None if table is None else self._draw(rng, table)


def _orders_build(
    rng: random.Random,
    catalogue: _Catalogue,
    *,
    order_count: int,
    start: dt.datetime,
    end: dt.datetime,
    currency: str,
) -> tuple[OrderRecord, ...]:
    if order_count == 0:
        return ()
    products = catalogue.products
    moments = sorted(_order_moments(rng, order_count, start=start, end=end))
    customers = _customer_sequence(rng, order_count)
    tastes = _customer_tastes(rng, customers)

    complement_of: dict[int, list[tuple[int, float]]] = {}
    for first, second in catalogue.pairs:
        complement_of.setdefault(first, []).append((second, COMPLEMENT_FORWARD_PROBABILITY))
        complement_of.setdefault(second, []).append((first, COMPLEMENT_REVERSE_PROBABILITY))

    # Availability changes only when a product launches or is archived, so samplers are rebuilt
    # at those moments (and at month changes, for seasonality) rather than per order.
    changes = sorted(
        {p.created_at for p in products if p.status != ProductStatus.DRAFT}
        | {p.orderable_until for p in products if p.orderable_until is not None}
    )
    sampler_cache: dict[tuple[int, int], _ProductSampler] = {}

    orders: list[OrderRecord] = []
    for moment, customer_id in zip(moments, customers, strict=True):
        state = bisect.bisect_right(changes, moment)
        key = (moment.month, state)
        sampler = sampler_cache.get(key)
        if sampler is None:
            sampler_cache.clear()
            orderable = [index for index, product in enumerate(products) if product.orderable_at(moment)]
            sampler = sampler_cache[key] = _ProductSampler(products, orderable, moment.month)

        basket = _basket_draw(rng, sampler, tastes.get(customer_id) if customer_id else None, moment.month)
        for index in list(basket):
            for partner, probability in complement_of.get(index, ()):
                if (
                    len(basket) < MAX_BASKET_PRODUCTS
                    and partner not in basket
                    and products[partner].orderable_at(moment)
                    and rng.random() < probability
                ):
                    basket.append(partner)
        if not basket:
            continue

        lines = tuple(
            OrderLineRecord(
                product_external_id=products[index].external_id,
                quantity=rng.choices((1, 2, 3, 4), weights=QUANTITY_WEIGHTS)[0],
                unit_price=products[index].price,
            )
            for index in basket
        )
        orders.append(
            OrderRecord(
                external_id=f"D{100001 + len(orders)}",
                created_at=moment,
                lines=lines,
                customer_id=customer_id,
                status=_status_draw(rng, moment, end),
                currency=currency,
                total=sum((line.unit_price * line.quantity for line in lines), Decimal("0.00")).quantize(_CENT),
            )
        )
    return tuple(orders)


def _order_moments(rng: random.Random, count: int, *, start: dt.datetime, end: dt.datetime) -> list[dt.datetime]:
    first_day = start.date() + dt.timedelta(days=1)
    days = [first_day + dt.timedelta(days=offset) for offset in range((end.date() - first_day).days + 1)]
    cumulative_days: list[float] = []
    total = 0.0
    for position, day in enumerate(days):
        # A shop that grows over the year, with the gifting season on top.
        trend = 0.85 + 0.3 * position / max(1, len(days) - 1)
        total += trend * _day_volume(day) * WEEKDAY_VOLUME[day.weekday()]
        cumulative_days.append(total)
    hours = list(range(24))

    moments = []
    while len(moments) < count:
        day = days[bisect.bisect_right(cumulative_days, rng.random() * total)]
        hour = rng.choices(hours, weights=HOURLY_VOLUME)[0]
        moment = dt.datetime(day.year, day.month, day.day, hour, rng.randrange(60), rng.randrange(60), tzinfo=_UTC)
        # Only the last day is partial; redrawing keeps the distribution honest there.
        if start < moment <= end:
            moments.append(moment)
    return moments


def _day_volume(day: dt.date) -> float:
    if day.month == 11:
        # Black Friday weekend through Cyber Monday: the last Friday of November onwards.
        last_friday = 30 - (dt.date(day.year, 11, 30).weekday() - 4) % 7
        return 3.5 if last_friday <= day.day <= last_friday + 3 else 1.8
    if day.month == 12:
        # Parcels ordered after the last posting day will not arrive for Christmas.
        return 2.5 if day.day <= 19 else 0.8
    if day.month in (1, 2):
        return 0.8
    if day.month in (5, 6, 7, 8):
        return 1.05
    return 1.0


def _customer_sequence(rng: random.Random, order_count: int) -> list[str | None]:
    """The customer of each order in time order; None for guest checkouts."""
    is_guest = [rng.random() < GUEST_SHARE for _ in range(order_count)]
    registered_orders = is_guest.count(False)
    customer_count = min(registered_orders, max(1, round(order_count * CUSTOMERS_PER_ORDER)))
    customer_ids = [f"C{2001 + number}" for number in range(customer_count)]

    # Heavy-tailed activity: every customer orders once, and a few loyal ones order a lot.
    activity = [min(rng.paretovariate(CUSTOMER_ACTIVITY_ALPHA), CUSTOMER_ACTIVITY_CAP) for _ in customer_ids]
    cumulative: list[float] = []
    total = 0.0
    for weight in activity:
        total += weight
        cumulative.append(total)
    assigned = list(customer_ids)
    while len(assigned) < registered_orders:
        assigned.append(customer_ids[bisect.bisect_right(cumulative, rng.random() * total)])
    rng.shuffle(assigned)

    sequence: list[str | None] = []
    registered = iter(assigned)
    for guest in is_guest:
        sequence.append(None if guest else next(registered))
    return sequence


def _customer_tastes(rng: random.Random, customers: list[str | None]) -> dict[str, tuple[str, ...]]:
    names = [category.name for category in _CATEGORIES]
    weights = [category.demand_weight for category in _CATEGORIES]
    tastes: dict[str, tuple[str, ...]] = {}
    for customer_id in customers:
        if customer_id is None or customer_id in tastes:
            continue
        size = rng.choices((1, 2, 3), weights=(0.4, 0.4, 0.2))[0]
        chosen: list[str] = []
        while len(chosen) < size:
            name = rng.choices(names, weights=weights)[0]
            if name not in chosen:
                chosen.append(name)
        tastes[customer_id] = tuple(chosen)
    return tastes


def _basket_draw(rng: random.Random, sampler: _ProductSampler, taste: tuple[str, ...] | None, month: int) -> list[int]:
    size = rng.choices(range(1, MAX_BASKET_PRODUCTS + 1), weights=CORE_BASKET_SIZE_WEIGHTS)[0]
    basket: list[int] = []
    for _ in range(size * 3):  # a few retries for duplicates
        if len(basket) == size:
            break
        choice = None
        if taste and rng.random() < TASTE_PROBABILITY:
            seasonal = [_season_multiplier(name, month) for name in taste]
            preferred = rng.choices(taste, weights=seasonal)[0]
            # Even a Christmas enthusiast rarely buys baubles in July.
            if rng.random() < min(1.0, _season_multiplier(preferred, month)):
                choice = sampler.draw_in_category(rng, preferred)
        if choice is None:
            choice = sampler.draw_any(rng)
        if choice is not None and choice not in basket:
            basket.append(choice)
    return basket


def _status_draw(rng: random.Random, moment: dt.datetime, end: dt.datetime) -> str:
    roll = rng.random()
    if roll < TEST_SHARE:
        return OrderStatus.TEST
    roll -= TEST_SHARE
    if roll < CANCELLED_SHARE:
        return OrderStatus.CANCELLED
    roll -= CANCELLED_SHARE
    if roll < REFUNDED_SHARE:
        return OrderStatus.REFUNDED
    if end - moment < PENDING_WINDOW and rng.random() < PENDING_SHARE_OF_RECENT:
        return OrderStatus.PENDING
    return OrderStatus.PAID
