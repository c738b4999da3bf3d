"""REST endpoints for splits (filled in by the splits work)."""

urlpatterns: list = []
