"""Verification orders (issue 16): which videos the crowd's answers are spent on first.

An order sets `Task.priority` (copied to the task's slots). The lease query walks open slots by
priority, highest first, on the index it always used: an order changes values, never the query,
so leasing keeps its speed and its one-holder-per-slot lock with every order.

- `random`: a seeded random number in [0, 1) per video, the same on every run (USV's protocol:
  the only order whose verified videos are a random sample, so the only unbiased noise rate).
- `likely_noise`: 1 + (1 − p), p = the latest finished ModelRun's probability that the video's
  weak topic is right: the most likely noise first.
- `uncertain`: 1 + (1 − 2|p − 0.5|): the model's least certain guesses first.
- `hard_negatives` (MiCRObE): a video the model scores at least `hard_negative_min_score` for a
  topic other than its weak topic gets a topic task for *that* topic, priority = the score.
  Those answers say whether the video is about another topic; they never become the video's
  (weak-topic) verdict, and `hard_negative_findings` lists the videos the crowd said yes for.

Under `likely_noise` and `uncertain`, a video the run did not score gets its random priority:
below every scored one. Each task records the order that chose it (`selected_by`), so a noise
rate over its verdicts is known to be biased unless the order was random.
"""

import random
from collections.abc import Mapping
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from annotator.conf import HARD_NEGATIVES, LIKELY_NOISE, ORDERS, RANDOM, UNCERTAIN, annotation_config
from annotator.errors import TaskCreationError
from annotator.models import Assignment, Task, TaskKind
from annotator.queries.priorities import priorities_store
from curation.models import Dataset, ModelRun, Topic, VideoScore
from ml.vocabulary import VERIFIED

MODEL_ORDERS = (LIKELY_NOISE, UNCERTAIN, HARD_NEGATIVES)
CHUNK = 20_000


def asks_weak_topic(prefix: str = "") -> Q:
    """Tasks that ask about their video's weak topic: the only ones whose answers make the
    video's verdict (a hard-negative task asks about another topic). `prefix` reaches the task
    from another model (e.g. "task__" from Answer)."""
    return Q(**{f"{prefix}topic_id": F(f"{prefix}video__weak_topic_id")})


def order_resolve(*, dataset: Dataset, kind: str, order: str | None) -> str:
    """The order of a round: `order` when given, else the dataset's `verification_order` (for
    topic tasks; thumbnail tasks are made in random order)."""
    if order is None:
        return annotation_config(dataset).verification_order if kind == TaskKind.TOPIC else RANDOM
    if order not in ORDERS:
        raise TaskCreationError(f"unknown verification order {order!r}; use one of: {', '.join(ORDERS)}")
    if kind != TaskKind.TOPIC and order != RANDOM:
        raise TaskCreationError(
            f"order {order} ranks topic tasks by the model's topic scores; "
            f"{kind} tasks are made in random order"
        )
    return order


def model_run_required(*, dataset: Dataset, order: str) -> ModelRun:
    """The dataset's latest finished ModelRun, which a model order follows."""
    # Imported here: the scoring module brings numpy, which the admin and every command would load.
    from curation.services.modelling import model_run_latest

    run = model_run_latest(dataset)
    if run is None:
        raise TaskCreationError(
            f"dataset {dataset.slug} has no trained model: train one (train_baseline) or use --order random "
            f"(order {order} follows the latest finished model run's scores)"
        )
    return run


def random_priority(seed: int, video_id: int) -> float:
    return random.Random(f"{seed}:{video_id}").random()


def model_priority(order: str, probability: float) -> float:
    """Above every random priority (which is below 1)."""
    if order == LIKELY_NOISE:
        return 1.0 + (1.0 - probability)
    if order == UNCERTAIN:
        return 1.0 + (1.0 - 2.0 * abs(probability - 0.5))
    raise ValueError(f"order {order!r} has no weak-topic priority")


@dataclass(frozen=True)
class Ranking:
    """The priorities one order gives weak-topic tasks."""

    order: str
    seed: int
    probabilities: Mapping[int, float] = field(default_factory=dict)  # video id → p

    def priority(self, video_id: int) -> tuple[float, bool]:
        """(priority, whether the video lacks the score its order needs)."""
        if self.order in (LIKELY_NOISE, UNCERTAIN):
            probability = self.probabilities.get(video_id)
            if probability is not None:
                return model_priority(self.order, probability), False
            return random_priority(self.seed, video_id), True
        return random_priority(self.seed, video_id), False


def ranking_load(*, order: str, seed: int, run: ModelRun | None) -> Ranking:
    if order not in (LIKELY_NOISE, UNCERTAIN):
        return Ranking(order, seed)
    scores = VideoScore.objects.filter(model_run=run, weak_topic_probability__isnull=False)
    return Ranking(
        order, seed, dict(scores.values_list("video_id", "weak_topic_probability").iterator(CHUNK))
    )


def hard_negative_scores(
    *, dataset: Dataset, run: ModelRun, min_score: float
) -> dict[int, list[tuple[int, float]]]:
    """Video id → [(topic id, score)] for the run's top topics of each video that score at least
    `min_score` (the caller leaves out the video's weak topic)."""
    topics = set(Topic.objects.filter(dataset=dataset).values_list("id", flat=True))
    found: dict[int, list[tuple[int, float]]] = {}
    rows = VideoScore.objects.filter(model_run=run).values_list("video_id", "top_topics")
    for video_id, top in rows.iterator(CHUNK):
        high = [
            (t["topic"], float(t["score"]))
            for t in top or []
            if t["score"] >= min_score and t["topic"] in topics
        ]
        if high:
            found[video_id] = high
    return found


# --- reprioritising open tasks ----------------------------------------------------------------


@dataclass
class ReprioritiseSummary:
    order: str
    model_version: str = ""
    tasks: int = 0  # open weak-topic tasks given the order's priority
    hard_negatives: int = 0  # open hard-negative tasks given their topic's current score
    unscored: int = 0  # of those, videos without the score their order needs
    slots: int = 0  # open slots whose priority followed their task's

    def __str__(self) -> str:
        model = f" by model {self.model_version}" if self.model_version else ""
        return (
            f"order {self.order}{model}: {self.tasks} open tasks and {self.hard_negatives} open "
            f"hard-negative tasks reprioritised ({self.slots} open slots); "
            f"{self.unscored} videos without a score (ranked below every scored one, at random; "
            "a hard-negative task keeps its priority)"
        )


def _topic_scores(run: ModelRun, pairs: list[tuple[int, int]]) -> dict[tuple[int, int], float]:
    """(video id, topic id) → the run's score (every topic's, not only the top ones)."""
    column = {topic_id: i for i, topic_id in enumerate(run.topics)}
    wanted: dict[int, list[int]] = {}
    for video_id, topic_id in pairs:
        wanted.setdefault(video_id, []).append(topic_id)
    scores = {}
    ids = list(wanted)
    for start in range(0, len(ids), CHUNK):
        rows = VideoScore.objects.filter(model_run=run, video_id__in=ids[start : start + CHUNK])
        for video_id, values in rows.values_list("video_id", "topic_scores"):
            for topic_id in wanted[video_id]:
                if topic_id in column and column[topic_id] < len(values):
                    scores[(video_id, topic_id)] = float(values[column[topic_id]])
    return scores


@transaction.atomic
def task_reprioritise(*, dataset: Dataset, order: str | None = None) -> ReprioritiseSummary:
    """Give the dataset's open topic tasks (a slot not yet answered) and their open slots the
    priorities of `order` (default: the dataset's `verification_order`) from the latest scores:
    one set-based UPDATE for the slots, one for the tasks.

    Weak-topic tasks take the order's priority (under `hard_negatives` they keep theirs); an
    order other than random marks them `selected_by` it, and a later random order leaves that
    mark, since answers already spent in model order stay a biased sample. Hard-negative tasks
    take their topic's score in the latest run, whatever the order.

    Slots are locked before tasks, the order every other path takes (profile, slot, task). While
    it runs, leasing skips the slots it has locked: run it between rounds on a large dataset."""
    config = annotation_config(dataset)
    order = order_resolve(dataset=dataset, kind=TaskKind.TOPIC, order=order)
    if order in MODEL_ORDERS:
        run = model_run_required(dataset=dataset, order=order)
    else:
        from curation.services.modelling import model_run_latest

        run = model_run_latest(dataset)
    summary = ReprioritiseSummary(order=order, model_version=run.version if run else "")
    ranking = ranking_load(order=order, seed=config.seed, run=run)
    # Two plain reads instead of one EXISTS: the open slots come from the lease query's partial
    # index, and the plan holds even before statistics catch up with a round just created (an
    # EXISTS took 37 s for 20,000 tasks then).
    open_slots = Assignment.objects.filter(
        dataset=dataset, is_gold=False, state=Assignment.State.OPEN, kind=TaskKind.TOPIC
    )
    open_tasks = set(open_slots.values_list("task_id", flat=True).iterator(CHUNK))
    tasks = Task.objects.filter(dataset=dataset, kind=TaskKind.TOPIC, is_gold=False).values_list(
        "id", "video_id", "topic_id", "selected_by", "video__weak_topic_id"
    )
    ids, priorities, selected, hard = [], [], [], []
    for task_id, video_id, topic_id, selected_by, weak_topic_id in tasks.iterator(CHUNK):
        if task_id not in open_tasks:
            continue
        if topic_id != weak_topic_id:
            hard.append((task_id, video_id, topic_id, selected_by))
        elif order != HARD_NEGATIVES:
            priority, unscored = ranking.priority(video_id)
            ids.append(task_id)
            priorities.append(priority)
            selected.append(selected_by if order == RANDOM else order)
            summary.tasks += 1
            summary.unscored += unscored
    if run is not None and hard:
        scores = _topic_scores(run, [(video_id, topic_id) for _, video_id, topic_id, _ in hard])
        for task_id, video_id, topic_id, selected_by in hard:
            score = scores.get((video_id, topic_id))
            if score is None:
                summary.unscored += 1
                continue
            ids.append(task_id)
            priorities.append(score)
            selected.append(selected_by)
            summary.hard_negatives += 1
    if ids:
        summary.slots = priorities_store(
            task_ids=ids, priorities=priorities, selected_by=selected, now=timezone.now()
        )
    return summary


# --- what hard negatives found ----------------------------------------------------------------


@dataclass(frozen=True)
class HardNegativeFinding:
    """A video the crowd said is about `topic`, which it was not collected for."""

    video_id: int
    external_id: str
    title: str
    weak_topic: str | None
    topic: str
    verdict: str
    answered: int
    agreement: float | None


def hard_negative_findings(*, dataset: Dataset) -> list[HardNegativeFinding]:
    """Topic tasks about another topic than the video's weak topic whose verdict (USV's rule on
    the task's own answers, `Task.verdict`) is `verified`: the crowd said yes."""
    tasks = (
        Task.objects.filter(dataset=dataset, kind=TaskKind.TOPIC, verdict=VERIFIED)
        .exclude(asks_weak_topic())
        .order_by("video_id", "topic_id")
        .values_list(
            "video_id", "video__external_id", "video__title", "video__weak_topic__name", "topic__name",
            "verdict", "answered", "agreement",
        )
    )  # fmt: skip
    return [HardNegativeFinding(*row) for row in tasks]
