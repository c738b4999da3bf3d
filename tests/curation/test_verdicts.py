"""verdicts_aggregate: answers as rows (+ imported ones) → one run, verdicts, agreement."""

import pytest

from curation.models import AggregationRun, ExternalAnswer, NoiseEstimate, VideoVerdict
from curation.services.labels.verdicts import VerdictError, verdicts_aggregate
from tests.curation.labels_helpers import make_videos

pytestmark = pytest.mark.django_db


def labels_of(dataset, method):
    return dict(
        VideoVerdict.objects.filter(dataset=dataset, method=method).values_list("video__external_id", "label")
    )


def test_two_no_make_noise_one_each_a_disagreement_and_two_yes_a_verified_video(dataset):
    a, b, c, d = make_videos(dataset, 4)
    rows = [
        (a.id, "user:1", "no", ""), (a.id, "user:2", "no", ""),
        (b.id, "user:1", "yes", ""), (b.id, "user:2", "no", ""),
        (c.id, "user:1", "yes", ""), (c.id, "user:2", "yes", ""),
        (d.id, "user:1", "unsure", ""), (d.id, "user:2", "no", ""),
    ]  # fmt: skip

    summary = verdicts_aggregate(dataset=dataset, rows=rows)

    assert summary.method == "usv" and "2.0 answers per video" in summary.reason
    assert labels_of(dataset, "usv") == {
        "v1": "noise",
        "v2": "disagreement",
        "v3": "verified",
        "v4": "unsure",
    }
    noise = VideoVerdict.objects.get(video=a, method="usv")
    assert noise.confidence == 1.0 and noise.answers == {"no": 2} and noise.answers_used == 2
    assert not noise.disputed and VideoVerdict.objects.get(video=b).disputed
    run = AggregationRun.objects.get()
    assert (run.items, run.answers, run.workers, run.requested) == (4, 8, 2, "auto")
    assert run.worker_quality["user:1"]["answers"] == 4
    assert {d["video"] for d in run.agreement["disputed"]} == {b.id, d.id}
    assert run.agreement["paired_videos"] == 4 and run.agreement["kappa"] is not None


def test_with_overlap_two_a_lone_answer_is_pending_and_left_out_of_the_noise_estimate(dataset):
    """Issue 17: one Yes was `verified` (confidence 1.0), one No `unsure`, `unsure + yes` verified,
    and all of them counted."""
    lone_yes, lone_no, unsure_yes, no_no, yes_yes, spare = make_videos(dataset, 6)
    rows = [
        (lone_yes.id, "user:1", "yes", ""), (lone_no.id, "user:1", "no", ""),
        (unsure_yes.id, "user:1", "unsure", ""), (unsure_yes.id, "user:2", "yes", ""),
        (no_no.id, "user:1", "no", ""), (no_no.id, "user:2", "no", ""),
        (yes_yes.id, "user:1", "yes", ""), (yes_yes.id, "user:2", "yes", ""),
    ]  # fmt: skip

    summary = verdicts_aggregate(dataset=dataset, rows=rows)

    assert labels_of(dataset, "usv") == {"v1": "pending", "v2": "pending", "v3": "unsure", "v4": "noise",
                                         "v5": "verified"}  # fmt: skip
    assert summary.verdicts == {"verified": 1, "noise": 1, "disagreement": 0, "unsure": 1, "pending": 2}
    pending = VideoVerdict.objects.get(video=lone_yes)
    assert (pending.confidence, pending.answers_used, pending.answers) == (0.0, 1, {"yes": 1})
    overall = NoiseEstimate.objects.get(scope="dataset")
    assert (overall.noisy, overall.n) == (1, 2)  # the unsure one is not judged either way
    # The two pending videos and the unanswered one are the unverified remainder.
    assert NoiseEstimate.objects.get(scope="extrapolation").population == 3


def test_a_video_is_held_to_its_tasks_overlap_and_a_gold_video_to_none(dataset):
    escalated, gold, plain = make_videos(dataset, 3)
    rows = [
        (escalated.id, "user:1", "yes", ""), (escalated.id, "user:2", "no", ""),
        (gold.id, "user:1", "yes", "no"), (plain.id, "user:1", "yes", ""), (plain.id, "user:2", "no", ""),
    ]  # fmt: skip
    verdicts_aggregate(dataset=dataset, rows=rows, required={escalated.id: 3, gold.id: 0})
    assert labels_of(dataset, "usv") == {"v1": "pending", "v2": "noise", "v3": "disagreement"}


def test_majority_vote_calls_a_yes_no_tie_a_disagreement_and_dawid_skene_runs_on_request(dataset):
    a, b = make_videos(dataset, 2)
    rows = [(a.id, "user:1", "yes", ""), (a.id, "user:2", "no", ""), (b.id, "user:1", "no", ""),
            (b.id, "user:2", "no", "")]  # fmt: skip
    verdicts_aggregate(dataset=dataset, rows=rows, method="mv")
    assert labels_of(dataset, "mv") == {"v1": "disagreement", "v2": "noise"}
    summary = verdicts_aggregate(dataset=dataset, rows=rows, method="ds")
    assert summary.method == "ds" and set(labels_of(dataset, "ds")) == {"v1", "v2"}
    assert "estimated" in AggregationRun.objects.filter(method="ds").get().worker_quality["user:1"]


def test_auto_takes_dawid_skene_from_three_answers_per_video(dataset):
    videos = make_videos(dataset, 3)
    rows = [(v.id, f"user:{w}", "yes", "") for v in videos for w in range(3)]
    summary = verdicts_aggregate(dataset=dataset, rows=rows)
    assert summary.method == "ds" and "Dawid–Skene wins from 3" in summary.reason


def test_a_gold_video_takes_its_known_answer(dataset):
    a, b = make_videos(dataset, 2)
    rows = [
        (a.id, "user:1", "yes", "no"), (a.id, "user:2", "yes", "no"),
        (b.id, "user:1", "no", ""), (b.id, "user:2", "no", ""),
    ]  # fmt: skip
    verdicts_aggregate(dataset=dataset, rows=rows)
    gold = VideoVerdict.objects.get(video=a)
    assert (gold.label, gold.from_gold, gold.confidence) == ("noise", True, 1.0)
    quality = AggregationRun.objects.get().worker_quality
    assert quality["user:1"]["gold_answers"] == 1 and quality["user:1"]["gold_accuracy"] == 0.0


def test_imported_answers_join_ours_under_their_own_worker_keys(dataset):
    a, b = make_videos(dataset, 2)
    ExternalAnswer.objects.create(dataset=dataset, video=a, worker="1", label="no", source="old.csv")
    summary = verdicts_aggregate(
        dataset=dataset, rows=[(a.id, "user:1", "no", ""), (b.id, "user:1", "yes", "")]
    )
    assert summary.external_answers == 1 and summary.workers == 2
    assert labels_of(dataset, "usv") == {"v1": "noise", "v2": "pending"}  # v2: one answer of two
    assert set(AggregationRun.objects.get().worker_quality) == {"user:1", "ext:1"}


def test_re_running_replaces_the_verdicts_and_drops_those_without_answers(dataset):
    a, b = make_videos(dataset, 2)
    verdicts_aggregate(dataset=dataset, rows=[(a.id, "user:1", "no", ""), (a.id, "user:2", "no", ""),
                                               (b.id, "user:1", "yes", "")])  # fmt: skip
    first = AggregationRun.objects.get()
    verdicts_aggregate(dataset=dataset, rows=[(a.id, "user:1", "yes", ""), (a.id, "user:2", "yes", "")])
    assert labels_of(dataset, "usv") == {"v1": "verified"}
    assert not VideoVerdict.objects.filter(run=first).exists()
    assert AggregationRun.objects.count() == 2


@pytest.mark.parametrize(
    "rows, message",
    [
        ([("V", "user:1", "maybe", "")], "answer 'maybe' of worker user:1 is not yes/no/unsure"),
        ([("V", "ext:1", "no", "")], "reserved for imported answers"),
        ([("V", "user:1", "no", ""), ("V", "user:1", "no", "")], "worker user:1 answered it twice"),
        ([("V", "user:1", "no", "yes"), ("V", "user:2", "no", "no")], "gold answers 'yes' and 'no' disagree"),
        ([], "has no topic answers to aggregate"),
        ([("V", "user:1", "no", "")], "unknown aggregation method 'vote'"),
    ],
)
def test_bad_answers_are_refused_and_the_old_verdicts_stay(dataset, rows, message):
    (video,) = make_videos(dataset, 1)
    verdicts_aggregate(dataset=dataset, rows=[(video.id, "user:9", "yes", "")])
    before = list(VideoVerdict.objects.values_list("id", "label", "run_id"))
    rows = [(video.id if v == "V" else v, w, lab, g) for v, w, lab, g in rows]
    with pytest.raises(VerdictError, match=message):
        verdicts_aggregate(dataset=dataset, rows=rows, method="vote" if "vote" in message else "auto")
    assert list(VideoVerdict.objects.values_list("id", "label", "run_id")) == before
    assert AggregationRun.objects.count() == 1 and NoiseEstimate.objects.filter(run__isnull=True).count() == 0


def test_a_video_of_another_dataset_is_refused_and_nothing_is_written(dataset, open_dataset):
    (mine,) = make_videos(dataset, 1)
    (theirs,) = make_videos(open_dataset, 1, prefix="x")
    with pytest.raises(Exception, match=f"not in dataset usv-sample: {theirs.id}"):
        verdicts_aggregate(
            dataset=dataset, rows=[(mine.id, "user:1", "no", ""), (theirs.id, "user:1", "no", "")]
        )
    assert not VideoVerdict.objects.exists() and not AggregationRun.objects.exists()
    assert not NoiseEstimate.objects.exists()
