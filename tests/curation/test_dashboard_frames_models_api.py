"""The dataset page's frames and models sections (curation/selectors_dashboard.py), on a small
dataset made row by row, with the numbers worked out by hand; the helpers and the other sections:
tests/curation/test_dashboard_api.py."""

from datetime import timedelta

import pytest
from django.utils import timezone

from curation.models import Frame, ModelRun, Split, Video
from tests.curation.test_dashboard_api import DONE, as_curator, get, make_video, small  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db


# Frames ------------------------------------------------------------------------------------------


def make_frames(video: Video, flags: list[str]) -> list[Frame]:
    frames = []
    for index, flag in enumerate(flags):
        candidate = flag == "candidate"
        frames.append(
            Frame.objects.create(
                video=video, index=index, timestamp=float(index), image=f"frames/{video.id}/{index}.jpg",
                width=160, height=90, brightness=0.5, sharpness=1.0, entropy=5.0, spread=0.5, descriptor=b"",
                is_dark="dark" in flag, is_blurry="blurry" in flag, is_uniform="uniform" in flag,
                cluster=index if flag in ("candidate", "duplicate") else None, is_candidate=candidate,
            )
        )  # fmt: skip
    return frames


def test_frames_give_the_share_of_each_flag_per_dataset_and_topic_with_examples(
    as_curator,  # noqa: F811 (the fixture imported above)
    small,  # noqa: F811
    django_assert_max_num_queries,
):
    dataset, topics = small
    done = {"probe": DONE, "frames": DONE}
    f = make_frames(
        make_video(dataset, "c1", topic=topics["cats"], **done), ["dark", "blurry", "candidate", "duplicate"]
    )
    g = make_frames(make_video(dataset, "d1", topic=topics["dogs"], **done), ["dark uniform", "blurry"])
    make_frames(make_video(dataset, "x1", **done), ["candidate"])  # no weak topic: the dataset only

    with django_assert_max_num_queries(7):
        body = get(as_curator, "dash", "frames").json()

    def row(frames, dark, blurry, uniform, near_duplicate, flagged):
        counts = {"dark": dark, "blurry": blurry, "uniform": uniform, "near_duplicate": near_duplicate,
                  "flagged": flagged}  # fmt: skip
        return {"frames": frames, **counts, "shares": {k: round(v / frames, 4) for k, v in counts.items()}}

    assert body["dataset"] == row(7, 2, 2, 1, 1, 4)
    assert body["dataset"]["shares"]["dark"] == 0.2857
    # dogs: every frame flagged; cats: half
    assert body["topics"] == {
        "total": 2, "offset": 0, "limit": 50,
        "rows": [{"topic": "dogs", **row(2, 1, 1, 1, 0, 2)}, {"topic": "cats", **row(4, 1, 1, 0, 1, 2)}],
    }  # fmt: skip
    assert body["examples"] == {
        "dark": [f[0].id, g[0].id], "blurry": [f[1].id, g[1].id], "uniform": [g[0].id],
        "near_duplicate": [f[3].id],
    }  # fmt: skip
    assert (
        get(as_curator, "dash", "frames", "?limit=1&offset=1").json()["topics"]["rows"][0]["topic"] == "cats"
    )


# Models ------------------------------------------------------------------------------------------


def metric(value):
    return {"value": value, "n": 10}


def subset(mca, top5, map_tag):
    return {"mca": metric(mca), "top1": metric(mca), "top5": metric(top5), "map_tag": metric(map_tag)}


def test_models_list_every_run_with_branch_and_fused_metrics_and_the_unlearnable_topics(
    as_curator,  # noqa: F811 (the fixture imported above)
    small,  # noqa: F811
    django_assert_max_num_queries,
):
    dataset, topics = small
    split = Split.objects.create(dataset=dataset, name="v1", ratios={"train": 0.8, "val": 0.1, "test": 0.1})
    now = timezone.now()
    done = ModelRun.objects.create(
        dataset=dataset, split=split, version="dash/v1/run-1", status="done", train_seconds=12.5,
        finished_at=now - timedelta(hours=1),
        metrics={
            "branches": {
                "visual": {"val": subset(0.5, 0.9, 0.6), "test": subset(0.45, 0.85, 0.55),
                           "training": {"epochs": 3}},
                "first_stage": {"val": subset(0.4, 0.8, 0.5), "test": None},
            },
            "fused": {"usv": {"val": subset(0.6, 0.95, 0.7), "test": subset(0.55, 0.9, 0.65)},
                      "fitted": {"val": None, "test": None}, "weights": {"usv": [1.0], "fitted": None}},
            "used": "usv", "winner": None, "refused": None, "per_topic_subset": "test",
            "per_topic": [
                {"topic": topics["cats"].id, "name": "cats", "index": 0, "ap": 0.9, "n_train": 1000,
                 "prevalence": 0.25, "status": "ok"},
                {"topic": topics["dogs"].id, "name": "dogs", "index": 1, "ap": 0.3, "n_train": 100,
                 "prevalence": 0.2, "status": "unlearnable"},
            ],
        },
    )  # fmt: skip
    failed = ModelRun.objects.create(
        dataset=dataset, split=split, version="dash/v1/run-2", status="failed", error="out of memory",
        metrics={"refused": "fewer than 50 training labels"},
    )  # fmt: skip

    with django_assert_max_num_queries(4):
        body = get(as_curator, "dash", "models").json()

    empty = {
        "val": dict.fromkeys(("mca", "top5", "map_tag")),
        "test": dict.fromkeys(("mca", "top5", "map_tag")),
    }
    assert body["runs"] == [
        {"id": failed.id, "version": "dash/v1/run-2", "status": "failed",
         "created_at": failed.created_at.isoformat(), "finished_at": None, "train_seconds": None,
         "error": "out of memory", "refused": "fewer than 50 training labels", "used": None, "winner": None,
         "branches": {}, "fused": {}},
        {"id": done.id, "version": "dash/v1/run-1", "status": "done",
         "created_at": done.created_at.isoformat(), "finished_at": done.finished_at.isoformat(),
         "train_seconds": 12.5, "error": "", "refused": None,
         "used": "usv", "winner": None,
         "branches": {
             "visual": {"val": {"mca": 0.5, "top5": 0.9, "map_tag": 0.6},
                        "test": {"mca": 0.45, "top5": 0.85, "map_tag": 0.55}},
             "first_stage": {"val": {"mca": 0.4, "top5": 0.8, "map_tag": 0.5}, "test": empty["test"]},
         },
         "fused": {"usv": {"val": {"mca": 0.6, "top5": 0.95, "map_tag": 0.7},
                           "test": {"mca": 0.55, "top5": 0.9, "map_tag": 0.65}},
                   "fitted": empty}},
    ]  # fmt: skip
    assert body["learnability"]["run"] == done.id
    assert [(t["name"], t["log10_n_train"], t["unlearnable"]) for t in body["learnability"]["topics"]] == [
        ("cats", 3.0, False),
        ("dogs", 2.0, True),
    ]
    assert body["unlearnable"] == [
        {"topic": topics["dogs"].id, "name": "dogs", "n_train": 100, "ap": 0.3, "prevalence": 0.2,
         "reason": "AP 0.300 is within 0.15 of chance (its prevalence 0.200) with 100 training examples"},
    ]  # fmt: skip
