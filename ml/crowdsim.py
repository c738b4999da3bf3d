"""Simulated topic verification: known noise, known workers — for tests, benchmarks and planning.

Each item is label noise with probability `noise_rate` (its true answer is No, class 0; else Yes,
class 1) and is shown to `answers_per_item` distinct workers drawn uniformly from the pool. A
worker of accuracy a gives the true answer with probability a, whatever the truth (a symmetric
"one-coin" worker), which is the setting the issue's reference numbers were measured in.
"""

from dataclasses import dataclass

import numpy as np

from ml.aggregate import NO_GOLD, Answers

NO, YES = 0, 1


@dataclass(frozen=True)
class Simulation:
    answers: Answers
    truth: np.ndarray  # (N,) class per item
    accuracy: np.ndarray  # (W,) per worker


def simulate_verification(
    *,
    items: int,
    workers: int = 200,
    answers_per_item: int = 2,
    noise_rate: float = 0.217,
    accuracy_range: tuple[float, float] = (0.60, 0.95),
    gold_share: float = 0.0,
    seed: int = 0,
) -> Simulation:
    if answers_per_item > workers:
        raise ValueError("each item needs that many distinct workers")
    rng = np.random.default_rng(seed)
    truth = np.where(rng.random(items) < noise_rate, NO, YES)
    accuracy = rng.uniform(*accuracy_range, size=workers)
    # Distinct workers per item: the first pick is uniform, each next one is a uniform draw among
    # the workers not yet used (shift past the earlier picks).
    picks = np.empty((items, answers_per_item), dtype=np.int64)
    for slot in range(answers_per_item):
        draw = rng.integers(0, workers - slot, size=items)
        taken = np.sort(picks[:, :slot], axis=1)
        for column in range(slot):
            draw += draw >= taken[:, column]
        picks[:, slot] = draw
    worker = picks.reshape(-1)
    item = np.repeat(np.arange(items), answers_per_item)
    correct = rng.random(worker.size) < accuracy[worker]
    label = np.where(correct, truth[item], 1 - truth[item])
    gold = np.full(items, NO_GOLD, dtype=np.int64)
    if gold_share:
        known = rng.random(items) < gold_share
        gold[known] = truth[known]
    answers = Answers(
        item=item,
        worker=worker,
        label=label,
        items=tuple(range(items)),
        workers=tuple(range(workers)),
        classes=("no", "yes"),
        gold=gold,
    )
    return Simulation(answers, truth, accuracy)
