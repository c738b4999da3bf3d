"""REST endpoints for exports (filled in by the exports work)."""

urlpatterns: list = []
