"""A dataset's topic-verification answers → verdicts: collect them here, aggregate in curation.

Curation cannot import this app, so the answers go over as plain rows. Answers of workers whose
answers staff excluded are left out (and counted); a gold task's video carries its known answer,
while the workers' answers on it still count, so Dawid–Skene learns who is reliable from them.
Each task's overlap goes with them: a video with fewer answers than its task needs is pending.
Only tasks that ask about the video's weak topic count: a hard-negative task (services/ordering.py)
asks whether the video is about another topic, and a Yes there is no vote for the weak topic. The
verification order that chose each task goes with them too, so noise estimates know which videos
were not a random sample.
"""

from collections.abc import Iterator

from django.db.models import Q

from annotator.conf import RANDOM
from annotator.models import AnnotatorProfile, Answer, Task, TaskKind
from annotator.services.ordering import asks_weak_topic
from curation.models import Dataset
from curation.services.labels.verdicts import VerdictsSummary, verdicts_aggregate

WORKER_PREFIX = "user:"


def _rows(dataset: Dataset, excluded: set[int]) -> Iterator[tuple[int, str, str, str]]:
    answers = Answer.objects.filter(_weak_topic_tasks(dataset, "task__")).exclude(choice="")
    fields = ("task__video_id", "worker_id", "choice", "task__is_gold", "task__gold_answer")
    for video_id, worker_id, choice, is_gold, gold in answers.values_list(*fields).iterator(
        chunk_size=10_000
    ):
        if worker_id not in excluded:
            yield video_id, f"{WORKER_PREFIX}{worker_id}", choice, gold if is_gold else ""


def _weak_topic_tasks(dataset: Dataset, prefix: str = "") -> Q:
    return Q(**{f"{prefix}dataset": dataset, f"{prefix}kind": TaskKind.TOPIC}) & asks_weak_topic(prefix)


def dataset_aggregate(*, dataset: Dataset, method: str = "auto") -> VerdictsSummary:
    """Aggregate the dataset's topic answers (and its imported ones) into verdicts."""
    excluded_all = set(
        AnnotatorProfile.objects.filter(answers_excluded=True).values_list("user_id", flat=True)
    )
    answered = Answer.objects.filter(_weak_topic_tasks(dataset, "task__"), worker_id__in=excluded_all)
    excluded = set(answered.values_list("worker_id", flat=True).distinct())
    tasks = Task.objects.filter(_weak_topic_tasks(dataset))
    # Only the tasks whose overlap differs from the dataset's (gold: none, escalated: one more).
    different = tasks.exclude(needed=dataset.annotation_overlap)
    # Videos a model-driven order chose: a noise rate over them is not the dataset's (noise.py).
    chosen = tasks.exclude(selected_by=RANDOM)
    return verdicts_aggregate(
        dataset=dataset,
        rows=_rows(dataset, excluded),
        method=method,
        excluded_workers=len(excluded),
        required=dict(different.values_list("video_id", "needed")),
        selection=dict(chosen.values_list("video_id", "selected_by")),
    )
