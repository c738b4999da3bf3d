"""What people said and what it adds up to: answers imported from files (`answers_import`),
per-video verdicts of an aggregation run (`verdicts`, written by `store`, reported by `report`;
the rule itself is ml.verdicts), noise estimates (`noise`) and answers files aggregated without
the database (`answers_file`, the aggregate_file command)."""

from curation.services.labels.answers_file import answers_file_aggregate
from curation.services.labels.answers_import import answers_import
from curation.services.labels.noise import (
    noise_estimate_history,
    noise_estimate_latest,
    noise_estimates_record,
)
from curation.services.labels.verdicts import VerdictError, VerdictsSummary, verdicts_aggregate

__all__ = [
    "VerdictError", "VerdictsSummary", "answers_file_aggregate", "answers_import", "noise_estimate_history",
    "noise_estimate_latest", "noise_estimates_record", "verdicts_aggregate",
]  # fmt: skip
