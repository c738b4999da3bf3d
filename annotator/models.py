"""Annotation tasks, leases and answers arrive with the crowd-annotation work (issue 5)."""
