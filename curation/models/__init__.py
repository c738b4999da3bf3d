"""The curation app's models, split by sub-domain: media (datasets, videos, frames, subtitles),
labels (answers, verdicts, noise estimates) and releases (splits, exports)."""

from curation.models.labels import (
    AggregationMethod,
    AggregationRun,
    ExternalAnswer,
    NoiseEstimate,
    VerdictLabel,
    VideoVerdict,
)
from curation.models.media import (
    EXTERNAL_ID_MAX_LENGTH,
    SOURCE_MAX_LENGTH,
    TITLE_MAX_LENGTH,
    Dataset,
    DuplicateGroup,
    Frame,
    IngestRun,
    Publisher,
    StageStatus,
    SubtitleCue,
    ThumbnailTruth,
    Topic,
    Video,
    VideoSubtitle,
)
from curation.models.pipeline import StageClaim
from curation.models.releases import ExportFormat, ExportJob, Split, SplitMember

__all__ = [
    "EXTERNAL_ID_MAX_LENGTH",
    "SOURCE_MAX_LENGTH",
    "TITLE_MAX_LENGTH",
    "AggregationMethod",
    "AggregationRun",
    "Dataset",
    "DuplicateGroup",
    "ExportFormat",
    "ExportJob",
    "ExternalAnswer",
    "Frame",
    "IngestRun",
    "NoiseEstimate",
    "Publisher",
    "Split",
    "SplitMember",
    "StageClaim",
    "StageStatus",
    "SubtitleCue",
    "ThumbnailTruth",
    "Topic",
    "VerdictLabel",
    "Video",
    "VideoSubtitle",
    "VideoVerdict",
]
