"""Noise estimates from verdicts: every scope, intervals as ml.intervals computes them, history,
and coverage of the population's rate and the unverified videos' noise in repeated trials."""

import numpy as np
import pytest

from curation.models import NoiseEstimate, Split, SplitMember, Topic, VideoVerdict
from curation.services.labels.noise import (
    NoiseEstimateError,
    noise_estimate_history,
    noise_estimate_latest,
    noise_estimates_record,
)
from curation.services.labels.verdicts import verdicts_aggregate
from ml.crowdsim import simulate_verification
from ml.intervals import clopper_pearson, extrapolate, noise_estimate, wilson
from tests.curation.labels_helpers import make_videos

pytestmark = pytest.mark.django_db


def two_answers(videos, noise: set[int], disagree: set[int] = frozenset()):
    """Rows: two No for videos in `noise`, Yes+No for `disagree`, two Yes for the rest."""
    rows = []
    for i, video in enumerate(videos):
        first, second = ("no", "no") if i in noise else ("yes", "no") if i in disagree else ("yes", "yes")
        rows += [(video.id, "user:1", first, ""), (video.id, "user:2", second, "")]
    return rows


def by_scope(estimates):
    return {(e.scope, e.key): e for e in estimates}


def test_it_records_dataset_topic_macro_split_and_extrapolation_estimates(dataset):
    topics = [Topic.objects.create(dataset=dataset, name=f"t{i}", macro_topic=m) for i, m in enumerate("AAB")]
    videos = make_videos(dataset, 30, topics)  # topic t(i % 3) for video i+1
    answered = videos[:24]  # six videos stay unverified
    split = Split.objects.create(dataset=dataset, name="v1", ratios={"train": 0.5, "val": 0.5})
    SplitMember.objects.bulk_create(
        [
            SplitMember(split=split, video=v, subset="train" if i % 2 else "val")
            for i, v in enumerate(answered)
        ]
        + [SplitMember(split=split, video=videos[24], subset="")]
    )

    summary = verdicts_aggregate(
        dataset=dataset, rows=two_answers(answered, noise={0, 1, 2, 3, 4, 5}, disagree={6})
    )
    got = by_scope(summary.estimates)

    overall = got[("dataset", "")]
    assert (overall.noisy, overall.n, overall.method, overall.interval) == (6, 23, "usv", "wilson")
    assert (overall.low, overall.high) == pytest.approx(wilson(6, 23))
    assert overall.rate == pytest.approx(6 / 23)
    topic_counts = {key: (e.noisy, e.n) for (scope, key), e in got.items() if scope == "topic"}
    # video i+1 has topic t((i+1) % 3): the noisy ones are videos 1-6, the disagreement video 7.
    assert topic_counts == {"t0": (2, 8), "t1": (2, 7), "t2": (2, 8)}
    assert {k: (e.noisy, e.n) for (s, k), e in got.items() if s == "macro_topic"} == {
        "A": (4, 15),
        "B": (2, 8),
    }
    assert {k: (e.noisy, e.n) for (s, k), e in got.items() if s == "split"} == {
        "v1/train": (3, 12),
        "v1/val": (3, 11),
    }
    guess = got[("extrapolation", "")]
    prediction = extrapolate(noise_estimate(6, 23), 6)
    assert guess.population == 6 and (guess.expected_low, guess.expected_high) == (
        prediction.low_noisy, prediction.high_noisy,
    )  # fmt: skip
    assert guess.low <= guess.rate <= guess.high and guess.interval == "beta-binomial"
    assert all(e.run_id == summary.run_id and e.estimator == "human" for e in summary.estimates)


def test_clopper_pearson_intervals_and_a_history_of_batches(dataset):
    videos = make_videos(dataset, 10)
    verdicts_aggregate(dataset=dataset, rows=two_answers(videos, noise={0, 1, 2}))
    exact = noise_estimates_record(dataset=dataset, method="usv", interval="clopper-pearson")
    overall = by_scope(exact)[("dataset", "")]
    assert (overall.low, overall.high) == pytest.approx(clopper_pearson(3, 10))

    latest = noise_estimate_latest(dataset)
    assert {e.id for e in latest} == {e.id for e in exact}
    assert {e.interval for e in latest} == {"clopper-pearson"} and latest[0].scope == "dataset"
    history = noise_estimate_history(dataset)
    assert [e.interval for e in history] == ["clopper-pearson", "wilson"]
    assert NoiseEstimate.objects.filter(scope="dataset").count() == 2  # rows are history, never updated


def test_no_judged_video_gives_no_estimate_and_a_bad_interval_is_refused(dataset):
    (video,) = make_videos(dataset, 1)
    summary = verdicts_aggregate(
        dataset=dataset, rows=[(video.id, "user:1", "yes", ""), (video.id, "user:2", "no", "")]
    )
    assert summary.estimates == [] and not NoiseEstimate.objects.exists()
    with pytest.raises(NoiseEstimateError, match="unknown interval 'normal'"):
        noise_estimates_record(dataset=dataset, method="usv", interval="normal")
    assert not NoiseEstimate.objects.exists()


def test_a_random_verified_sample_covers_the_datasets_rate_and_the_unverified_noise(dataset):
    """USV's claim, through the database: crowdsim annotates a whole population (21.7 % noise,
    20 workers of 60–95 % accuracy, two answers each); a random 40 % is verified. The sample's
    interval should contain the population's judged rate, and the extrapolation the unverified
    videos' judged noise count, in about 95 % of trials."""
    videos = make_videos(dataset, 500)
    ids = np.array([v.id for v in videos])
    covered, predicted = [], []
    for trial in range(40):
        sim = simulate_verification(items=500, workers=20, answers_per_item=2, seed=100 + trial)
        a = sim.answers
        no = np.bincount(a.item, weights=a.label == 0, minlength=500)
        judged_noise = no >= 2  # USV's rule on every video, had all been verified
        clean = no == 0
        sample = np.random.default_rng(trial).random(500) < 0.4
        answered = zip(a.item, a.worker, a.label, strict=True)
        rows = [(int(ids[i]), f"user:{w}", a.classes[lab], "") for i, w, lab in answered if sample[i]]
        summary = verdicts_aggregate(dataset=dataset, rows=rows, method="usv")
        got = by_scope(summary.estimates)
        population_rate = judged_noise.sum() / (judged_noise | clean).sum()
        covered.append(got[("dataset", "")].low <= population_rate <= got[("dataset", "")].high)
        guess = got[("extrapolation", "")]
        assert guess.population == (~sample).sum()
        # The unverified videos' judged noise, counted as the estimate counts (out of judged ones)
        # and scaled to all of them.
        unverified = ~sample
        actual = (
            judged_noise[unverified].sum()
            / max((judged_noise | clean)[unverified].sum(), 1)
            * unverified.sum()
        )
        predicted.append(guess.expected_low <= actual <= guess.expected_high)
    assert np.mean(covered) >= 0.85 and np.mean(predicted) >= 0.85
    assert VideoVerdict.objects.filter(method="usv").count() <= 500
