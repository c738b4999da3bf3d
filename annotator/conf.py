"""Per-dataset annotation settings: `Dataset.annotation_overlap` plus keys of `Dataset.settings`
(under "annotation"), each with a default, so a dataset needs no configuration to start."""

from dataclasses import dataclass, fields
from datetime import timedelta

from curation.models import Dataset


@dataclass(frozen=True)
class AnnotationConfig:
    overlap: int = 2  # USV Stage IV: two annotators per video
    lease_seconds: int = 600
    third_opinion: bool = False  # one Yes and one No: ask a third worker
    gold_first: int = 5  # the first gold tasks a new worker sees
    gold_rate: float = 0.1  # then this share of tasks is gold
    accuracy_threshold: float = 0.7  # gold accuracy under this flags a worker
    min_gold_for_flag: int = 5
    seed: int = 0  # random order when no model score exists

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.lease_seconds)


def annotation_config(dataset: Dataset) -> AnnotationConfig:
    raw = (dataset.settings or {}).get("annotation", {})
    known = {f.name: f.type for f in fields(AnnotationConfig)}
    values = {key: value for key, value in raw.items() if key in known and key != "overlap"}
    return AnnotationConfig(overlap=dataset.annotation_overlap, **values)
