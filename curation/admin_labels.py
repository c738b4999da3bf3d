"""Admin for labels."""
