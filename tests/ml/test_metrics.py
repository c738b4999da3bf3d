"""The seeds' metrics on cases small enough to compute by hand, and AP against two independent
implementations (a brute-force one and scikit-learn's)."""

import json

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, f1_score

from ml.metrics import (
    Metric,
    average_precision,
    evaluate,
    macro_f1,
    map_per_tag,
    map_per_video,
    mean_class_accuracy,
    micro_f1,
    per_tag_ap,
    thumbnail_accuracy,
    top_k_accuracy,
)

# Four videos, two topics. Worked by hand:
# topic 0's column ranks .9(+) .8(-) .4(+) .3(-): AP = (1/1 + 2/3) / 2 = 5/6; topic 1 likewise 5/6.
# Per video, the true topic ranks 1, 2, 1, 2: per-video AP = (1 + 1/2 + 1 + 1/2) / 4 = 0.75.
Y4 = np.array([0, 0, 1, 1])
S4 = np.array([[0.9, 0.1], [0.4, 0.6], [0.3, 0.7], [0.8, 0.2]])


def brute_force_ap(truth: np.ndarray, scores: np.ndarray) -> float:
    """Mean over positives of the precision among everything scored at least as high."""
    return float(np.mean([truth[scores >= s].mean() for s in scores[truth.astype(bool)]]))


def test_mca_differs_from_accuracy_on_an_unbalanced_set():
    y = np.array([0, 0, 0, 1, 1, 2])
    pred = np.array([0, 0, 1, 1, 0, 2])
    # per class 2/3, 1/2, 1 -> 13/18; plain accuracy would be 4/6
    assert mean_class_accuracy(y, pred, 5) == Metric(pytest.approx(13 / 18), 6)
    majority = mean_class_accuracy(np.array([0, 0, 0, 0, 1]), np.zeros(5), 2)
    assert majority == Metric(0.5, 5)  # accuracy 0.8, but class 1 is never recognised


def test_top_k_counts_ties_against_the_true_topic():
    y = np.array([0, 1, 2])
    s = np.array([[0.5, 0.3, 0.2], [0.5, 0.3, 0.2], [0.4, 0.4, 0.2]])
    assert [top_k_accuracy(y, s, k).value for k in (1, 2, 3)] == pytest.approx([1 / 3, 2 / 3, 1.0])
    assert top_k_accuracy(np.array([0]), np.array([[0.5, 0.5, 0.0]]), 1).value == 0.0
    uniform = np.full((4, 3), 1 / 3)
    assert top_k_accuracy(np.array([0, 1, 2, 0]), uniform, 1).value == 0.0


def test_average_precision_by_hand_with_and_without_ties():
    assert average_precision(np.array([1, 0, 1, 0, 0]), np.array([0.9, 0.8, 0.7, 0.6, 0.5])) == Metric(
        pytest.approx(5 / 6), 5
    )
    # the tie at 0.5 is one threshold: precision 1/2 at recall 1/2, then 2/3 at recall 1
    assert average_precision(np.array([1, 0, 1]), np.array([0.5, 0.5, 0.2])).value == pytest.approx(7 / 12)
    assert average_precision(np.zeros(3), np.array([0.1, 0.2, 0.3])) == Metric(None, 3)


@pytest.mark.parametrize("seed", range(5))
def test_average_precision_agrees_with_brute_force_and_scikit_learn(seed):
    rng = np.random.default_rng(seed)
    truth = rng.random(60) < 0.3
    truth[0] = True
    scores = np.round(rng.random(60), 1)  # one decimal: many ties
    ours = average_precision(truth, scores).value
    assert ours == pytest.approx(brute_force_ap(truth, scores), abs=1e-12)
    assert ours == pytest.approx(average_precision_score(truth, scores), abs=1e-12)


def test_mean_ap_per_tag_and_per_video_by_hand():
    assert map_per_tag(Y4, S4) == Metric(pytest.approx(5 / 6), 4)
    assert map_per_video(Y4, S4) == Metric(0.75, 4)
    per_row = [average_precision(np.arange(2) == y, s).value for y, s in zip(Y4, S4, strict=True)]
    assert np.mean(per_row) == 0.75


def test_macro_and_micro_f_differ_when_a_small_class_is_missed():
    y, pred = np.array([0, 0, 0, 1]), np.array([0, 0, 0, 0])
    # class 0: tp 3, fp 1 -> F 6/7; class 1: never predicted -> F 0; macro 3/7, micro = accuracy 3/4
    assert macro_f1(y, pred, 2) == Metric(pytest.approx(3 / 7), 4)
    assert micro_f1(y, pred, 2) == Metric(0.75, 4)
    rng = np.random.default_rng(3)
    y, pred = rng.integers(0, 6, 80), rng.integers(0, 5, 80)
    assert macro_f1(y, pred, 6).value == pytest.approx(f1_score(y, pred, average="macro"))
    assert micro_f1(y, pred, 6).value == pytest.approx(f1_score(y, pred, average="micro"))


def test_per_tag_ap_names_why_a_topic_has_no_usable_ap():
    y = np.array([0, 0, 1, 1, 2, 2, 2, 2])
    s = np.zeros((8, 4))
    s[:, 0] = [8, 7, 6, 5, 4, 3, 2, 1]  # both positives on top: AP 1
    s[:, 1] = [1, 2, 8, 7, 3, 4, 5, 6]
    # topic 2's ranking alternates -, +, -, +: AP = (1/2 + 2/4 + 3/6 + 4/8) / 4 = 0.5 = its prevalence
    s[:, 2] = [8, 6, 4, 2, 7, 5, 3, 1]
    tags = per_tag_ap(y, s, np.array([10, 3, 10, 10]), min_train=5)
    statuses = ["ok", "too few training examples", "unlearnable", "no positive in eval"]
    assert [t.status for t in tags] == statuses
    assert tags[0].ap == 1.0 and tags[0].prevalence == 0.25 and tags[0].n_eval_pos == 2
    assert tags[1].ap is None and tags[1].n_train == 3 and tags[1].n_eval_pos == 2
    assert tags[2].ap == pytest.approx(0.5) and tags[2].prevalence == 0.5
    assert tags[3].ap is None and tags[3].n_eval_pos == 0
    # the margin decides: an AP at chance passes only when no margin above chance is asked for
    assert per_tag_ap(y, s, np.full(4, 10), unlearnable_margin=0.0)[2].status == "ok"


def test_thumbnail_accuracy_counts_only_videos_with_a_ground_truth():
    picks, truths = np.array([0, 2, 1, 3]), np.array([0, 1, -1, 3])
    assert thumbnail_accuracy(picks, truths) == Metric(pytest.approx(2 / 3), 3)
    assert thumbnail_accuracy(np.array([1, 2]), np.array([-1, -1])) == Metric(None, 0)


def test_evaluate_gives_every_metric_json_ready_and_skips_unknown_labels():
    y = np.r_[Y4, -1]
    s = np.vstack([S4, [[0.0, 1.0]]])
    result = evaluate(y, s, 2)
    assert json.loads(json.dumps(result)) == result
    values = {name: m["value"] for name, m in result.items()}
    by_hand = {"mca": 0.5, "top1": 0.5, "top5": 1.0, "map_tag": 5 / 6, "map_video": 0.75}
    assert values == pytest.approx({**by_hand, "macro_f": 0.5, "micro_f": 0.5})
    assert {m["n"] for m in result.values()} == {4}


def test_empty_input_gives_no_value_and_bad_labels_are_refused():
    empty = evaluate(np.array([-1, -1]), np.zeros((2, 3)), 3)
    assert all(m == {"value": None, "n": 0} for m in empty.values())
    with pytest.raises(ValueError, match="labels must lie"):
        mean_class_accuracy(np.array([0, 3]), np.array([0, 0]), 3)
