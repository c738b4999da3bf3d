"""Export jobs: what may be exported, one job per version at a time, and no half export ever offered."""

import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from curation.models import ExportJob, Split, SplitMember, Video
from curation.services.exports import STALE_AFTER, ExportError, export_request, export_run, exports_root
from curation.services.exports import writers as exports_writers
from tests.curation.export_fixtures import export, make_split, release_fixture, var_dir_fixture  # noqa: F401

pytestmark = pytest.mark.django_db


def nothing_written() -> bool:
    return not exports_root().exists() or not any(exports_root().rglob("*"))


def test_it_refuses_a_split_that_is_not_frozen_and_says_how_to_freeze_it(release):
    members = [(v, "train" if v.id % 2 else "val", False) for v in Video.objects.all()]
    make_split(release, "draft", members, frozen=False)

    with pytest.raises(ExportError, match="split draft of dataset usv-sample is not frozen.*--freeze"):
        export_request(dataset=release, split="draft", format="jsonl", enqueue=False)
    assert not ExportJob.objects.exists() and nothing_written()


def test_it_refuses_a_split_that_does_not_exist_and_names_those_that_do(release):
    with pytest.raises(ExportError, match=r"dataset usv-sample has no split named 'v9' \(splits: v1\)"):
        export_request(dataset=release, split="v9", format="csv", enqueue=False)
    assert not ExportJob.objects.exists()


def test_it_refuses_a_split_with_an_empty_subset_and_names_it(release):
    members = [(v, "train" if v.id % 2 else "val", False) for v in Video.objects.all()]  # no test videos
    make_split(release, "lopsided", members)

    with pytest.raises(
        ExportError, match=r"split lopsided of dataset usv-sample has an empty subset \(test\)"
    ):
        export_request(dataset=release, split="lopsided", format="parquet", enqueue=False)
    assert not ExportJob.objects.exists() and nothing_written()


def test_it_refuses_an_unknown_format(release):
    with pytest.raises(ExportError, match="unknown export format 'xml'; formats: jsonl, csv"):
        export_request(dataset=release, split="v1", format="xml", enqueue=False)
    assert not ExportJob.objects.exists()


def test_a_second_request_while_one_is_queued_or_running_returns_the_same_job(release):
    first = export_request(dataset=release, split="v1", format="jsonl", enqueue=False)
    again = export_request(dataset=release, split="v1", format="jsonl", enqueue=False)
    ExportJob.objects.filter(id=first.id).update(status="running", heartbeat_at=timezone.now())
    while_running = export_request(dataset=release, split="v1", format="jsonl", enqueue=False)
    other_format = export_request(dataset=release, split="v1", format="csv", enqueue=False)

    assert first.id == again.id == while_running.id != other_format.id
    assert ExportJob.objects.count() == 2


def test_a_second_whole_dataset_request_is_reused_too_although_its_split_is_null(release):
    first = export_request(dataset=release, format="jsonl", enqueue=False)
    assert export_request(dataset=release, format="jsonl", enqueue=False).id == first.id


def test_a_finished_export_of_a_frozen_split_is_reused_while_its_files_are_intact(release):
    job, folder = export(release, "csv")
    assert export_request(dataset=release, split="v1", format="csv", enqueue=False).id == job.id

    (folder / "val.csv").write_text("tampered\n")
    fresh = export_request(dataset=release, split="v1", format="csv", enqueue=False)
    assert fresh.id != job.id and fresh.status == "queued"


def test_a_crash_mid_export_fails_the_job_and_leaves_no_folder(release, monkeypatch):
    job = export_request(dataset=release, split="v1", format="jsonl", enqueue=False)
    written = []

    def write_then_crash(self, row):
        if len(written) == 5:
            raise OSError("No space left on device")
        written.append(row.external_id)

    monkeypatch.setattr(exports_writers.JsonlWriter, "write", write_then_crash)

    with pytest.raises(OSError, match="No space left"):
        export_run(job_id=job.id)
    job.refresh_from_db()
    assert (job.status, job.error, job.directory) == ("failed", "OSError: No space left on device", "")
    assert job.finished_at is not None and len(written) == 5
    assert nothing_written(), list(exports_root().rglob("*"))


def test_a_failed_job_frees_the_version_for_a_new_request(release, monkeypatch):
    job = export_request(dataset=release, split="v1", format="csv", enqueue=False)
    monkeypatch.setattr(exports_writers.CsvWriter, "write", lambda self, row: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        export_run(job_id=job.id)
    monkeypatch.undo()

    retry, _ = export(release, "csv")
    assert retry.id != job.id and ExportJob.objects.get(id=job.id).status == "failed"


def test_a_stale_running_job_whose_worker_died_is_taken_over_and_its_leftovers_removed(release):
    job = export_request(dataset=release, split="v1", format="jsonl", enqueue=False)
    dead = timezone.now() - STALE_AFTER - timedelta(minutes=1)
    ExportJob.objects.filter(id=job.id).update(
        status="running", heartbeat_at=dead, rows_done=4, rows_total=11
    )
    leftover = exports_root() / f".tmp-{job.id}"
    leftover.mkdir(parents=True)
    (leftover / "train.jsonl").write_text('{"half": ')

    job = export_run(job_id=job.id)

    assert (job.status, job.rows_done) == ("done", 11) and not leftover.exists()
    assert len((Path(job.directory) / "train.jsonl").read_text().splitlines()) == 8


def test_a_running_job_with_a_live_heartbeat_is_left_to_its_worker(release):
    job = export_request(dataset=release, split="v1", format="jsonl", enqueue=False)
    ExportJob.objects.filter(id=job.id).update(status="running", heartbeat_at=timezone.now())

    assert export_run(job_id=job.id).status == "running"
    assert nothing_written()


def test_a_duplicate_delivery_of_a_finished_job_does_nothing(release):
    job, folder = export(release, "srt")
    before = {p: p.stat().st_mtime_ns for p in folder.rglob("*")}

    assert export_run(job_id=job.id).status == "done"
    assert {p: p.stat().st_mtime_ns for p in folder.rglob("*")} == before


def test_the_command_exports_a_frozen_split_and_copies_it_to_out(release, tmp_path, capsys):
    out = tmp_path / "out"
    call_command("export_dataset", "--dataset", release.slug, "--split", "v1", "--format", "mmaction",
                 "--out", str(out), "--no-progress")  # fmt: skip

    assert sorted(p.name for p in out.iterdir()) == [
        "classes.txt", "manifest.json", "test_list.txt", "train_list.txt", "val_list.txt",
    ]  # fmt: skip
    assert f"{out / 'train_list.txt'}: 2 rows" in capsys.readouterr().out


def test_the_command_refuses_an_unfrozen_split(release):
    split = Split.objects.get(name="v1")
    members = [(m.video, m.subset, m.is_noise) for m in SplitMember.objects.filter(split=split)]
    make_split(release, "v2", members, frozen=False)

    with pytest.raises(CommandError, match="split v2 of dataset usv-sample is not frozen"):
        call_command("export_dataset", "--dataset", release.slug, "--split", "v2", "--format", "csv")


def test_the_command_queues_a_job_and_prints_its_id(release, capsys, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        call_command(
            "export_dataset", "--dataset", release.slug, "--split", "v1", "--format", "csv", "--queue"
        )
    job = ExportJob.objects.get()
    assert capsys.readouterr().out.strip() == f"export job {job.id}: queued"
    assert len(callbacks) == 1  # enqueued once the transaction commits, not before


def test_a_finished_export_folder_is_never_half_written_under_its_final_name(release, monkeypatch):
    # The rename happens after the manifest: a crash before it leaves only the temporary folder,
    # which the failure handler removes; the final name appears whole or not at all.
    renamed = []
    real_replace = os.replace

    def spy(src, dst):
        renamed.append((Path(src).name, (Path(src) / "manifest.json").is_file()))
        return real_replace(src, dst)

    monkeypatch.setattr("curation.services.exports.jobs.os.replace", spy)
    job, _ = export(release, "parquet")
    assert [r for r in renamed if r[0].startswith(".tmp-")] == [(f".tmp-{job.id}", True)]
