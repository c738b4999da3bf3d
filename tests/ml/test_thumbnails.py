"""Thumbnail baselines: colourfulness by its formula, and the ASBTv-like score prefers the frame a
person would pick — sharp, well lit, colourful, and showing what most of the video shows."""

import numpy as np
import pytest

from ml.metrics import thumbnail_accuracy
from ml.thumbnails import AsbtvWeights, asbtv_scores, colourfulness, pick, random_scores


def test_colourfulness_of_grey_is_zero_and_of_red_and_blue_follows_hasler_and_susstrunk():
    assert colourfulness(np.full((8, 8, 3), 128, np.uint8)) == 0.0
    image = np.zeros((2, 2, 3), np.uint8)
    image[0, :, 0] = 255  # top row pure red, bottom row pure blue
    image[1, :, 2] = 255
    # rg: 255 / 0 -> mean 127.5, std 127.5; yb: 127.5 / -255 -> mean -63.75, std 191.25
    expected = np.hypot(127.5, 191.25) + 0.3 * np.hypot(127.5, 63.75)
    assert colourfulness(image) == pytest.approx(expected)
    assert expected == pytest.approx(272.62, abs=0.01)


def test_colourfulness_refuses_a_grey_level_image():
    with pytest.raises(ValueError, match="RGB"):
        colourfulness(np.zeros((4, 4), np.uint8))


def frames():
    """Five candidates of one video: the good frame is index 2."""
    rng = np.random.default_rng(0)
    shot = rng.normal(size=16)
    descriptors = shot + 0.1 * rng.normal(size=(5, 16))
    descriptors[4] = rng.normal(size=16)  # an outlier shot
    return dict(
        sharpness=np.array([30.0, 2.0, 32.0, 25.0, 31.0]),  # 1 is blurred
        brightness=np.array([0.08, 0.5, 0.55, 0.45, 0.5]),  # 0 is dark
        colourfulness=np.array([20.0, 40.0, 45.0, 5.0, 44.0]),  # 3 is washed out
        descriptors=descriptors,
        cluster_sizes=np.array([3, 3, 6, 2, 1]),  # 2 stands for the longest shot
    )


def test_a_sharp_well_lit_colourful_frame_of_the_main_shot_beats_the_flawed_ones():
    scores = asbtv_scores(**frames())
    assert pick(scores) == 2
    assert all(scores[2] > scores[i] for i in (0, 1, 3, 4))


def test_each_flaw_alone_costs_the_frame_its_lead():
    base = frames()
    for flaw, value in [("sharpness", 1.0), ("brightness", 0.02), ("colourfulness", 0.0)]:
        changed = {k: v.copy() for k, v in base.items()}
        changed[flaw][2] = value
        assert asbtv_scores(**changed)[2] < asbtv_scores(**base)[2], flaw
    outlier = {k: v.copy() for k, v in base.items()}
    outlier["descriptors"][2] = -outlier["descriptors"][2]
    outlier["cluster_sizes"][2] = 1
    assert pick(asbtv_scores(**outlier)) != 2


def test_brightness_is_best_near_mid_range_not_at_the_top():
    f = frames()
    f["brightness"] = np.array([0.5, 0.5, 0.5, 0.5, 0.98])
    only_brightness = AsbtvWeights(sharpness=0, brightness=1, colourfulness=0, centrality=0, cluster=0)
    scores = asbtv_scores(**f, weights=only_brightness)
    assert scores[4] < scores[:4].min()  # 0.98 is over-exposed next to four frames at 0.5


def test_asbtv_beats_random_on_a_benchmark_where_the_truth_is_the_best_representative_frame():
    """Synthetic videos whose ground truth is a sharp, well-lit frame of the longest shot (as a
    creator's posted thumbnail tends to be) among 7-12 candidates: the Random baseline should sit
    near 1/10 and ASBTv-like scoring far above it."""
    rng = np.random.default_rng(1)
    picks_asbtv, picks_random, truths = [], [], []
    for video in range(200):
        n = int(rng.integers(7, 13))
        truth = int(rng.integers(0, n))
        f = dict(
            sharpness=rng.uniform(1, 20, n),
            brightness=rng.uniform(0.1, 0.9, n),
            colourfulness=rng.uniform(0, 60, n),
            descriptors=rng.normal(size=(n, 8)),
            cluster_sizes=rng.integers(1, 4, n).astype(float),
        )
        f["sharpness"][truth] = rng.uniform(15, 25)
        f["brightness"][truth] = rng.uniform(0.4, 0.6)
        f["cluster_sizes"][truth] = 5
        picks_asbtv.append(pick(asbtv_scores(**f)))
        picks_random.append(pick(random_scores(n, seed=video)))
        truths.append(truth)
    asbtv = thumbnail_accuracy(np.array(picks_asbtv), np.array(truths))
    random = thumbnail_accuracy(np.array(picks_random), np.array(truths))
    assert asbtv.n == random.n == 200
    assert random.value < 0.2 and asbtv.value > 0.6


def test_random_scores_are_reproducible_and_pick_takes_the_earliest_tie():
    assert np.array_equal(random_scores(10, seed=3), random_scores(10, seed=3))
    assert not np.array_equal(random_scores(10, seed=3), random_scores(10, seed=4))
    assert pick(np.array([0.2, 0.9, 0.9])) == 1


def test_a_single_candidate_is_picked_and_mismatched_inputs_are_refused():
    f = {k: v[:1] for k, v in frames().items()}
    assert pick(asbtv_scores(**f)) == 0
    bad = frames()
    bad["cluster_sizes"] = bad["cluster_sizes"][:3]
    with pytest.raises(ValueError, match="one entry per frame"):
        asbtv_scores(**bad)
