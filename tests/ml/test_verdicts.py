"""ml.verdicts: the one verdict rule, its vocabulary, pending items and the `auto` choice."""

import numpy as np
import pytest

from ml.aggregate import NO_GOLD, AggregationError, encode_answers
from ml.crowdsim import simulate_verification
from ml.verdicts import TOPIC_VERDICTS, thumbnail_verdict, topic_verdict, verdicts_decide


def decide(rows, method="auto", **kwargs):
    answers = encode_answers(*zip(*rows, strict=True))
    result = verdicts_decide(answers, method, **kwargs)
    return result, dict(zip(answers.items, result.labels(), strict=True)) if result.code is not None else {}


def test_usv_rule_calls_two_no_noise_a_split_a_disagreement_and_a_lone_no_unsure():
    rows = [
        ("both-no", "w1", "no"), ("both-no", "w2", "no"), ("split", "w1", "yes"), ("split", "w2", "no"),
        ("both-yes", "w1", "yes"), ("both-yes", "w2", "yes"), ("lone-no", "w1", "no"),
        ("2-of-3", "w1", "no"), ("2-of-3", "w2", "no"), ("2-of-3", "w3", "yes"),
        ("unsure-yes", "w1", "unsure"), ("unsure-yes", "w2", "yes"),
    ]  # fmt: skip
    result, verdicts = decide(rows, "usv")
    assert verdicts == {
        "both-no": "noise", "split": "disagreement", "both-yes": "verified", "lone-no": "unsure",
        "2-of-3": "noise", "unsure-yes": "unsure",
    }  # fmt: skip
    confidence = dict(zip(result.answers.items, result.confidence.tolist(), strict=True))
    assert confidence["split"] == 0.5 and confidence["both-no"] == 1.0 and confidence["lone-no"] == 0.0
    classes = result.answers.classes
    reference = dict(zip(result.answers.items, result.reference.tolist(), strict=True))
    assert reference["split"] == NO_GOLD and classes[reference["both-no"]] == "no"


def test_an_item_with_fewer_answers_than_it_needs_is_pending_under_every_method():
    rows = [("lone-yes", "w1", "yes"), ("lone-no", "w2", "no"), ("done", "w1", "no"), ("done", "w2", "no")]
    for method in ("usv", "mv", "ds"):
        result, verdicts = decide(rows, method, required=2)
        assert verdicts == {"lone-yes": "pending", "lone-no": "pending", "done": "noise"}, method
        assert result.confidence[:2].tolist() == [0.0, 0.0] and result.pending.tolist() == [True, True, False]
        assert (result.reference[:2] == NO_GOLD).all()
    # Per item: the first needs one answer, the second two.
    _, verdicts = decide(rows[:2], "usv", required=np.array([1, 2]))
    assert verdicts == {"lone-yes": "verified", "lone-no": "pending"}


def test_a_gold_item_takes_its_known_answer_even_before_its_answers_are_in():
    answers = encode_answers(["g", "x"], ["w1", "w1"], ["yes", "yes"], gold={"g": "no"})
    result = verdicts_decide(answers, "usv", required=2)
    assert result.labels() == ["noise", "pending"] and result.from_gold.tolist() == [True, False]
    assert result.confidence[0] == 1.0


def test_the_live_verdict_of_a_task_is_the_batch_verdict_of_its_answers():
    sim = simulate_verification(items=300, workers=12, answers_per_item=3, seed=4)
    labels = np.array(["no", "yes", "unsure"])[np.where(sim.answers.worker % 5 == 0, 2, sim.answers.label)]
    keep = sim.answers.worker % 7 != 0  # some items end up with fewer answers
    answers = encode_answers(
        sim.answers.item[keep].tolist(), sim.answers.worker[keep].tolist(), labels[keep].tolist()
    )
    batch = verdicts_decide(answers, "usv", required=2).labels()
    per_item = [[] for _ in range(answers.n_items)]
    for item, label in zip(answers.item, answers.label, strict=True):
        per_item[item].append(answers.classes[label])
    assert batch == [topic_verdict(choices, required=2)[0] for choices in per_item]
    assert {"pending", "noise", "verified"} <= set(batch)


def test_auto_takes_usv_for_topic_answers_and_majority_vote_for_other_labels_below_three_answers():
    topic, _ = decide([("a", "w1", "yes"), ("a", "w2", "no")])
    other, _ = decide([("a", "w1", "cat"), ("a", "w2", "dog")])
    assert (topic.method, other.method) == ("usv", "mv") and other.code is None
    three, _ = decide([("a", f"w{w}", "yes") for w in range(3)])
    assert three.method == "ds" and "Dawid–Skene wins from 3" in three.reason
    # Pending items do not count: three answers per judged item is Dawid–Skene's ground.
    rows = [("a", f"w{w}", "yes") for w in range(3)] + [("b", "w1", "no")]
    assert decide(rows, required=3)[0].method == "ds"


def test_a_named_negative_reads_two_labels_as_no_and_yes():
    result, verdicts = decide(
        [("a", "w1", "off"), ("a", "w2", "off"), ("b", "w1", "on"), ("b", "w2", "off")],
        "auto",
        negative="off",
    )
    assert verdicts == {"a": "noise", "b": "disagreement"} and result.method == "usv"


def test_majority_vote_on_topic_answers_calls_a_yes_no_tie_a_disagreement():
    _, verdicts = decide([("a", "w1", "yes"), ("a", "w2", "no"), ("b", "w1", "no")], "mv")
    assert verdicts == {"a": "disagreement", "b": "noise"}


def test_methods_report_their_name_confidence_and_answers_used():
    sim = simulate_verification(items=2_000, answers_per_item=3, seed=5)
    for method in ("usv", "mv", "ds"):
        result = verdicts_decide(sim.answers, method)
        assert result.method == method and set(result.labels()) <= set(TOPIC_VERDICTS)
        assert ((result.confidence >= 0) & (result.confidence <= 1)).all()
        assert (result.answers_used == 3).all()


def test_thumbnail_verdicts_wait_for_their_overlap_and_call_a_tied_pick_a_disagreement():
    assert thumbnail_verdict([7], 7, required=2) == ("pending", None, None)
    assert thumbnail_verdict([7, 7], 7, required=2) == ("matches_truth", 7, 1.0)
    assert thumbnail_verdict([7, 8], 7, required=2) == ("disagreement", None, 0.5)
    assert thumbnail_verdict([8, 8], None, required=2) == ("differs", 8, 1.0)


def test_bad_requests_are_refused_with_a_reason():
    three = encode_answers(["a", "a", "b"], ["w1", "w2", "w1"], ["x", "y", "z"])
    with pytest.raises(AggregationError, match="exactly two labels"):
        verdicts_decide(three, "usv")
    with pytest.raises(AggregationError, match="unknown aggregation method"):
        verdicts_decide(three, "median")
    two = encode_answers(["a", "a"], ["w1", "w2"], ["cat", "dog"])
    with pytest.raises(AggregationError, match="which of"):
        verdicts_decide(two, "usv")
    assert verdicts_decide(two, "usv", negative="dog").method == "usv"


def test_a_single_tasks_verdict_is_the_batch_rules_verdict_for_every_answer_pattern():
    from itertools import product

    from ml.aggregate import encode_answers
    from ml.verdicts import TOPIC_VERDICTS, topic_verdict, verdicts_decide

    for n in range(1, 5):
        for choices in product(("yes", "no", "unsure"), repeat=n):
            for required, gold in ((2, ""), (1, ""), (3, "no"), (2, "yes")):
                answers = encode_answers(
                    ["t"] * n, list(range(n)), list(choices), {"t": gold} if gold else None
                )
                batch = TOPIC_VERDICTS[int(verdicts_decide(answers, "usv", required=required).code[0])]
                assert topic_verdict(list(choices), required=required, gold=gold)[0] == batch, (choices, gold)
