import numpy as np

from ml.crowdsim import NO, simulate_verification


def test_each_video_goes_to_distinct_workers_who_are_as_accurate_as_drawn():
    sim = simulate_verification(items=40_000, workers=50, answers_per_item=5, seed=2)
    answers = sim.answers
    per_item = answers.worker.reshape(-1, 5)
    assert (np.sort(per_item, axis=1)[:, 1:] != np.sort(per_item, axis=1)[:, :-1]).all()
    assert np.abs(np.bincount(answers.worker, minlength=50) / answers.item.size - 1 / 50).max() < 0.002
    right = answers.label == sim.truth[answers.item]
    observed = np.bincount(answers.worker, weights=right) / np.bincount(answers.worker)
    assert np.abs(observed - sim.accuracy).max() < 0.03
    assert abs((sim.truth == NO).mean() - 0.217) < 0.005
    assert ((sim.accuracy >= 0.6) & (sim.accuracy <= 0.95)).all()


def test_gold_share_reveals_the_truth_of_that_share_of_videos():
    sim = simulate_verification(items=10_000, gold_share=0.1, seed=3)
    known = sim.answers.gold >= 0
    assert abs(known.mean() - 0.1) < 0.01
    assert (sim.answers.gold[known] == sim.truth[known]).all()
