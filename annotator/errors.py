"""Domain errors of crowd annotation. Messages are shown to workers and staff as they are; the
HTTP status of each is in config/exception_handlers.py."""

from curation.errors import DomainError


class AnnotationError(DomainError):
    """Base class for errors the annotation services raise on purpose."""


class InvalidAnswer(AnnotationError):
    """An answer outside the task's choices, or a frame that is not one of its candidates."""


class NotYourAssignment(AnnotationError):
    """The assignment does not exist or is leased to someone else: both look the same (404)."""


class LeaseExpired(AnnotationError):
    pass


class AlreadyAnswered(AnnotationError):
    pass


class WorkerPaused(AnnotationError):
    pass


class TooManyLeases(AnnotationError):
    pass


class TaskCreationError(AnnotationError):
    pass


class AnnotationSettingsError(AnnotationError):
    """A dataset's annotation setting has a value outside its range; the message names both."""


class MediaLinkInvalid(AnnotationError):
    """A media link that is forged, expired, another user's or for a lease no longer held."""
