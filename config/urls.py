from django.contrib import admin
from django.urls import path

from config import health
from shops import views as shop_views

urlpatterns = [
    path("", shop_views.home, name="home"),
    path("livez", health.livez, name="livez"),
    path("readyz", health.readyz, name="readyz"),
    path("admin/", admin.site.urls),
]
