"""Split invariants on generated datasets: publishers, duplicate groups, topics, noise, seeds."""

from collections import defaultdict

import numpy as np
import pytest

from ml.splits import EXCLUDED, SplitDiff, SplitError, assign_split, split_diff

RATIOS = {"train": 0.8, "val": 0.1, "test": 0.1}


def generated(n: int = 20_000, seed: int = 0) -> dict:
    """USV-like: Zipf-sized topics, publishers with 1–~300 videos, cross-publisher near-duplicate
    groups (re-uploads), 21.7 % noise, and two tiny topics with 2 and 5 videos."""
    rng = np.random.default_rng(seed)
    topic = [f"topic{int(t) % 200}" for t in rng.zipf(1.4, n)]
    topic[:2] = ["rare-a"] * 2
    topic[2:7] = ["rare-b"] * 5
    weights = 1 / np.arange(1, 4_001) ** 0.8  # the largest publisher holds ~4 % of the videos
    publisher = [f"pub{int(p)}" for p in rng.choice(4_000, n, p=weights / weights.sum())]
    publisher[:7] = [f"solo{i}" for i in range(7)]
    # 3 % of the videos are re-uploads: ~150 groups of four, across publishers
    duplicates = [f"dup{int(d) // 4}" if d < 600 else None for d in rng.integers(0, n, n)]
    duplicates[:7] = [None] * 7
    return {
        "item_ids": [f"v{i:06d}" for i in range(n)],
        "topics": topic,
        "publishers": publisher,
        "duplicate_groups": duplicates,
        "noise": rng.random(n) < 0.217,
    }


@pytest.fixture(scope="module")
def data():
    return generated()


@pytest.fixture(scope="module")
def split(data):
    return assign_split(**data, ratios=RATIOS, seed=7)


def _subsets_by(key, values, split):
    seen = defaultdict(set)
    for i, value in enumerate(values):
        if value is not None and split.subset[i] != EXCLUDED:
            seen[value].add(int(split.subset[i]))
    return {value: subsets for value, subsets in seen.items() if len(subsets) > 1}


def test_no_publisher_and_no_duplicate_group_spans_two_subsets(data, split):
    assert _subsets_by("publisher", data["publishers"], split) == {}
    assert _subsets_by("duplicate", data["duplicate_groups"], split) == {}
    # the generator did make groups that span publishers, so blocks had to merge them
    linked = defaultdict(set)
    for group, publisher in zip(data["duplicate_groups"], data["publishers"], strict=True):
        if group:
            linked[group].add(publisher)
    assert sum(len(publishers) > 1 for publishers in linked.values()) > 100
    assert split.blocks < len(set(data["publishers"]))


def test_noise_leaves_val_and_test_but_stays_flagged_in_train(data, split):
    noise = data["noise"]
    train = split.names.index("train")
    assert not ((split.subset != train) & (split.subset != EXCLUDED) & noise).any()
    assert (noise & (split.subset == train)).sum() > 0.2 * (split.subset == train).sum()
    assert split.excluded_noise == int((split.subset == EXCLUDED).sum()) > 0
    assert (split.noise == noise).all()
    assert split.of(int(np.flatnonzero(split.subset == EXCLUDED)[0])) is None


def test_subset_sizes_follow_the_ratios_before_noise_is_removed(data, split):
    n = len(data["item_ids"])
    removed = split.subset == EXCLUDED
    placed = split.sizes["train"] + split.sizes["val"] + split.sizes["test"] + int(removed.sum())
    assert placed == n
    assert abs(split.sizes["train"] / n - 0.8) < 0.01
    eval_share = (n - split.sizes["train"]) / n
    assert abs(eval_share - 0.2) < 0.01


def test_every_large_topic_is_stratified_across_the_subsets(data, split):
    topics = np.array(data["topics"])
    kept = ~data["noise"]  # compare on clean items, which every subset keeps
    for name in set(data["topics"]):
        rows = (topics == name) & kept
        if rows.sum() < 200:
            continue
        shares = np.bincount(split.subset[rows], minlength=3) / rows.sum()
        assert np.abs(shares - np.array([0.8, 0.1, 0.1])).max() < 0.05, (name, shares)


def test_topics_too_small_to_stratify_are_reported_and_kept_for_training(data, split):
    small = {topic.topic: topic for topic in split.small_topics}
    counts = defaultdict(int)
    for topic in data["topics"]:
        counts[topic] += 1
    assert {"rare-a", "rare-b"} <= set(small)
    assert set(small) == {topic for topic, count in counts.items() if count < 10}
    assert small["rare-a"].items == 2 and small["rare-a"].needed == 10
    assert set(small["rare-b"].placed) <= {"train"}
    assert sum(small["rare-b"].placed.values()) == 5


def test_the_same_seed_gives_the_same_split_whatever_the_input_order(data, split):
    order = np.random.default_rng(1).permutation(len(data["item_ids"]))
    shuffled = {key: [values[i] for i in order] for key, values in data.items()}
    shuffled["noise"] = np.array(shuffled["noise"])
    again = assign_split(**shuffled, ratios=RATIOS, seed=7)
    assert (again.subset == split.subset[order]).all()
    other = assign_split(**data, ratios=RATIOS, seed=8)
    assert (other.subset != split.subset).mean() > 0.05


@pytest.mark.parametrize(
    "ratios, message",
    [
        ({"train": 0.8, "val": 0.1, "test": 0.2}, "sum to 1, these sum to 1.1"),
        ({"train": 1.2, "val": -0.1, "test": -0.1}, "positive: val=-0.1, test=-0.1"),
        ({"train": 0.9, "val": 0.1, "test": 0.0}, "positive: test=0"),
        ({"train": 1.0}, "at least two subsets"),
    ],
)
def test_bad_ratios_are_refused(data, ratios, message):
    with pytest.raises(SplitError, match=message.replace(".", r"\.")):
        assign_split(**data, ratios=ratios)


def test_a_subset_that_would_be_empty_is_refused():
    with pytest.raises(SplitError, match="test would be empty: 30 items in 2 publisher/duplicate block"):
        assign_split(
            item_ids=[f"v{i}" for i in range(30)],
            topics=["dance"] * 30,
            publishers=["big"] * 29 + ["small"],
            ratios=RATIOS,
        )


def test_inconsistent_inputs_are_refused(data):
    with pytest.raises(SplitError, match="equally long"):
        assign_split(item_ids=["a", "b"], topics=["t"], publishers=["p", "q"], ratios=RATIOS)
    with pytest.raises(SplitError, match="unique"):
        assign_split(item_ids=["a", "a"], topics=["t", "t"], publishers=["p", "q"], ratios=RATIOS)
    with pytest.raises(SplitError, match="no items"):
        assign_split(item_ids=[], topics=[], publishers=[], ratios=RATIOS)
    with pytest.raises(SplitError, match="named subset"):
        assign_split(**data, ratios=RATIOS, keep_noise_in=("training",))


def test_a_diff_between_two_versions_counts_added_removed_and_moved_items(data, split):
    ids = data["item_ids"]
    old = {item: split.of(i) for i, item in enumerate(ids)}
    again = assign_split(**data, ratios=RATIOS, seed=8)
    new = {item: again.of(i) for i, item in enumerate(ids[:-100])} | {"fresh-1": "train", "fresh-2": None}
    diff = split_diff(old, new)
    assert diff.added == {"train": 1, "excluded": 1}
    assert sum(diff.removed.values()) == 100
    changed = sum(old[item] != new[item] for item in ids[:-100])
    assert sum(diff.moved.values()) == changed > 0
    assert diff.unchanged == len(ids) - 100 - changed
    assert split_diff(old, old) == SplitDiff({}, {}, {}, len(ids))
