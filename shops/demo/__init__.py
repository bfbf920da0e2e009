"""The generated demo shop."""

# The demo shop `make demo` creates and the demo storefront serves.
DEMO_DOMAIN = "demo-store.localhost"
