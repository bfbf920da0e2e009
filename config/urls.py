from django.contrib import admin
from django.urls import include, path

from config import health, openapi
from integrations import admin_api
from integrations.shopify import billing_views as shopify_billing_views
from integrations.shopify import views as shopify_views
from integrations.shopify import webhooks as shopify_webhooks
from integrations.woocommerce import views as woocommerce_views
from integrations.woocommerce import webhooks as woocommerce_webhooks
from recommendations.storefront import demo as demo_storefront
from recommendations.storefront import views as storefront_views
from shops import views as shop_views

urlpatterns = [
    # The storefront's hot path first: Django tries the patterns in order on every request.
    path("api/storefront/v1/recommendations", storefront_views.recommendations, name="storefront-recommendations"),
    path("", shop_views.home, name="home"),
    path("livez", health.livez, name="livez"),
    path("readyz", health.readyz, name="readyz"),
    path("servez", health.servez, name="servez"),
    path(openapi.SCHEMA_PATH.lstrip("/"), openapi.openapi_json, name="openapi-schema"),
    path("api/storefront/v1/events", storefront_views.events, name="storefront-events"),
    path("proxy/recommendations", storefront_views.app_proxy_recommendations, name="app-proxy-recommendations"),
    path("proxy/events", storefront_views.app_proxy_events, name="app-proxy-events"),
    path("proxy/widget.js", storefront_views.app_proxy_widget, name="app-proxy-widget"),
    path("demo/<str:domain>/products/<str:product_id>", demo_storefront.product_page, name="demo-product"),
    path("demo/<str:domain>/", demo_storefront.store_home, name="demo-home"),
    path("demo/<str:domain>/cart", demo_storefront.cart_page, name="demo-cart"),
    path("demo/<str:domain>/cart/add.js", demo_storefront.cart_add, name="demo-cart-add"),
    path("demo/<str:domain>/cart/update.js", demo_storefront.cart_update, name="demo-cart-update"),
    path("products/<str:handle>", demo_storefront.product_by_handle, name="demo-product-by-handle"),
    path("webhooks/shopify", shopify_webhooks.shopify_webhook, name="shopify-webhooks"),
    path("webhooks/woocommerce/<int:shop_id>", woocommerce_webhooks.woocommerce_webhook, name="woocommerce-webhooks"),
    path("woocommerce/connect/start", woocommerce_views.connect_start, name="woocommerce-connect-start"),
    path("woocommerce/connect/manual", woocommerce_views.connect_manual, name="woocommerce-connect-manual"),
    path("woocommerce/auth/callback", woocommerce_views.auth_callback, name="woocommerce-auth-callback"),
    path("api/plugin/v1/status", woocommerce_views.plugin_status, name="plugin-status"),
    path("api/plugin/v1/pause", woocommerce_views.plugin_pause, name="plugin-pause"),
    path("api/plugin/v1/resume", woocommerce_views.plugin_resume, name="plugin-resume"),
    path("api/plugin/v1/uninstall", woocommerce_views.plugin_uninstall, name="plugin-uninstall"),
    path("api/plugin/v1/privacy/export", woocommerce_views.plugin_privacy_export, name="plugin-privacy-export"),
    path("api/plugin/v1/privacy/erase", woocommerce_views.plugin_privacy_erase, name="plugin-privacy-erase"),
    path("shopify/app", shopify_views.app_home, name="shopify-app-home"),
    path("shopify/patch-id-token", shopify_views.patch_id_token, name="shopify-patch-id-token"),
    path("shopify/auth", shopify_views.oauth_start, name="shopify-oauth-start"),
    path("shopify/auth/callback", shopify_views.oauth_callback, name="shopify-oauth-callback"),
    path("shopify/billing/return", shopify_billing_views.billing_return, name="shopify-billing-return"),
    path("dashboard/billing", shopify_billing_views.billing_choose, name="dashboard-billing"),
    path("api/admin/v1/status", shopify_views.admin_status, name="admin-status"),
    path("api/admin/v1/privacy-requests", admin_api.privacy_requests, name="admin-privacy-requests"),
    path(
        "api/admin/v1/privacy-requests/<int:request_id>",
        admin_api.privacy_request_detail,
        name="admin-privacy-request",
    ),
    path("", include("shops.dashboard.urls")),
    path("api/plugin/v1/dashboard-link", woocommerce_views.plugin_dashboard_link, name="plugin-dashboard-link"),
    path("admin/", admin.site.urls),
]
