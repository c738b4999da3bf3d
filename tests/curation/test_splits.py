"""Split versions in the database: made, frozen, compared, refused."""

from collections import defaultdict
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction

from curation.models import (
    AggregationRun,
    DuplicateGroup,
    Publisher,
    Split,
    SplitMember,
    StageStatus,
    Topic,
    Video,
    VideoVerdict,
)
from curation.services.splits import SplitRefused, ratios_parse, split_freeze, split_make

TOPICS = ["spoof", "meme", "joke", "roast", "movie review"]


def populate(dataset, *, videos_per_topic=60, publishers=40, noise_every=7, groups=5):
    """Videos over five USV topics, `publishers` publishers, a few near-duplicate groups that span
    publishers, and (when `noise_every`) USV verdicts marking every n-th video as noise."""
    topics = {t.name: t for t in Topic.objects.filter(dataset=dataset, name__in=TOPICS)}
    assert len(topics) == len(TOPICS)
    pubs = Publisher.objects.bulk_create(
        [Publisher(dataset=dataset, external_id=f"pub{i}") for i in range(publishers)]
    )
    dups = DuplicateGroup.objects.bulk_create([DuplicateGroup(dataset=dataset) for _ in range(groups)])
    videos = []
    for t, name in enumerate(TOPICS):
        for i in range(videos_per_topic):
            n = t * videos_per_topic + i
            videos.append(
                Video(
                    dataset=dataset,
                    external_id=f"v{n:04d}",
                    source=f"https://videos.example.com/{n}.mp4",
                    source_kind="url",
                    weak_topic=topics[name],
                    publisher=pubs[(n * 7) % publishers],
                    duplicate_group=dups[n % groups] if n % 23 == 0 else None,
                )
            )
    videos = Video.objects.bulk_create(videos)
    if noise_every:
        run = AggregationRun.objects.create(dataset=dataset, method="usv")
        VideoVerdict.objects.bulk_create(
            VideoVerdict(
                video=v,
                dataset=dataset,
                run=run,
                method="usv",
                label="noise" if k % noise_every == 0 else "verified",
                confidence=1.0,
                answers_used=2,
            )
            for k, v in enumerate(videos)
        )
    return videos


def members(split):
    return list(
        SplitMember.objects.filter(split=split).values(
            "video__external_id", "video__publisher_id", "video__duplicate_group_id", "subset", "is_noise"
        )
    )


def test_it_places_every_video_and_never_lets_a_publisher_or_duplicate_group_span_subsets(dataset):
    videos = populate(dataset)
    split = split_make(dataset=dataset, name="v1", ratios="0.8,0.1,0.1", seed=0)
    rows = members(split)
    assert len(rows) == len(videos)
    for key in ("video__publisher_id", "video__duplicate_group_id"):
        sides = defaultdict(set)
        for row in rows:
            if row[key] is not None and row["subset"]:
                sides[row[key]].add(row["subset"])
        assert all(len(s) == 1 for s in sides.values()), key
    assert split.sizes == {name: sum(r["subset"] == name for r in rows) for name in ("train", "val", "test")}
    assert all(split.sizes.values())


def test_it_keeps_verified_noise_out_of_val_and_test_but_flagged_in_train(dataset):
    populate(dataset, noise_every=5)
    split = split_make(dataset=dataset, name="v1", ratios="0.8,0.1,0.1")
    rows = members(split)
    noisy = [r for r in rows if r["is_noise"]]
    assert noisy and all(r["subset"] in ("train", "") for r in noisy)
    assert any(r["subset"] == "train" for r in noisy)
    excluded = [r for r in noisy if r["subset"] == ""]
    assert split.stats["excluded_noise"] == len(excluded) > 0
    assert split.stats["noise_kept_in_train"] == len(noisy) - len(excluded)
    assert split.verdict_method == "usv"


def test_the_same_seed_gives_the_same_split_and_another_seed_a_different_one(dataset):
    populate(dataset)
    a = split_make(dataset=dataset, name="a", ratios="0.8,0.1,0.1", seed=3)
    b = split_make(dataset=dataset, name="b", ratios="0.8,0.1,0.1", seed=3)
    c = split_make(dataset=dataset, name="c", ratios="0.8,0.1,0.1", seed=4)

    def placed(split):
        return {r["video__external_id"]: r["subset"] for r in members(split)}

    assert placed(a) == placed(b)
    assert placed(a) != placed(c)


@pytest.mark.parametrize(
    "ratios, message",
    [
        ("0.8,0.1,0.2", "ratios must sum to 1, these sum to 1.1"),
        ("0.8,0.2,0,0", "4 unnamed ratios: name the subsets"),
        ("train=0.9,0.1", "mix named and unnamed values"),
        ("train=0.5,train=0.5", "subset 'train' is named twice"),
        ("0.8,zero.2", "ratio 'zero.2' of subset 'test' is not a number"),
        ("1.0,0.0", "ratios must be positive: test=0"),
    ],
)
def test_it_refuses_bad_ratios_and_stores_nothing(dataset, ratios, message):
    populate(dataset)
    with pytest.raises(CommandError, match=message):
        call_command("make_split", dataset=dataset.slug, name="v1", ratios=ratios)
    assert not Split.objects.exists() and not SplitMember.objects.exists()


def test_named_ratios_make_named_subsets():
    assert ratios_parse("train=0.7, dev=0.2, test=0.1") == {"train": 0.7, "dev": 0.2, "test": 0.1}
    assert ratios_parse("0.9,0.1") == {"train": 0.9, "test": 0.1}


def test_it_reports_a_topic_too_small_to_stratify_and_keeps_it_for_training(dataset):
    populate(dataset)
    rare = Topic.objects.get(dataset=dataset, name="movie trailer")
    Video.objects.create(
        dataset=dataset, external_id="rare", source="https://videos.example.com/rare.mp4", source_kind="url",
        weak_topic=rare,
    )  # fmt: skip
    out, err = StringIO(), StringIO()
    call_command("make_split", dataset=dataset.slug, name="v1", stdout=out, stderr=err)
    assert err.getvalue().splitlines()[0] == (
        "1 topic(s) have too few videos for one in every subset, so they are not stratified: 'movie trailer'"
    )
    assert SplitMember.objects.get(video__external_id="rare").subset == "train"
    assert "verified noise (usv):" in out.getvalue()


def test_it_refuses_a_split_whose_subset_would_be_empty_and_stores_nothing(dataset):
    populate(dataset, videos_per_topic=10, publishers=2, noise_every=0, groups=1)
    with pytest.raises(
        SplitRefused, match=r"subset\(s\) .* would be empty: 50 items in 1 publisher/duplicate block"
    ):
        split_make(dataset=dataset, name="v1", ratios="0.8,0.1,0.1")
    assert not Split.objects.exists() and not SplitMember.objects.exists()


def test_it_leaves_out_videos_that_could_not_be_read(dataset):
    videos = populate(dataset, noise_every=0)
    Video.objects.filter(id__in=[v.id for v in videos[:3]]).update(probe_status=StageStatus.FAILED)
    split = split_make(dataset=dataset, name="v1", ratios="0.8,0.1,0.1")
    assert split.stats["unreadable_left_out"] == 3
    assert SplitMember.objects.filter(split=split).count() == len(videos) - 3


def test_an_existing_name_is_refused_unless_replaced_and_a_frozen_one_never_changes(dataset):
    populate(dataset)
    first = split_make(dataset=dataset, name="v1", ratios="0.8,0.1,0.1")
    with pytest.raises(SplitRefused, match="split v1 of dataset usv-sample already exists"):
        split_make(dataset=dataset, name="v1", ratios="0.6,0.2,0.2")
    again = split_make(dataset=dataset, name="v1", ratios="0.6,0.2,0.2", replace=True)
    assert again.id != first.id and again.ratios == {"train": 0.6, "val": 0.2, "test": 0.2}
    split_freeze(split=again)
    with pytest.raises(SplitRefused, match="split v1 of dataset usv-sample is frozen and never changes"):
        split_make(dataset=dataset, name="v1", ratios="0.8,0.1,0.1", replace=True)
    with pytest.raises(SplitRefused, match="split v1 of dataset usv-sample is already frozen"):
        split_freeze(split=again)
    assert SplitMember.objects.filter(split=again).count() == Video.objects.count()


def test_the_database_refuses_to_change_a_frozen_split(dataset):
    videos = populate(dataset)
    split = split_make(dataset=dataset, name="v1", ratios="0.8,0.1,0.1", freeze=True)
    member = SplitMember.objects.filter(split=split, subset="train").first()
    with pytest.raises(IntegrityError, match="split .* is frozen: its members cannot change"):
        with transaction.atomic():
            SplitMember.objects.filter(id=member.id).update(subset="test")
    with pytest.raises(IntegrityError, match="is frozen"):
        with transaction.atomic():
            SplitMember.objects.create(split=split, video=videos[0], subset="val")
    with pytest.raises(IntegrityError, match=r"split \d+ \(v1\) is frozen: it cannot change"):
        with transaction.atomic():
            Split.objects.filter(id=split.id).update(ratios={"train": 1})
    assert SplitMember.objects.get(id=member.id).subset == "train"


def test_diff_counts_videos_moved_between_two_versions(dataset):
    populate(dataset)
    split_make(dataset=dataset, name="v1", ratios="0.8,0.1,0.1", seed=0)
    Video.objects.create(
        dataset=dataset, external_id="new", source="https://videos.example.com/new.mp4", source_kind="url",
        weak_topic=Topic.objects.get(dataset=dataset, name="meme"),
    )  # fmt: skip
    split_make(dataset=dataset, name="v2", ratios="0.8,0.1,0.1", seed=1)
    out = StringIO()
    call_command("diff_splits", "v1", "v2", dataset=dataset.slug, stdout=out)
    text = out.getvalue()
    assert "v1 → v2" in text and "unchanged: " in text and "moved train → " in text
    assert "added to " in text  # the new video
    with pytest.raises(CommandError, match="dataset usv-sample has no split named 'v9' \\(splits: "):
        call_command("diff_splits", "v1", "v9", dataset=dataset.slug)


def test_staff_make_freeze_and_compare_splits_over_the_api_and_crowdworkers_cannot(
    client, dataset, curator, worker1
):
    populate(dataset)
    client.force_login(worker1)
    assert client.get(f"/api/v1/datasets/{dataset.slug}/splits/").status_code == 403
    assert client.post(f"/api/v1/datasets/{dataset.slug}/splits/", {"name": "v1"}).status_code == 403
    client.force_login(curator)
    made = client.post(
        f"/api/v1/datasets/{dataset.slug}/splits/", {"name": "v1", "ratios": "0.8,0.1,0.1"},
        content_type="application/json",
    )  # fmt: skip
    assert made.status_code == 201, made.content
    assert made.json()["frozen"] is False and set(made.json()["sizes"]) == {"train", "val", "test"}
    bad = client.post(
        f"/api/v1/datasets/{dataset.slug}/splits/", {"name": "v2", "ratios": "0.5,0.1,0.1"},
        content_type="application/json",
    )  # fmt: skip
    assert bad.status_code == 400 and "ratios must sum to 1" in bad.json()["detail"]
    frozen = client.post(f"/api/v1/datasets/{dataset.slug}/splits/v1/freeze/")
    assert frozen.status_code == 200 and frozen.json()["frozen"] is True
    assert client.post(f"/api/v1/datasets/{dataset.slug}/splits/v1/freeze/").status_code == 400
    client.post(
        f"/api/v1/datasets/{dataset.slug}/splits/", {"name": "v2", "seed": 5}, content_type="application/json"
    )
    diff = client.get(f"/api/v1/datasets/{dataset.slug}/splits/v1/diff/v2/").json()
    assert diff["unchanged"] + sum(m["count"] for m in diff["moved"]) == Video.objects.count()
    assert client.get(f"/api/v1/datasets/{dataset.slug}/splits/v9/").status_code == 404


def test_staff_make_a_split_from_the_admin(client, dataset, curator):
    populate(dataset)
    client.force_login(curator)
    page = client.get("/admin/curation/split/add/", follow=True)
    assert b"Make a split version" in page.content
    bad = client.post(
        "/admin/curation/split/make/", {"dataset": dataset.id, "name": "v1", "ratios": "0.7,0.1", "seed": 0}
    )
    assert b"ratios must sum to 1" in bad.content and not Split.objects.exists()
    made = client.post(
        "/admin/curation/split/make/",
        {"dataset": dataset.id, "name": "v1", "ratios": "0.8,0.1,0.1", "seed": 0, "freeze": "on"},
    )
    assert made.status_code == 302
    assert Split.objects.get(name="v1").is_frozen
