"""Errors to HTTP, in one place (HackSoft's `exception_handlers.py`): services raise domain
errors and never know about HTTP; views do not catch them. It lives in config because it maps
the errors of every app and config may import them all (frontend -> annotator -> curation).

- A domain error answers `{"detail": <its message>}` with the status of the nearest class in
  STATUS (its own, else a base's), plus what its `response_extra()` adds, if it has one (a
  running action refused as a second start carries the running action).
- While PostgreSQL cannot be reached (a restart, a failover) every request fails the same way,
  and the client can do nothing about it but try again: 503 with Retry-After, never a 500 that
  reads as a bug. The DRF handler answers it for API views; the middleware for everything else
  (pages, the media view), since DRF re-raises exceptions its handler leaves alone.
"""

import logging

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from annotator.errors import (
    AlreadyAnswered,
    AnnotationError,
    LeaseExpired,
    MediaLinkInvalid,
    NotYourAssignment,
    TooManyLeases,
    WorkerPaused,
)
from curation.errors import CurationError, DatasetNotFound, ModelNotFound
from curation.selectors_actions import ActionNotFound
from curation.services.actions import ActionRunning
from curation.services.exports import ExportFileNotFound
from curation.services.splits import SplitNotFound

logger = logging.getLogger("microcurate")

STATUS: dict[type[Exception], int] = {
    CurationError: 400,
    DatasetNotFound: 404,
    SplitNotFound: 404,
    ModelNotFound: 404,
    ExportFileNotFound: 404,
    ActionNotFound: 404,
    # A second click on a running action: the running one comes with the answer.
    ActionRunning: 409,
    AnnotationError: 400,
    # The assignment does not exist or is leased to someone else: both look the same.
    NotYourAssignment: 404,
    WorkerPaused: 403,
    MediaLinkInvalid: 403,
    LeaseExpired: 409,
    AlreadyAnswered: 409,
    TooManyLeases: 409,
}

RETRY_AFTER_SECONDS = 5
DATABASE_UNAVAILABLE = "The database is unavailable for a moment; try again in a few seconds."


def error_status(exc: BaseException) -> int | None:
    """The HTTP status of a domain error; None for any other exception."""
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return None


def database_unavailable(request, exc: BaseException) -> HttpResponse | None:
    """503 with Retry-After (JSON under /api/, text elsewhere) when `exc` says the database
    cannot be reached; None for any other exception."""
    # OperationalError also covers a statement cancelled on a deadlock or a lock timeout:
    # retrying is the right answer to those too.
    if not isinstance(exc, OperationalError | InterfaceError):
        return None
    logger.warning("database unavailable: %s %s: %s", request.method, request.path, exc)
    if request.path.startswith("/api/"):
        response = JsonResponse({"detail": DATABASE_UNAVAILABLE}, status=503)
    else:
        response = HttpResponse(DATABASE_UNAVAILABLE, status=503, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def api_exception_handler(exc: Exception, context: dict) -> HttpResponse | None:
    """REST_FRAMEWORK's EXCEPTION_HANDLER: domain errors and an unreachable database first,
    then DRF's own (validation, 404, permissions, throttling)."""
    unavailable = database_unavailable(context["request"], exc)
    if unavailable is not None:
        return unavailable
    status = error_status(exc)
    if status is not None:
        set_rollback()
        extra = exc.response_extra() if hasattr(exc, "response_extra") else {}
        return Response({"detail": str(exc), **extra}, status=status)
    return drf_exception_handler(exc, context)


class DatabaseUnavailableMiddleware:
    """503 for a database that cannot be reached from views that are not DRF's."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        return database_unavailable(request, exception)
