"""Domain errors. Their messages are shown to people: they name the problem and the item."""


class DomainError(Exception):
    """Base of every error a service raises on purpose, in any app (annotator's errors too): its
    message is the one to show."""


class CurationError(DomainError):
    """Base class for errors the curation services raise on purpose."""


class DatasetNotFound(CurationError):
    pass


class InvalidSource(CurationError):
    """A manifest path or URL that may not be read (outside the media roots, private address)."""


class TaxonomyError(CurationError):
    pass


class ManifestError(CurationError):
    """The manifest as a whole cannot be read (missing file, wrong header, unknown format)."""


class StageError(CurationError):
    """A pipeline stage failed for good: the reason is recorded on the video."""


class StageSkipped(CurationError):
    """A stage that is turned off: the video is marked skipped and the pipeline goes on."""


class TransientStageError(CurationError):
    """A pipeline stage failed for a reason that may pass (network, locked file): retry."""


class TrainingRefused(CurationError):
    """A training that must not start (unfrozen split, unknown modality, one already running)."""


class ModelNotFound(CurationError):
    pass
