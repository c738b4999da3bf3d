"""While PostgreSQL cannot be reached (a restart, a failover) every request fails the same way,
and the client can do nothing about it but try again: it gets 503 with Retry-After, never a 500
that reads as a bug. One place for every page and API view: DRF re-raises exceptions it has no
handler for, so they reach this middleware's process_exception like any view's."""

import logging

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse

logger = logging.getLogger("microcurate")

RETRY_AFTER_SECONDS = 5
MESSAGE = "The database is unavailable for a moment; try again in a few seconds."


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        # OperationalError also covers a statement cancelled on a deadlock or a lock timeout:
        # retrying is the right answer to those too.
        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        logger.warning("database unavailable: %s %s: %s", request.method, request.path, exception)
        if request.path.startswith("/api/"):
            response = JsonResponse({"detail": MESSAGE}, status=503)
        else:
            response = HttpResponse(MESSAGE, status=503, content_type="text/plain; charset=utf-8")
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
