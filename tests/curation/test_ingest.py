"""Ingest: good rows stored once, bad rows reported with row, field and reason."""

import os

import pytest

from curation.errors import ManifestError
from curation.models import IngestRun, Publisher, StageStatus, Topic, Video
from curation.services.ingest import video_ingest

pytestmark = pytest.mark.django_db


def reasons(summary) -> dict[int, str]:
    return {e.row: f"{e.field}: {e.reason}" for e in summary.errors}


def test_it_stores_every_manifest_field_and_keeps_unknown_ones_as_metadata(
    dataset, make_clip, write_manifest
):
    clip = make_clip("clips/a.mp4", seconds=2)
    manifest = write_manifest(
        [{"video": "clips/a.mp4", "id": "v1", "title": "A parrot", "topic": "pet bird",
          "publisher": "u42", "followers": 1500, "clicks": "73", "thumbnail": "thumbs/v1.jpg",
          "hashtags": ["#bird"], "lang": "en"}]
    )  # fmt: skip

    summary = video_ingest(dataset=dataset, path=manifest, pipeline="none")

    assert (summary.created, summary.rejected) == (1, 0)
    video = Video.objects.select_related("weak_topic", "publisher").get(external_id="v1")
    assert video.local_path == str(clip) and video.source == "clips/a.mp4"
    assert video.title == "A parrot" and video.clicks == 73
    assert (video.weak_topic.name, video.weak_topic.macro_topic) == ("pet bird", "pet")
    assert (video.publisher.external_id, video.publisher.followers) == ("u42", 1500)
    assert video.metadata == {"hashtags": ["#bird"], "lang": "en"}
    assert video.probe_status == StageStatus.PENDING


def test_running_the_same_manifest_twice_adds_nothing(dataset, make_clip, write_manifest):
    make_clip("a.mp4", seconds=1)
    make_clip("b.mp4", seconds=2)
    manifest = write_manifest([{"video": "a.mp4", "id": "a"}, {"video": "b.mp4", "id": "b"}])

    first = video_ingest(dataset=dataset, path=manifest, pipeline="none")
    second = video_ingest(dataset=dataset, path=manifest, pipeline="none")

    assert (first.created, second.created, second.unchanged, second.rejected) == (2, 0, 2, 0)
    assert Video.objects.count() == 2


def test_a_rerun_after_a_crash_mid_ingest_completes_without_duplicates(
    dataset, make_clip, write_manifest, monkeypatch
):
    rows = []
    for i in range(7):
        make_clip(f"c{i}.mp4", seconds=1 + i * 0.25)
        rows.append({"video": f"c{i}.mp4", "id": f"c{i}"})
    manifest = write_manifest(rows)
    from curation.services.ingest import run as ingest

    original = ingest._BatchWriter.write
    calls = {"n": 0}

    def crash_on_third_batch(self, drafts):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt("power cut")
        return original(self, drafts)

    monkeypatch.setattr(ingest._BatchWriter, "write", crash_on_third_batch)
    with pytest.raises(KeyboardInterrupt):
        video_ingest(dataset=dataset, path=manifest, pipeline="none", batch_size=2)
    assert Video.objects.count() == 4  # two whole batches, nothing of the third
    assert IngestRun.objects.get().status == IngestRun.Status.FAILED

    monkeypatch.setattr(ingest._BatchWriter, "write", original)
    summary = video_ingest(dataset=dataset, path=manifest, pipeline="none", batch_size=2)

    assert (summary.created, summary.unchanged, summary.rejected) == (3, 4, 0)
    assert sorted(Video.objects.values_list("external_id", flat=True)) == [f"c{i}" for i in range(7)]


def test_paths_outside_the_media_roots_are_rejected(dataset, media_dir, tmp_path, write_manifest):
    outside = tmp_path / "outside.mp4"
    outside.write_bytes(b"\x00" * 100)
    os.symlink(outside, media_dir / "link-out.mp4")
    os.symlink("/etc/passwd", media_dir / "passwd.mp4")
    manifest = write_manifest(
        [
            {"video": "../../etc/passwd", "id": "traversal"},
            {"video": "link-out.mp4", "id": "symlink"},
            {"video": "passwd.mp4", "id": "symlink2"},
            {"video": "/etc/hostname", "id": "absolute"},
            {"video": "missing.mp4", "id": "missing"},
            {"video": "", "id": "empty"},
            {"id": "no-video"},
        ]
    )

    summary = video_ingest(dataset=dataset, path=manifest, pipeline="none")

    got = reasons(summary)
    assert summary.created == 0 and summary.rejected == 7
    assert got[1].startswith("video: '../../etc/passwd' resolves to ")
    assert got[1].endswith("outside the allowed media roots (MEDIA_ROOT and MICROCURATE_MEDIA_ROOTS)")
    assert "outside the allowed media roots" in got[2] and got[2].startswith("video: 'link-out.mp4'")
    assert "outside the allowed media roots" in got[3]
    assert "outside the allowed media roots" in got[4]
    assert got[5] == "video: 'missing.mp4': no such file"
    assert got[6].startswith("video: missing") and got[7].startswith("video: missing")
    assert Video.objects.count() == 0


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("file:///etc/passwd", "file:// URLs are not accepted"),
        ("ftp://example.com/a.mp4", "the scheme 'ftp' is not allowed"),
        ("gopher://example.com/", "the scheme 'gopher' is not allowed"),
        ("http://127.0.0.1/a.mp4", "loopback, private or link-local address (127.0.0.1)"),
        ("http://localhost:8000/a.mp4", "points at this machine (localhost)"),
        ("http://[::1]/a.mp4", "loopback, private or link-local address (::1)"),
        ("http://2130706433/a.mp4", "loopback, private or link-local address (127.0.0.1)"),
        ("http://0x7f.1/a.mp4", "loopback, private or link-local address (127.0.0.1)"),
        ("http://10.1.2.3/a.mp4", "(10.1.2.3)"),
        ("http://192.168.0.7/a.mp4", "(192.168.0.7)"),
        ("https://172.16.5.4/a.mp4", "(172.16.5.4)"),
        ("http://169.254.169.254/latest/meta-data/", "(169.254.169.254)"),
        ("http://[::ffff:10.0.0.1]/a.mp4", "(::ffff:a00:1)"),
        ("http:///a.mp4", "has no host"),
    ],
)
def test_urls_that_may_not_be_fetched_are_rejected(url, reason, dataset, write_manifest):
    summary = video_ingest(dataset=dataset, path=write_manifest([{"video": url, "id": "x"}]), pipeline="none")
    assert summary.rejected == 1 and Video.objects.count() == 0
    assert reason in summary.errors[0].reason, summary.errors[0].reason


def test_a_public_url_is_accepted_and_fetched_later(dataset, write_manifest):
    manifest = write_manifest([{"video": "https://videos.example.com/v/1.mp4?sig=abc", "id": "u1"}])
    summary = video_ingest(dataset=dataset, path=manifest, pipeline="none")
    video = Video.objects.get()
    assert summary.created == 1
    assert (video.source_kind, video.sha256, video.local_path) == ("url", None, "")


def test_duplicate_ids_and_duplicate_contents_are_reported_not_stored_twice(
    dataset, make_clip, write_manifest
):
    make_clip("a.mp4", seconds=1)
    make_clip("copy-of-a.mp4", seconds=1)  # same parameters: byte-identical
    make_clip("b.mp4", seconds=2)
    manifest = write_manifest(
        [
            {"video": "a.mp4", "id": "a"},
            {"video": "b.mp4", "id": "a"},
            {"video": "copy-of-a.mp4", "id": "c"},
        ]
    )

    summary = video_ingest(dataset=dataset, path=manifest, pipeline="none")

    got = reasons(summary)
    assert summary.created == 1
    assert got[2] == "id: duplicate id 'a' in this manifest (first at row 1)"
    assert got[3] == "video: same file contents as video 'a' in this dataset"
    again = video_ingest(
        dataset=dataset,
        path=write_manifest([{"video": "copy-of-a.mp4", "id": "d"}], "two.jsonl"),
        pipeline="none",
    )
    assert reasons(again)[1] == "video: same file contents as video 'a' in this dataset"
    assert Video.objects.count() == 1


def test_duplicate_ids_across_batches_are_caught(dataset, make_clip, write_manifest):
    make_clip("a.mp4", seconds=1)
    make_clip("b.mp4", seconds=2)
    manifest = write_manifest([{"video": "a.mp4", "id": "x"}, {"video": "b.mp4", "id": "x"}])
    summary = video_ingest(dataset=dataset, path=manifest, pipeline="none", batch_size=1)
    assert summary.created == 1
    assert reasons(summary)[2] == "id: duplicate id 'x' in this manifest"


def test_malformed_lines_bad_bytes_and_huge_titles_are_row_errors(dataset, make_clip, write_manifest):
    make_clip("good.mp4", seconds=1)
    make_clip("good2.mp4", seconds=2)
    manifest = write_manifest(
        b'{"video": "good.mp4", "id": "ok"}\n'
        b'{"video": "good2.mp4", "id": \n'
        b'{"video": "good2.mp4", "id": "bad-bytes", "title": "caf\xe9"}\n'
        b'["not", "an", "object"]\n'
        + ('{"video": "good2.mp4", "id": "long", "title": "' + "x" * 100_000 + '"}\n').encode()
        + b'{"video": "good2.mp4", "id": "neg", "clicks": -3}\n'
        + b'{"video": "good2.mp4", "id": "nan", "followers": "many", "publisher": "p"}\n'
        + b"\n"
        + b'{"video": "good2.mp4", "id": "ok2", "title": "\xe2\x9c\x93 fine"}\n'
    )

    summary = video_ingest(dataset=dataset, path=manifest, pipeline="none")

    got = reasons(summary)
    assert got[2].startswith("-: malformed JSON")
    assert got[3] == "-: not valid UTF-8 (byte 0xe9 at position 55)"
    assert got[4] == "-: expected a JSON object, got list"
    assert got[5] == "title: 100000 characters long; the limit is 1000"
    assert got[6] == "clicks: must not be negative, got -3"
    assert got[7] == "followers: expected a whole number, got 'many'"
    assert sorted(Video.objects.values_list("external_id", flat=True)) == ["ok", "ok2"]
    assert Video.objects.get(external_id="ok2").title == "\u2713 fine"


def test_a_csv_manifest_with_the_wrong_header_is_refused_before_anything_is_stored(dataset, write_manifest):
    manifest = write_manifest("path,name\na.mp4,x\n", "wrong.csv")
    with pytest.raises(
        ManifestError, match=r"wrong CSV header \['path', 'name'\]: it needs a 'video' column"
    ):
        video_ingest(dataset=dataset, path=manifest, pipeline="none")
    assert Video.objects.count() == 0 and IngestRun.objects.count() == 0


def test_a_csv_manifest_with_quoted_fields_and_bad_rows(dataset, make_clip, write_manifest):
    make_clip("a.mp4", seconds=1)
    make_clip("b.mp4", seconds=2)
    manifest = write_manifest(
        b"video,id,title,topic,clicks\n"
        b'a.mp4,a,"Hello, ""world""\nsecond line",pet cat,5\n'
        b"b.mp4,b,caf\xe9,pet dog,1\n"
        b"b.mp4,c,too,many,fields,here\n"
        b"b.mp4,d,fine,PET DOG,\n",
        "m.csv",
    )

    summary = video_ingest(dataset=dataset, path=manifest, pipeline="none")

    got = reasons(summary)
    assert got == {4: "-: not valid UTF-8 (byte 0xe9 at column 12)", 5: "-: 6 fields where the header has 5"}
    a = Video.objects.get(external_id="a")
    assert a.title == 'Hello, "world"\nsecond line' and a.clicks == 5 and a.weak_topic.name == "pet cat"
    assert Video.objects.get(external_id="d").weak_topic.name == "pet dog"


def test_an_unknown_topic_is_rejected_unless_the_dataset_allows_open_world_topics(
    dataset, open_dataset, make_clip, write_manifest
):
    make_clip("a.mp4", seconds=1)
    manifest = write_manifest([{"video": "a.mp4", "id": "a", "topic": "#catsofinstagram"}])

    closed = video_ingest(dataset=dataset, path=manifest, pipeline="none")
    opened = video_ingest(dataset=open_dataset, path=manifest, pipeline="none")

    assert closed.errors[0].field == "topic"
    assert closed.errors[0].reason == (
        "unknown topic '#catsofinstagram' (the dataset does not allow open-world topics)"
    )
    assert opened.created == 1
    topic = Topic.objects.get(dataset=open_dataset)
    assert topic.name == "#catsofinstagram"
    assert Video.objects.get(dataset=open_dataset).weak_topic == topic


def test_a_folder_of_videos_uses_sub_folders_as_topics(dataset, make_clip, media_dir):
    make_clip("kinetics/pet cat/x1.mp4", seconds=1)
    make_clip("kinetics/pet cat/x2.mp4", seconds=2)
    make_clip("kinetics/yoga/y1.mp4", seconds=3)
    (media_dir / "kinetics" / "yoga" / "notes.txt").write_text("not a video")

    summary = video_ingest(dataset=dataset, path=media_dir / "kinetics", pipeline="none")

    assert (summary.created, summary.rejected) == (3, 0)
    assert dict(Video.objects.values_list("external_id", "weak_topic__name")) == {
        "pet cat/x1": "pet cat",
        "pet cat/x2": "pet cat",
        "yoga/y1": "yoga",
    }


def test_publishers_are_shared_between_videos(dataset, make_clip, write_manifest):
    make_clip("a.mp4", seconds=1)
    make_clip("b.mp4", seconds=2)
    manifest = write_manifest(
        [
            {"video": "a.mp4", "id": "a", "publisher": "p1"},
            {"video": "b.mp4", "id": "b", "publisher": "p1", "followers": 9},
        ]
    )
    video_ingest(dataset=dataset, path=manifest, pipeline="none")
    assert Publisher.objects.count() == 1 and Publisher.objects.get().followers == 9


def test_a_missing_manifest_or_unknown_type_is_a_clear_error(dataset, media_dir):
    with pytest.raises(ManifestError, match="does not exist"):
        video_ingest(dataset=dataset, path=media_dir / "nope.jsonl", pipeline="none")
    (media_dir / "m.xml").write_text("<x/>")
    with pytest.raises(ManifestError, match=r"unknown manifest type '.xml'"):
        video_ingest(dataset=dataset, path=media_dir / "m.xml", pipeline="none")


def test_the_ingest_run_records_what_happened(dataset, make_clip, write_manifest):
    make_clip("a.mp4", seconds=1)
    manifest = write_manifest([{"video": "a.mp4", "id": "a"}, {"video": "nope.mp4", "id": "b"}])
    summary = video_ingest(dataset=dataset, path=manifest, pipeline="none")
    run = IngestRun.objects.get(id=summary.run_id)
    assert (run.status, run.rows_read, run.created, run.rejected) == ("done", 2, 1, 1)
    assert run.errors == [{"row": 2, "field": "video", "reason": "'nope.mp4': no such file", "item": "b"}]


def test_the_ingest_command_fails_when_rows_are_rejected_and_keeps_the_good_ones(
    dataset, make_clip, write_manifest
):
    from django.core.management import CommandError, call_command

    make_clip("a.mp4", seconds=1)
    manifest = write_manifest([{"video": "a.mp4", "id": "a"}, {"video": "missing.mp4", "id": "b"}])

    with pytest.raises(
        CommandError, match=r"1 of 2 rows rejected \(listed above\); the other rows were stored"
    ):
        call_command(
            "ingest", "--dataset", dataset.slug, str(manifest), "--pipeline", "none", "--no-progress"
        )
    assert list(Video.objects.values_list("external_id", flat=True)) == ["a"]

    all_bad = write_manifest([{"video": "missing.mp4", "id": "c"}], name="bad.jsonl")
    with pytest.raises(CommandError, match="1 of 1 rows rejected .*nothing was stored"):
        call_command("ingest", "--dataset", dataset.slug, str(all_bad), "--pipeline", "none", "--no-progress")


def test_an_id_already_stored_for_another_file_is_reported_not_counted_as_present(
    dataset, make_clip, write_manifest
):
    make_clip("a.mp4", seconds=1)
    make_clip("b.mp4", seconds=2)
    video_ingest(dataset=dataset, path=write_manifest([{"video": "a.mp4", "id": "x"}]), pipeline="none")

    again = video_ingest(
        dataset=dataset,
        path=write_manifest([{"video": "a.mp4", "id": "x"}, {"video": "b.mp4", "id": "x2"}], name="2.jsonl"),
        pipeline="none",
    )
    reused_manifest = write_manifest([{"video": "b.mp4", "id": "x"}], name="3.jsonl")
    reused = video_ingest(dataset=dataset, path=reused_manifest, pipeline="none")

    assert (again.unchanged, again.created, again.rejected) == (1, 1, 0)
    assert (reused.unchanged, reused.created, reused.rejected) == (0, 0, 1)
    assert reasons(reused)[1].startswith("video: id 'x' is already stored for another file (sha256 ")
    assert Video.objects.get(external_id="x").local_path.endswith("a.mp4")  # nothing overwritten


def test_an_unknown_topic_names_the_nearest_topics_and_synonyms(dataset, make_clip, write_manifest):
    make_clip("a.mp4", seconds=1)
    Topic.objects.filter(dataset=dataset, name="pet cat").update(synonyms=["kitten"])
    manifest = write_manifest([{"video": "a.mp4", "id": "a", "topic": "pet cats"},
                               {"video": "a.mp4", "id": "b", "topic": "kittens"}])  # fmt: skip

    got = reasons(video_ingest(dataset=dataset, path=manifest, pipeline="none"))

    assert got[1].startswith("topic: unknown topic 'pet cats'; did you mean 'pet cat'")
    assert "'kitten' (synonym of 'pet cat')" in got[2]


def test_a_byte_order_mark_is_read_and_malformed_json_says_where(dataset, make_clip, write_manifest):
    make_clip("a.mp4", seconds=1)
    manifest = write_manifest(
        b'\xef\xbb\xbf{"video": "a.mp4", "id": "a"}\n{"video": "a.mp4", "id": "b" "title": "x"}\n'
    )

    summary = video_ingest(dataset=dataset, path=manifest, pipeline="none")

    assert summary.created == 1
    assert reasons(summary)[2] == (
        "-: malformed JSON: Expecting ',' delimiter at character 30 of the line, "
        """after '"a.mp4", "id": "b" '"""
    )


def test_a_malformed_csv_manifest_reports_each_bad_line_and_keeps_the_rest(
    dataset, make_clip, write_manifest
):
    make_clip("a.mp4", seconds=1)
    make_clip("e.mp4", seconds=2)
    manifest = write_manifest(
        b"video,id,title\r"  # bare CR line endings (old Mac, some spreadsheet exports)
        b"a.mp4,a,fine\r"
        b"a.mp4,b," + b"x" * 140_000 + b"\r"
        b"a.mp4,c,nul\x00here\r"
        b'a.mp4,d,"bad"quote\r'
        b"e.mp4,e,also fine\r",
        "odd.csv",
    )

    summary = video_ingest(dataset=dataset, path=manifest, pipeline="none")

    got = reasons(summary)
    assert got[3].startswith("-: a field longer than 131072 characters")
    assert got[4].startswith("-: a NUL byte at column")
    assert got[5].startswith("-: not readable as CSV")
    assert sorted(Video.objects.values_list("external_id", flat=True)) == ["a", "e"]


def test_a_csv_manifest_whose_quote_never_closes_is_refused_with_its_line(dataset, make_clip, write_manifest):
    make_clip("a.mp4", seconds=1)
    manifest = write_manifest(b'video,id,title\na.mp4,a,"never closed\na.mp4,b,x\n', "open.csv")

    with pytest.raises(ManifestError, match="open.csv: line 2: a quote opened on this line is never closed"):
        video_ingest(dataset=dataset, path=manifest, pipeline="none")
    assert not Video.objects.exists()
