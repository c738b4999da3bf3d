"""Who may read the OpenAPI schema and its Swagger UI (drf-spectacular's SERVE_PERMISSIONS)."""

from django.conf import settings
from rest_framework.permissions import BasePermission


class ApiDocsReader(BasePermission):
    """Staff, or anyone when MICROCURATE_API_DOCS_PUBLIC is on. The schema maps every endpoint and
    its parameters, a head start for an attacker, so it is not public by default (issue 13). Read
    per request, not when drf-spectacular's views are defined, so the setting can change."""

    message = "The API schema and docs are for staff (MICROCURATE_API_DOCS_PUBLIC makes them public)."

    def has_permission(self, request, view) -> bool:
        if settings.MICROCURATE_API_DOCS_PUBLIC:
            return True
        return bool(request.user and request.user.is_active and request.user.is_staff)
