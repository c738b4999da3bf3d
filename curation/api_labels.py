"""REST endpoints for labels (filled in by the labels work)."""

urlpatterns: list = []
