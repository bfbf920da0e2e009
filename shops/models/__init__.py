from shops.models.catalog import Product
from shops.models.orders import Order, OrderLine
from shops.models.shop import Shop

__all__ = ["Order", "OrderLine", "Product", "Shop"]
