"""Per-dataset annotation settings: `Dataset.annotation_overlap` plus keys of `Dataset.settings`
(under "annotation"), each with a default, so a dataset needs no configuration to start."""

from dataclasses import dataclass, fields
from datetime import timedelta

from annotator.errors import AnnotationSettingsError
from curation.models import Dataset

# Which videos human answers are spent on (issue 16). `random` is USV's protocol, the only one
# whose verified sample gives an unbiased noise rate; the others follow the latest ModelRun:
# `likely_noise` lowest weak-topic probability first, `uncertain` nearest 0.5 first,
# `hard_negatives` (MiCRObE) asks about a topic a video scores high for but was not collected for.
RANDOM, LIKELY_NOISE, UNCERTAIN, HARD_NEGATIVES = "random", "likely_noise", "uncertain", "hard_negatives"
ORDERS = (RANDOM, LIKELY_NOISE, UNCERTAIN, HARD_NEGATIVES)


@dataclass(frozen=True)
class AnnotationConfig:
    overlap: int = 2  # USV Stage IV: two annotators per video
    lease_seconds: int = 600
    third_opinion: bool = False  # one Yes and one No: ask a third worker
    gold_first: int = 5  # the first gold tasks a new worker sees
    gold_rate: float = 0.1  # then this share of tasks is gold
    accuracy_threshold: float = 0.7  # gold accuracy under this flags a worker
    min_gold_for_flag: int = 5
    seed: int = 0  # the random order
    verification_order: str = RANDOM
    hard_negative_min_score: float = 0.5  # a topic's model score from which a video is asked about it
    show_model_guesses: bool = False  # model guesses bias answers: crowdworkers see none by default

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.lease_seconds)


def annotation_config(dataset: Dataset) -> AnnotationConfig:
    raw = (dataset.settings or {}).get("annotation", {})
    known = {f.name: f.type for f in fields(AnnotationConfig)}
    values = {key: value for key, value in raw.items() if key in known and key != "overlap"}
    _check(dataset, values)
    return AnnotationConfig(overlap=dataset.annotation_overlap, **values)


def _check(dataset: Dataset, values: dict) -> None:
    """Refuse the model-in-the-loop settings' bad values by name: a typo must not quietly fall
    back to another order, nor show model guesses to crowdworkers."""

    def refuse(key: str, expected: str) -> None:
        raise AnnotationSettingsError(
            f"dataset {dataset.slug}: setting annotation.{key} is {values[key]!r}; {expected}"
        )

    if "verification_order" in values and values["verification_order"] not in ORDERS:
        refuse("verification_order", f"use one of: {', '.join(ORDERS)}")
    score = values.get("hard_negative_min_score", 0.5)
    if isinstance(score, bool) or not isinstance(score, int | float) or not 0 < score <= 1:
        refuse("hard_negative_min_score", "use a number above 0 and at most 1")
    if not isinstance(values.get("show_model_guesses", False), bool):
        refuse("show_model_guesses", "use true or false")
