"""Domain errors of crowd annotation. Messages are shown to workers and staff as they are."""


class AnnotationError(Exception):
    """Base class; `status` is the HTTP status the API answers with."""

    status = 400


class InvalidAnswer(AnnotationError):
    """An answer outside the task's choices, or a frame that is not one of its candidates."""


class NotYourAssignment(AnnotationError):
    """The assignment does not exist or is leased to someone else: both look the same (404)."""

    status = 404


class LeaseExpired(AnnotationError):
    status = 409


class AlreadyAnswered(AnnotationError):
    status = 409


class WorkerPaused(AnnotationError):
    status = 403


class TooManyLeases(AnnotationError):
    status = 409


class TaskCreationError(AnnotationError):
    pass
