"""Admin for splits."""
