"""Admin for exports."""
