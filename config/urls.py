from django.contrib import admin
from django.urls import path

from config import health
from recommendations.storefront import views as storefront_views
from shops import views as shop_views

urlpatterns = [
    path("", shop_views.home, name="home"),
    path("livez", health.livez, name="livez"),
    path("readyz", health.readyz, name="readyz"),
    path("api/storefront/v1/recommendations", storefront_views.recommendations, name="storefront-recommendations"),
    path("admin/", admin.site.urls),
]
