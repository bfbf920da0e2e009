from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Platform integrations"

    def ready(self) -> None:
        # Imported once at start-up, not on the first request that needs it: threads of one web
        # process importing shopify_app and its submodules at the same moment deadlock on their
        # import locks, and the first concurrent webhook and App Proxy requests got 500s.
        import shopify_app  # noqa: F401
        import shopify_app.verify.app_proxy  # noqa: F401
