"""The demo's simulated annotation round (issue 18): a few simulated crowdworkers answer topic and
thumbnail tasks through the services a browser's answer goes through (assignment_offer, then
answer_submit), so gold checks, agreement, verdicts and the dashboard see ordinary answers.

They answer from the truth the demo knows (curation.services.demo: which clips were filed under a
wrong topic; the ground-truth thumbnail frame), each with an accuracy of their own, and stop once
a share of the tasks that can be served has every answer it needs: the rest is left for the demo's
human crowdworkers. One of them is careless (Yes to nearly everything, fast): the gold tasks made
here catch them, and the dashboard flags them.

Each answer is drawn from a generator seeded by (seed, worker, video, kind), so which answer a
worker gives does not depend on the order in which the pipeline made the tasks servable, nor on
the database's ids: a dataset's round is the same on every run.
"""

import math
import random
from collections import Counter
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, Group
from django.db import transaction
from django.db.models import F

from annotator.models import Answer, Task, TaskKind, TopicChoice
from annotator.queries import servable_video_q
from annotator.selectors_dashboard import CLICKS_BUCKETS
from annotator.services.answers import answer_submit
from annotator.services.assignment import assignment_offer
from annotator.services.creation import task_make_gold
from curation.models import Dataset, Frame
from curation.services.demo import demo_weak_topic_right

# The crowd's pick matches the ground-truth frame more often on videos with more clicks (the
# thumbnail paper's figure: rising with clicks, above 60 %): per clicks bucket, lowest first.
PICKS_TRUTH = (0.62, 0.72, 0.8, 0.88)
GOLD_EACH = 4  # gold tasks whose answer is Yes, and as many whose answer is No


@dataclass(frozen=True)
class SimWorker:
    username: str
    accuracy: float  # topic answers: the true answer with this probability
    thumbnail_skill: float  # times PICKS_TRUTH
    seconds: float  # median time per answer
    weight: int  # turns taken, relative to the others
    careless: bool = False
    cap: int | None = None  # answers at most this many tasks (then wanders off)


SIM_WORKERS = (
    SimWorker("sim-ana", accuracy=0.97, thumbnail_skill=1.0, seconds=7.0, weight=4),
    SimWorker("sim-ben", accuracy=0.95, thumbnail_skill=0.97, seconds=9.0, weight=4),
    SimWorker("sim-cleo", accuracy=0.93, thumbnail_skill=0.93, seconds=6.0, weight=3),
    # Yes to nearly everything, in a second and a half: wrong on every gold task whose answer is No.
    SimWorker("sim-dan", accuracy=0.0, thumbnail_skill=0.0, seconds=1.5, weight=1, careless=True, cap=14),
)


@dataclass
class RoundSummary:
    answers: Counter = field(default_factory=Counter)  # per worker
    gold_made: int = 0
    left: dict[str, int] = field(default_factory=dict)  # per kind: servable tasks left for people

    def __str__(self) -> str:
        given = ", ".join(f"{name} {n}" for name, n in sorted(self.answers.items())) or "none"
        left = ", ".join(f"{n} {kind}" for kind, n in self.left.items())
        gold = f"; {self.gold_made} gold tasks made" if self.gold_made else ""
        return f"simulated answers: {given}{gold}; tasks left for people: {left}"


def sim_workers_create(workers=SIM_WORKERS) -> dict[str, AbstractBaseUser]:
    """The simulated crowdworkers' accounts (no password: nobody logs in as them)."""
    User = get_user_model()
    group = Group.objects.get_or_create(name="crowdworkers")[0]
    users = {}
    for sim in workers:
        user, created = User.objects.get_or_create(username=sim.username)
        if created:
            user.set_unusable_password()
            user.save()
        user.groups.add(group)
        users[sim.username] = user
    return users


def _servable(dataset: Dataset, kind: str):
    return Task.objects.filter(dataset=dataset, kind=kind, is_gold=False).filter(servable_video_q())


@transaction.atomic
def demo_gold_make(*, dataset: Dataset, each: int = GOLD_EACH) -> int:
    """Once the dataset has no gold topic task: make `each` servable, unanswered topic tasks whose
    answer the demo knows Yes and `each` No into gold tasks (the first ones a worker is served),
    served No, Yes, No, …: the first five hold three No, which a worker saying Yes to everything
    gets wrong. Returns how many were made (0 when there are some already or too few candidates)."""
    if Task.objects.filter(dataset=dataset, kind=TaskKind.TOPIC, is_gold=True).exists():
        return 0
    picked: dict[bool, list[Task]] = {True: [], False: []}
    tasks = _servable(dataset, TaskKind.TOPIC).filter(answered=0).select_related("video").order_by("id")
    for task in tasks.iterator(chunk_size=500):
        right = demo_weak_topic_right(task.video.external_id)
        if right is not None and len(picked[right]) < each:
            picked[right].append(task)
        if all(len(found) == each for found in picked.values()):
            break
    else:
        return 0
    served = [task for pair in zip(picked[False], picked[True], strict=True) for task in pair]
    for rank, task in enumerate(served):
        task_make_gold(task=task, answer=TopicChoice.NO if rank % 2 == 0 else TopicChoice.YES)
        # Gold tasks are served highest priority first (assignment._gold_task).
        Task.objects.filter(id=task.id).update(priority=len(served) - rank)
    return len(served)


def _rng(seed: int, sim: SimWorker, task: Task) -> random.Random:
    return random.Random(f"{seed}:{sim.username}:{task.video.external_id}:{task.kind}")


def _seconds(rng: random.Random, sim: SimWorker) -> float:
    return round(sim.seconds * math.exp(rng.gauss(0, 0.35)), 1)


def _topic_choice(rng: random.Random, sim: SimWorker, task: Task) -> str:
    if sim.careless:
        return TopicChoice.UNSURE if rng.random() < 0.1 else TopicChoice.YES
    right = demo_weak_topic_right(task.video.external_id)
    if right is None or rng.random() < 0.02:
        return TopicChoice.UNSURE
    correct = rng.random() < sim.accuracy
    return TopicChoice.YES if right == correct else TopicChoice.NO


def _bucket(clicks: int | None) -> int | None:
    for index, (_name, low, high) in enumerate(CLICKS_BUCKETS):
        if clicks is not None and clicks >= low and (high is None or clicks < high):
            return index
    return None


def _frame_pick(rng: random.Random, sim: SimWorker, task: Task) -> int:
    candidates = list(
        Frame.objects.filter(video_id=task.video_id, is_candidate=True)
        .order_by("id")
        .values_list("id", flat=True)
    )
    if sim.careless or task.truth_frame_id not in candidates:
        return candidates[0]  # the first picture shown
    bucket = _bucket(task.video.clicks)
    chance = (PICKS_TRUTH[bucket] if bucket is not None else PICKS_TRUTH[0]) * sim.thumbnail_skill
    others = [c for c in candidates if c != task.truth_frame_id]
    return task.truth_frame_id if rng.random() < chance or not others else rng.choice(others)


def _answer(sim: SimWorker, user, dataset: Dataset, kind: str, seed: int) -> bool:
    """One task taken and answered as a browser would; False when the worker is served none."""
    offer = assignment_offer(worker=user, dataset=dataset, kind=kind)
    if offer is None:
        return False
    assignment = offer.assignment
    task = Task.objects.select_related("video").get(id=assignment.task_id)
    rng = _rng(seed, sim, task)
    if kind == TaskKind.TOPIC:
        answer_submit(
            worker=user,
            assignment_id=assignment.id,
            choice=_topic_choice(rng, sim, task),
            seconds=_seconds(rng, sim),
        )
    else:
        answer_submit(
            worker=user,
            assignment_id=assignment.id,
            frame_id=_frame_pick(rng, sim, task),
            seconds=_seconds(rng, sim) + 2,
        )
    return True


def _done(dataset: Dataset, kind: str) -> tuple[int, int]:
    servable = _servable(dataset, kind)
    return servable.filter(answered__gte=F("needed")).count(), servable.count()


def demo_round_step(
    *,
    dataset: Dataset,
    shares: dict[str, float] | None = None,
    workers=SIM_WORKERS,
    seed: int = 0,
    limit: int | None = None,
    wait_for_gold: bool = False,
) -> RoundSummary:
    """Answer as the simulated workers until, per kind, `shares` of the tasks that can be served
    now (default: 75 % of topic tasks, 60 % of thumbnail tasks) have all their answers, the
    workers are served nothing more, or `limit` answers were given. Safe to call again as more
    videos become servable: it answers only what the shares leave to do. `wait_for_gold`: no
    topic answer before the gold tasks exist (while the pipeline is still making videos ready), so
    every worker's first answers are the gold ones and the careless worker is caught."""
    shares = shares if shares is not None else {TaskKind.TOPIC: 0.75, TaskKind.THUMBNAIL: 0.6}
    users = sim_workers_create(workers)
    summary = RoundSummary(gold_made=demo_gold_make(dataset=dataset) if TaskKind.TOPIC in shares else 0)
    given = _answers_per_worker(dataset, [sim.username for sim in workers])
    if wait_for_gold and not Task.objects.filter(dataset=dataset, kind=TaskKind.TOPIC, is_gold=True).exists():
        shares = {kind: share for kind, share in shares.items() if kind != TaskKind.TOPIC}
    for kind, share in shares.items():
        # Each worker `weight` times in a cycle, shuffled: consecutive answers come from different
        # workers, so the two slots of a task are mostly filled one after the other.
        turns = [sim for sim in workers for _ in range(sim.weight)]
        random.Random(f"{seed}:turns:{kind}:{given.total()}").shuffle(turns)
        idle = {sim.username for sim in workers if sim.cap is not None and given[sim.username] >= sim.cap}
        done, servable = _done(dataset, kind)
        turn = 0
        while done < math.ceil(share * servable) and len(idle) < len(workers):
            if limit is not None and summary.answers.total() >= limit:
                break
            sim = turns[turn % len(turns)]
            turn += 1
            if sim.username in idle:
                continue
            if not _answer(sim, users[sim.username], dataset, kind, seed):
                idle.add(sim.username)
                continue
            summary.answers[sim.username] += 1
            given[sim.username] += 1
            if sim.cap is not None and given[sim.username] >= sim.cap:
                idle.add(sim.username)
            done, servable = _done(dataset, kind)
        summary.left[kind] = servable - done
    return summary


def _answers_per_worker(dataset: Dataset, usernames: list[str]) -> Counter:
    rows = Answer.objects.filter(task__dataset=dataset, worker__username__in=usernames).values_list(
        "worker__username", flat=True
    )
    return Counter(rows)
