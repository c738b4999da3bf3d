"""Readers for the real crowd datasets in ../shared/data/crowd (bluebirds, Snow et al. 2008)."""

import csv
import os
from pathlib import Path

import yaml

SHARED_DATA = Path(
    os.environ.get("MICROCURATE_SHARED_DATA", Path(__file__).resolve().parents[3] / "shared/data")
)
CROWD = SHARED_DATA / "crowd"
SNOW = ("rte", "temp", "wsd")
# Snow et al.'s rating tasks: (lowest, highest) rating. Read as three classes (the range's thirds)
# so label aggregation applies to them too.
RATINGS = {"anger": (0.0, 100.0), "valence": (-100.0, 100.0), "wordsim": (0.0, 10.0)}
ALL = ("bluebirds", *SNOW, *RATINGS)


def snow(name: str) -> tuple[list[tuple[str, str, str]], dict[str, str]]:
    """(item, worker, label) rows and item → gold label for one of Snow et al.'s tasks."""
    rows, gold = [], {}
    with open(CROWD / "snow2008" / f"{name}.standardized.tsv", newline="") as f:
        for record in csv.DictReader(f, delimiter="\t"):
            item = record["orig_id"]
            rows.append((item, record["!amt_worker_ids"], record["response"]))
            gold[item] = record["gold"]
    return rows, gold


def bluebirds() -> tuple[list[tuple[str, str, str]], dict[str, str]]:
    labels = yaml.safe_load((CROWD / "cubam_bluebirds" / "labels.yaml").read_text())
    truth = yaml.safe_load((CROWD / "cubam_bluebirds" / "gt.yaml").read_text())
    rows = [
        (str(item), str(worker), str(answer).lower())
        for worker, answers in labels.items()
        for item, answer in answers.items()
    ]
    return rows, {str(item): str(answer).lower() for item, answer in truth.items()}


def _third(value: str, low: float, high: float) -> str:
    share = (float(value) - low) / (high - low)
    return "low" if share < 1 / 3 else "mid" if share < 2 / 3 else "high"


def ratings(name: str) -> tuple[list[tuple[str, str, str]], dict[str, str]]:
    low, high = RATINGS[name]
    rows, gold = snow(name)
    return (
        [(item, worker, _third(label, low, high)) for item, worker, label in rows],
        {item: _third(label, low, high) for item, label in gold.items()},
    )


def dataset(name: str):
    if name == "bluebirds":
        return bluebirds()
    return ratings(name) if name in RATINGS else snow(name)
