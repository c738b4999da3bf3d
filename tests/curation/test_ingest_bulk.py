"""Bulk ingest on PostgreSQL: the writer thread, and foreign keys checked per batch."""

import os

import pytest
from django.db import connection

from curation.errors import ManifestError
from curation.models import IngestRun, Publisher, Topic, Video
from curation.services.datasets import dataset_create
from curation.services.ingest import run as ingest
from curation.services.ingest import video_ingest
from curation.services.ingest.rows import RowReader
from curation.sql import ingest as sql_ingest
from curation.sql.ingest import DirectStore, may_skip_triggers


def url_rows(count: int, *, start: int = 0) -> list[dict]:
    return [
        {
            "id": f"v{i}",
            "video": f"https://cdn.example.com/clips/{i}.mp4",
            "title": f"clip {i}",
            "topic": "pet dog" if i % 2 else "pet cat",
            "publisher": f"user{i % 7}",
            "followers": i,
            "clicks": i * 10,
            "thumbnail": f"https://cdn.example.com/thumbs/{i}.jpg",
            "lang": "en",
        }
        for i in range(start, start + count)
    ]


@pytest.mark.django_db(transaction=True)
def test_a_large_manifest_is_written_on_a_second_thread_and_stored_whole(write_manifest):
    dataset = dataset_create(slug="bulk", name="Bulk", taxonomy="usv")
    tricky = {
        "id": "t\\1",
        "video": "https://cdn.example.com/t.mp4",
        "title": "tab\there\nnew \\N \\. é",
        "x": "a\\b",
    }
    manifest = write_manifest(
        [*url_rows(12_000), {"id": "v5", "video": "https://cdn.example.com/again.mp4"}, tricky]
    )

    summary = video_ingest(dataset=dataset, path=manifest, pipeline="none")

    assert (summary.created, summary.unchanged, summary.rejected) == (12_001, 0, 1)
    assert str(summary.errors[0]) == "row 12001 (v5), field id: duplicate id 'v5' in this manifest"
    video = Video.objects.select_related("weak_topic", "publisher").get(external_id="v11999")
    assert (video.weak_topic.name, video.publisher.external_id, video.clicks) == ("pet dog", "user1", 119_990)
    assert video.metadata == {"lang": "en"}
    odd = Video.objects.get(external_id="t\\1")  # COPY's escapes round-trip
    assert (odd.title, odd.metadata) == ("tab\there\nnew \\N \\. é", {"x": "a\\b"})
    assert Publisher.objects.filter(dataset=dataset).count() == 7
    assert Publisher.objects.get(dataset=dataset, external_id="user0").followers == 4998  # largest of batch 1
    assert IngestRun.objects.get(id=summary.run_id).status == IngestRun.Status.DONE
    again = video_ingest(dataset=dataset, path=manifest, pipeline="none")
    # On a re-run the repeated id names another URL than the one the first run stored for it.
    assert (again.created, again.unchanged, again.rejected) == (0, 12_001, 1)
    assert again.errors[0].reason == (
        "id 'v5' is already stored for 'https://cdn.example.com/clips/5.mp4', not this URL"
    )


@pytest.mark.django_db(transaction=True)
def test_a_crash_on_the_writer_thread_fails_the_run_and_a_rerun_completes(write_manifest, monkeypatch):
    dataset = dataset_create(slug="bulk-crash", name="Bulk crash", taxonomy="usv")
    manifest = write_manifest(url_rows(3_000))
    original = ingest._BatchWriter.write
    calls = {"n": 0}

    def crash_on_second_batch(self, drafts):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("disk full")
        return original(self, drafts)

    monkeypatch.setattr(ingest._BatchWriter, "write", crash_on_second_batch)
    with pytest.raises(RuntimeError, match="disk full"):
        video_ingest(dataset=dataset, path=manifest, pipeline="none", batch_size=1_000)
    run = IngestRun.objects.get(dataset=dataset)
    assert (run.status, run.error) == (IngestRun.Status.FAILED, "interrupted: RuntimeError('disk full')")
    assert Video.objects.filter(dataset=dataset).count() == 1_000  # batch 1 whole, nothing of batch 2

    monkeypatch.setattr(ingest._BatchWriter, "write", original)
    summary = video_ingest(dataset=dataset, path=manifest, pipeline="none", batch_size=1_000)
    assert (summary.created, summary.unchanged) == (2_000, 1_000)


@pytest.mark.django_db(transaction=True)
def test_rows_are_read_in_a_second_process_that_reports_progress_and_row_errors(
    write_manifest, monkeypatch, tmp_path
):
    dataset = dataset_create(slug="bulk-child", name="Bulk child", taxonomy="usv")
    rows = url_rows(2_500)
    rows[1_200]["video"] = "file:///etc/passwd"
    manifest = write_manifest(rows)
    readers = tmp_path / "readers"
    original = RowReader.read

    def read_and_note_pid(self, number, record):
        with open(readers, "a") as out:
            out.write(f"{os.getpid()}\n")
        return original(self, number, record)

    monkeypatch.setattr(RowReader, "read", read_and_note_pid)
    progress, errors = [], []
    summary = video_ingest(
        dataset=dataset, path=manifest, pipeline="none", batch_size=1_000,
        progress=progress.append, on_error=errors.append, parse_in_child=True,
    )  # fmt: skip

    assert set(readers.read_text().split()) - {str(os.getpid())}  # read by another process
    assert str(os.getpid()) not in readers.read_text().split()
    assert (summary.rows_read, summary.created, summary.rejected) == (2_500, 2_499, 1)
    assert [(e.row, e.field) for e in errors] == [(1_201, "video")] and "file://" in errors[0].reason
    assert sum(progress) == manifest.stat().st_size
    assert Video.objects.filter(dataset=dataset).count() == 2_499


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("how", ["raises", "dies"])
def test_a_parsing_process_that_fails_fails_the_run_and_a_rerun_completes(write_manifest, monkeypatch, how):
    dataset = dataset_create(slug=f"bulk-child-{how}", name="Bulk child failure", taxonomy="usv")
    manifest = write_manifest(url_rows(3_000))
    original = RowReader.read

    def fail_at_row_1500(self, number, record):
        if number == 1_500:
            if how == "dies":
                os._exit(3)
            raise RuntimeError("cannot read")
        return original(self, number, record)

    monkeypatch.setattr(RowReader, "read", fail_at_row_1500)
    message = "ended unexpectedly" if how == "dies" else "RuntimeError\\('cannot read'\\)"
    with pytest.raises(ManifestError, match=message):
        video_ingest(dataset=dataset, path=manifest, pipeline="none", batch_size=1_000, parse_in_child=True)
    run = IngestRun.objects.get(dataset=dataset)
    assert run.status == IngestRun.Status.FAILED
    assert Video.objects.filter(dataset=dataset).count() == 1_000  # the whole first batch, no part of one

    monkeypatch.setattr(RowReader, "read", original)
    summary = video_ingest(
        dataset=dataset, path=manifest, pipeline="none", batch_size=1_000, parse_in_child=True
    )
    assert (summary.created, summary.unchanged) == (2_000, 1_000)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("in_child", [False, True])
def test_rows_rejected_before_a_failure_midway_are_still_reported(write_manifest, monkeypatch, in_child):
    dataset = dataset_create(slug=f"bulk-midway-{int(in_child)}", name="Bulk midway", taxonomy="usv")
    rows = url_rows(1_500)
    rows[1_100]["video"] = "file:///etc/passwd"
    manifest = write_manifest(rows)
    original = RowReader.read

    def fail_at_row_1200(self, number, record):
        if number == 1_200:
            raise RuntimeError("cannot read")
        return original(self, number, record)

    monkeypatch.setattr(RowReader, "read", fail_at_row_1200)
    errors = []
    with pytest.raises((RuntimeError, ManifestError), match="cannot read"):
        video_ingest(
            dataset=dataset, path=manifest, pipeline="none", batch_size=1_000,
            on_error=errors.append, parse_in_child=in_child,
        )  # fmt: skip
    assert [(e.row, e.field) for e in errors] == [(1_101, "video")]
    run = IngestRun.objects.get(dataset=dataset)
    assert (run.status, run.rows_read, run.rejected) == (IngestRun.Status.FAILED, 1_200, 1)
    assert Video.objects.filter(dataset=dataset).count() == 1_000  # the unfinished batch is not stored


@pytest.mark.django_db
def test_the_foreign_key_triggers_are_skipped_only_by_a_role_that_may(dataset, write_manifest):
    with connection.cursor() as cursor:
        assert may_skip_triggers(cursor)  # the test database's owner is a superuser
        cursor.execute("CREATE ROLE microcurate_plain NOSUPERUSER")
        cursor.execute("GRANT ALL ON ALL TABLES IN SCHEMA public TO microcurate_plain")
        cursor.execute("GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO microcurate_plain")
        cursor.execute(
            "GRANT CREATE, TEMPORARY ON DATABASE "
            + connection.settings_dict["NAME"]
            + " TO microcurate_plain"
        )
        cursor.execute("SET LOCAL ROLE microcurate_plain")  # rolled back with the test
        assert not may_skip_triggers(cursor)

    summary = video_ingest(dataset=dataset, path=write_manifest(url_rows(50)), pipeline="none")

    assert summary.created == 50
    assert Video.objects.filter(dataset=dataset, publisher__external_id="user3").count() == 7


@pytest.mark.django_db
def test_a_topic_deleted_while_its_batch_is_written_fails_the_batch_not_the_data(
    dataset, write_manifest, monkeypatch
):
    original = ingest._BatchWriter.write

    def delete_cats_first(self, drafts):
        Topic.objects.filter(dataset=dataset, name="pet cat").delete()
        return original(self, drafts)

    monkeypatch.setattr(ingest._BatchWriter, "write", delete_cats_first)
    with pytest.raises(ManifestError, match="a topic of this batch was deleted during the ingest"):
        video_ingest(dataset=dataset, path=write_manifest(url_rows(10)), pipeline="none")
    assert not Video.objects.filter(dataset=dataset).exists()


@pytest.mark.django_db
def test_rows_stored_by_another_ingest_after_the_lookup_fall_back_to_the_staging_path(
    dataset, write_manifest, monkeypatch
):
    manifest = write_manifest(url_rows(20))
    video_ingest(dataset=dataset, path=write_manifest(url_rows(5, start=15), "first.jsonl"), pipeline="none")
    # As if another ingest stored v15..v19 between this batch's look-up and its COPY.
    monkeypatch.setattr(DirectStore, "_known", lambda self, cursor, drafts: {})

    summary = video_ingest(dataset=dataset, path=manifest, pipeline="none")

    assert (summary.created, summary.unchanged, summary.rejected) == (15, 5, 0)
    assert Video.objects.filter(dataset=dataset).count() == 20


@pytest.mark.django_db(transaction=True)
def test_a_first_ingest_copies_without_looking_up_stored_rows_and_a_rerun_looks_them_up(
    write_manifest, monkeypatch
):
    dataset = dataset_create(slug="bulk-lookup", name="Bulk look-up", taxonomy="usv")
    manifest = write_manifest(url_rows(30))
    original, lookups = DirectStore._known, []

    def counted(self, cursor, drafts):
        lookups.append(len(drafts))
        return original(self, cursor, drafts)

    monkeypatch.setattr(DirectStore, "_known", counted)

    first = video_ingest(dataset=dataset, path=manifest, pipeline="none", batch_size=10)
    assert (first.created, lookups) == (30, [])
    again = video_ingest(dataset=dataset, path=manifest, pipeline="none", batch_size=10)
    assert (again.created, again.unchanged, lookups) == (0, 30, [10, 10, 10])


@pytest.mark.django_db(transaction=True)
def test_a_batch_refused_for_a_stored_row_leaves_no_publisher_of_that_row_behind(write_manifest):
    dataset = dataset_create(slug="bulk-refused", name="Bulk refused", taxonomy="usv")
    first = [{"id": "a", "video": "https://cdn.example.com/a.mp4", "publisher": "p1"}]
    video_ingest(dataset=dataset, path=write_manifest(first, "first.jsonl"), pipeline="none")
    rows = [
        {"id": "a", "video": "https://cdn.example.com/a.mp4", "publisher": "p2"},  # stored: unchanged
        {"id": "b", "video": "https://cdn.example.com/b.mp4", "publisher": "p3"},
        {"id": "c", "video": "https://cdn.example.com/c.mp4", "publisher": "p2"},  # next batch
    ]

    summary = video_ingest(dataset=dataset, path=write_manifest(rows), pipeline="none", batch_size=2)

    assert (summary.created, summary.unchanged, summary.rejected) == (2, 1, 0)
    publishers = dict(
        Video.objects.filter(dataset=dataset).values_list("external_id", "publisher__external_id")
    )
    assert publishers == {"a": "p1", "b": "p3", "c": "p2"}
    assert sorted(Publisher.objects.filter(dataset=dataset).values_list("external_id", flat=True)) == [
        "p1", "p2", "p3",
    ]  # fmt: skip


@pytest.mark.django_db(transaction=True)
def test_a_full_publisher_cache_is_refilled_with_every_publisher_of_the_batch(write_manifest, monkeypatch):
    dataset = dataset_create(slug="bulk-cache", name="Bulk cache", taxonomy="usv")
    monkeypatch.setattr(sql_ingest, "PUBLISHER_CACHE_LIMIT", 2)
    rows = [
        {"id": item, "video": f"https://cdn.example.com/{item}.mp4", "publisher": publisher}
        for item, publisher in (("a", "p1"), ("b", "p2"), ("c", "p1"), ("d", "p3"))
    ]

    summary = video_ingest(dataset=dataset, path=write_manifest(rows), pipeline="none", batch_size=2)

    assert summary.created == 4
    publishers = dict(
        Video.objects.filter(dataset=dataset).values_list("external_id", "publisher__external_id")
    )
    assert publishers == {"a": "p1", "b": "p2", "c": "p1", "d": "p3"}
