from shops.models.catalog import SELLABLE, Product
from shops.models.orders import Order, OrderLine
from shops.models.shop import Shop

__all__ = ["SELLABLE", "Order", "OrderLine", "Product", "Shop"]
