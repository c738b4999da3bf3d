import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from ml.aggregate import encode_answers
from ml.agreement import (
    AgreementError,
    cohen_kappa,
    first_two_answers,
    krippendorff_alpha,
    most_disputed,
    pairwise_kappa,
)
from ml.crowdsim import simulate_verification
from tests.ml.crowd_data import dataset

# Krippendorff (2011), "Computing Krippendorff's alpha-reliability", the worked example with four
# observers, twelve units and missing values; its nominal alpha is 0.743.
KRIPPENDORFF_EXAMPLE = {
    "A": [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
    "B": [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
    "C": [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
    "D": [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
}


def test_krippendorff_alpha_reproduces_the_published_worked_example():
    rows = [
        (unit, observer, value)
        for observer, values in KRIPPENDORFF_EXAMPLE.items()
        for unit, value in enumerate(values)
        if value is not None
    ]
    answers = encode_answers(*zip(*rows, strict=True))
    assert krippendorff_alpha(answers) == pytest.approx(0.743, abs=5e-4)


def test_cohen_kappa_agrees_with_scikit_learn_on_snow_rte():
    rows, _ = dataset("rte")
    answers = encode_answers(*zip(*rows, strict=True))
    first, second = first_two_answers(answers)
    assert first.size == answers.n_items  # every RTE item has ten answers
    assert pairwise_kappa(answers) == pytest.approx(cohen_kappa_score(first, second), abs=1e-12)


def test_agreement_falls_as_workers_get_worse():
    good = simulate_verification(items=5_000, answers_per_item=3, accuracy_range=(0.9, 0.99), seed=1)
    poor = simulate_verification(items=5_000, answers_per_item=3, accuracy_range=(0.55, 0.7), seed=1)
    assert krippendorff_alpha(good.answers) > 0.7 > 0.2 > krippendorff_alpha(poor.answers)
    assert pairwise_kappa(good.answers) > 0.7 > 0.2 > pairwise_kappa(poor.answers)


def test_alpha_can_be_taken_per_topic_with_a_mask():
    rows, _ = dataset("temp")
    temp = encode_answers(*zip(*rows, strict=True))
    assert krippendorff_alpha(temp, np.ones(temp.n_items, bool)) == krippendorff_alpha(temp)
    # Topic "cats": the two workers always agree (on yes and on no); topic "dogs": they never do.
    rows = [(f"{topic}{i}", worker, label) for topic, labels in (
        ("cat", [("yes", "yes"), ("no", "no"), ("yes", "yes"), ("no", "no")]),
        ("dog", [("yes", "no"), ("no", "yes"), ("yes", "no"), ("no", "yes")]),
    ) for i, pair in enumerate(labels) for worker, label in zip(("w1", "w2"), pair, strict=True)]  # fmt: skip
    answers = encode_answers(*zip(*rows, strict=True))
    cats = np.array([item.startswith("cat") for item in answers.items])
    assert krippendorff_alpha(answers, cats) == 1.0
    assert pairwise_kappa(answers, cats) == 1.0 and pairwise_kappa(answers, ~cats) == -1.0
    assert krippendorff_alpha(answers, ~cats) < 0 < 1.0
    assert (
        krippendorff_alpha(answers, ~cats) < krippendorff_alpha(answers) < krippendorff_alpha(answers, cats)
    )


def test_most_disputed_lists_even_splits_first_and_skips_unanimous_items():
    answers = encode_answers(
        "calm calm split split big-split big-split big-split big-split lean lean lean".split(),
        ["w1", "w2", "w1", "w2", "w1", "w2", "w3", "w4", "w1", "w2", "w3"],
        ["yes", "yes", "yes", "no", "yes", "no", "no", "yes", "yes", "yes", "no"],
    )
    disputed = most_disputed(answers, limit=10)
    assert [answers.items[d.item] for d in disputed] == ["big-split", "split", "lean"]
    assert disputed[0].entropy == pytest.approx(1.0) and disputed[0].answers == 4
    assert most_disputed(answers, limit=1)[0].counts == (2, 2)


def test_agreement_needs_items_answered_twice():
    single = encode_answers(["a", "b"], ["w1", "w1"], ["yes", "no"])
    with pytest.raises(AgreementError, match="two or more answers"):
        krippendorff_alpha(single)
    with pytest.raises(AgreementError, match="answered twice"):
        pairwise_kappa(single)
    with pytest.raises(AgreementError, match="equally long"):
        cohen_kappa(np.array([0, 1]), np.array([0]))
