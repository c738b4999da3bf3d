"""The curation app's models, split by sub-domain: media (datasets, videos, frames, subtitles),
labels (answers, verdicts, noise estimates), releases (splits, exports), modelling
(features, model runs, scores) and actions (what the dataset page's buttons started)."""

from curation.models.actions import ActionKind, DatasetAction
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
from curation.models.modelling import FEATURE_DIMS, FeatureKind, ModelRun, VideoFeature, VideoScore
from curation.models.pipeline import StageClaim
from curation.models.releases import ExportFormat, ExportJob, Split, SplitMember

__all__ = [
    "EXTERNAL_ID_MAX_LENGTH",
    "FEATURE_DIMS",
    "SOURCE_MAX_LENGTH",
    "TITLE_MAX_LENGTH",
    "ActionKind",
    "AggregationMethod",
    "AggregationRun",
    "Dataset",
    "DatasetAction",
    "DuplicateGroup",
    "ExportFormat",
    "ExportJob",
    "ExternalAnswer",
    "FeatureKind",
    "Frame",
    "IngestRun",
    "ModelRun",
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
    "VideoFeature",
    "VideoScore",
    "VideoSubtitle",
    "VideoVerdict",
]
