"""How much data each list needs before a model is worth trying; below it, fallbacks are served.

Modest on purpose: a small shop should hear "almost there", not "never", and the held-out
evaluation still decides whether a model beats popularity.
"""

MIN_MULTI_ITEM_ORDERS = 10
MIN_CUSTOMERS_WITH_HISTORY = 10
