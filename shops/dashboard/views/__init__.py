"""The merchant dashboard (server-rendered), one module per page. Every page shows the one shop
the request is authenticated for; there is no way to name another."""
