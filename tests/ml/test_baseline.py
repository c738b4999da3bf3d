"""The product's baseline end to end on synthetic features shaped like USV's problem.

Each video has a topic; each of its three branches carries that topic's signal with probability
0.6 and is noise otherwise (a video's speech may be off-topic while its frames are on it). 21.7 %
of the training labels are wrong (USV's measured noise); a fifth of the training videos are
verified, so some wrong labels are known (weight 0) and some right ones count triple. Topic 8 is
a "stopword" (MV-58K's #lol): its videos show some other topic's content. Topic 9 has three
training videos. 10 % of videos have no audio, and five test videos have no branch at all.
"""

import json

import numpy as np
import pytest
import torch

from ml.baseline import BaselineModel, FeatureTable, TrainSettings, train_baseline
from ml.metrics import evaluate

torch.set_num_threads(1)

DIMS = {"visual": 32, "audio": 12, "text": 16}
N_TOPICS = 10
STOPWORD, RARE = 8, 9
NO_BRANCH = 5


def synthetic(*, seed: int = 0, n_train: int = 2000, n_val: int = 600, n_test: int = 600) -> dict:
    rng = np.random.default_rng(seed)
    n = n_train + n_val + n_test
    subsets = np.array(["train"] * n_train + ["val"] * n_val + ["test"] * n_test)
    topic = rng.integers(0, RARE, n)
    topic[rng.choice(n_train, 3, replace=False)] = RARE
    topic[n_train + rng.choice(n_val + n_test, min(40, (n_val + n_test) // 10), replace=False)] = RARE
    content = topic.copy()
    stop = topic == STOPWORD
    content[stop] = rng.integers(0, STOPWORD, stop.sum())
    branches, present = {}, {}
    for i, (b, d) in enumerate(DIMS.items()):
        prototypes = np.random.default_rng(100 + i).normal(size=(N_TOPICS, d)) * 1.5
        carries = rng.random(n) < 0.6
        X = rng.normal(size=(n, d))
        X[carries] += prototypes[content[carries]]
        branches[b] = X.astype(np.float32)
        present[b] = np.ones(n, bool)
    present["audio"][rng.random(n) < 0.1] = False
    for b in DIMS:
        present[b][-NO_BRANCH:] = False
        branches[b][~present[b]] = 0.0
    labels = topic.copy()
    train = subsets == "train"
    wrong = train & (rng.random(n) < 0.217) & (topic != RARE)
    labels[wrong] = (topic[wrong] + rng.integers(1, RARE, wrong.sum())) % RARE  # never the rare topic
    weight = np.ones(n)
    verified = train & (rng.random(n) < 0.2)
    weight[verified & ~wrong] = 3.0
    weight[verified & wrong] = 0.0
    zero_shot = rng.normal(0.1, 0.05, size=(n, N_TOPICS))
    titled = np.flatnonzero(rng.random(n) < 0.5)
    zero_shot[titled, content[titled]] += 0.15  # half the titles name the content's topic
    return {
        "table": FeatureTable(branches, present),
        "labels": labels,
        "subsets": subsets,
        "sample_weight": weight,
        "zero_shot": zero_shot,
    }


@pytest.fixture(scope="module")
def data() -> dict:
    return synthetic()


@pytest.fixture(scope="module")
def trained(data):
    stages = []
    result = train_baseline(
        **data, n_classes=N_TOPICS, settings=TrainSettings(), progress=lambda s, f: stages.append((s, f))
    )
    return result, stages


def mca(block: dict | None) -> float:
    return block["mca"]["value"]


def test_every_branch_is_well_above_chance_and_the_fusion_beats_each(trained):
    metrics = trained[0].metrics
    assert metrics["refused"] is None
    branch_val = {b: mca(metrics["branches"][b]["val"]) for b in DIMS}
    assert all(v > 0.4 for v in branch_val.values()), branch_val  # chance: 0.1
    for subset in ("val", "test"):
        fused = mca(metrics["fused"][metrics["used"]][subset])
        best_branch = max(mca(metrics["branches"][b][subset]) for b in DIMS)
        assert fused > best_branch + 0.1, (subset, fused, best_branch)
    assert mca(metrics["branches"]["first_stage"]["val"]) > 0.4


def test_both_fusions_are_measured_and_the_winner_named(trained):
    metrics = trained[0].metrics
    weights = metrics["fused"]["weights"]
    assert weights["usv"] == {"visual": 1.0, "audio": 0.5, "text": 0.5}
    assert sum(weights["fitted"].values()) == pytest.approx(1.0)
    assert metrics["used"] == "usv"
    val = {kind: mca(metrics["fused"][kind]["val"]) for kind in ("usv", "fitted")}
    assert metrics["winner"] == ("fitted" if val["fitted"] > val["usv"] else "usv")


def test_per_topic_ap_flags_the_stopword_and_the_rare_topic(trained):
    topics = trained[0].metrics["per_topic"]
    assert trained[0].metrics["per_topic_subset"] == "test"
    assert topics[STOPWORD]["status"] == "unlearnable"
    assert topics[STOPWORD]["ap"] - topics[STOPWORD]["prevalence"] < 0.15
    assert topics[RARE]["status"] == "too few training examples" and topics[RARE]["n_train"] == 3
    assert topics[RARE]["ap"] is None
    assert {t["status"] for t in topics[:STOPWORD]} == {"ok"}
    assert all(t["n_train"] > 100 for t in topics[:STOPWORD])


def test_counts_missing_branches_and_uncovered_videos_are_reported(trained, data):
    metrics = trained[0].metrics
    weight, subsets = data["sample_weight"], data["subsets"]
    assert metrics["counts"] == {
        "train": int(((subsets == "train") & (weight > 0)).sum()),
        "val": 600,
        "test": 600,
        "noise_left_out": int((weight == 0).sum()),
    }
    assert metrics["counts"]["noise_left_out"] > 50
    audio = data["table"].present["audio"]
    without_audio = {s: int(((subsets == s) & ~audio).sum()) for s in ("train", "val", "test")}
    assert metrics["missing"]["audio"] == without_audio
    assert metrics["missing"]["visual"] == {"train": 0, "val": 0, "test": NO_BRANCH}
    assert metrics["uncovered"] == {"train": 0, "val": 0, "test": NO_BRANCH}
    # a branch is measured on the videos that have it; the fusion on all of them
    assert metrics["branches"]["audio"]["val"]["mca"]["n"] == 600 - metrics["missing"]["audio"]["val"]
    assert metrics["fused"]["usv"]["test"]["mca"]["n"] == 600


def test_metrics_are_json_and_progress_runs_to_done(trained):
    result, stages = trained
    assert json.loads(json.dumps(result.metrics)) == result.metrics
    fractions = [f for _, f in stages]
    assert fractions == sorted(fractions) and stages[-1] == ("done", 1.0)
    assert result.seconds > 0


def test_the_state_round_trips_and_reproduces_the_reported_numbers(trained, data):
    result = trained[0]
    model = BaselineModel.from_state(result.state)
    scores = model.score(data["table"], zero_shot=data["zero_shot"])
    again = BaselineModel.from_state(model.to_state()).score(data["table"], zero_shot=data["zero_shot"])
    assert np.array_equal(scores.fused, again.fused)
    assert np.array_equal(scores.first_stage, again.first_stage)
    assert all(np.array_equal(scores.branches[b], again.branches[b]) for b in DIMS)
    val = data["subsets"] == "val"
    assert evaluate(data["labels"][val], scores.fused[val], N_TOPICS) == result.metrics["fused"]["usv"]["val"]
    assert (
        evaluate(data["labels"][val], scores.first_stage[val], N_TOPICS)
        == result.metrics["branches"]["first_stage"]["val"]
    )
    assert scores.uncovered.sum() == NO_BRANCH
    assert np.allclose(scores.fused[scores.uncovered], 1 / N_TOPICS)


def test_scoring_refuses_a_table_without_a_trained_branch(trained, data):
    model = BaselineModel.from_state(trained[0].state)
    table = data["table"]
    partial = FeatureTable({"visual": table.branches["visual"]}, {"visual": table.present["visual"]})
    with pytest.raises(ValueError, match="lacks"):
        model.score(partial)


def test_too_few_labels_trains_but_refuses_to_report_accuracy():
    small = synthetic(seed=1, n_train=45, n_val=30, n_test=0)
    result = train_baseline(**small, n_classes=N_TOPICS, settings=TrainSettings(fusion="fitted", epochs=5))
    metrics = result.metrics
    assert "only" in metrics["refused"] and "training videos" in metrics["refused"]
    assert metrics["fused"]["fitted"]["val"] is None and metrics["branches"]["visual"]["val"] is None
    assert metrics["per_topic"] == [] and metrics["winner"] is None
    assert metrics["used"] == "fitted" and metrics["counts"]["train"] > 0
    model = BaselineModel.from_state(result.state)
    assert model.used == "fitted" and model.weights["fitted"] == metrics["fused"]["weights"]["fitted"]
    assert model.score(small["table"]).fused.shape == (75, N_TOPICS)


def test_enough_training_labels_but_too_few_evaluation_labels_is_refused_too():
    small = synthetic(seed=2, n_train=300, n_val=15, n_test=10)
    metrics = train_baseline(**small, n_classes=N_TOPICS, settings=TrainSettings(epochs=5)).metrics
    assert metrics["refused"].startswith("only 15 val and 10 test")


def test_bad_inputs_are_refused_with_a_clear_error():
    small = synthetic(seed=3, n_train=40, n_val=10, n_test=10)
    with pytest.raises(ValueError, match="nothing to train on"):
        train_baseline(**{**small, "sample_weight": np.zeros(60)}, n_classes=N_TOPICS)
    with pytest.raises(ValueError, match="unknown subsets"):
        train_baseline(**{**small, "subsets": np.array(["training"] * 60)}, n_classes=N_TOPICS)
    with pytest.raises(ValueError, match="not in the feature table"):
        train_baseline(**small, n_classes=N_TOPICS, settings=TrainSettings(modalities=("visual", "depth")))
    with pytest.raises(ValueError, match="outside"):
        train_baseline(**small, n_classes=5)
