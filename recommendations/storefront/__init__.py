"""The public storefront read path: fast, cached, shop resolved from the domain, no shopper data."""
