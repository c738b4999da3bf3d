"""Dataset exports as background jobs: request, run, find the files.

A job is requested for a dataset (or a frozen split of it) and a format; one queued or running job
per (dataset, split, format) exists at a time (a partial unique constraint), so a second request
returns the first. A run claims its job with a conditional UPDATE, streams the rows in chunks
(`rows`) into a format writer (`writers`) under `VAR_DIR/exports/.tmp-<job>`,
writes the manifest last and renames the folder to `VAR_DIR/exports/<dataset>/<split>-<format>-<job>`
only when everything is there; only then is the job DONE and its files offered. A failure removes
the temporary folder and records the reason; a job whose worker died (no heartbeat for
STALE_AFTER) is taken over by the next run.
"""

import os
import shutil
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import orjson
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils import timezone

from curation.errors import CurationError
from curation.media_store import file_sha256, media_root
from curation.models import Dataset, ExportFormat, ExportJob, Split, SplitMember
from curation.services.exports.rows import rows_chunks
from curation.services.exports.writers import WRITERS
from curation.services.splits import SplitRefused, split_get, verdict_method_default
from curation.sql.exports import frames_lines, records_count

FORMATS = tuple(ExportFormat.values)
STALE_AFTER = timedelta(minutes=10)  # a chunk takes well under a second: ten minutes is a dead worker
DATASET_SETTINGS = (
    "sample_fps", "dark_threshold", "blur_threshold", "uniform_threshold", "near_duplicate_threshold",
    "thumbnail_check_similarity", "annotation_overlap", "open_world_topics", "settings",
)  # fmt: skip
ACTIVE = (ExportJob.Status.QUEUED, ExportJob.Status.RUNNING)

Progress = Callable[[int, int], None]


class ExportError(CurationError):
    pass


class ExportFileNotFound(ExportError):
    pass


def exports_root() -> Path:
    return Path(settings.VAR_DIR) / "exports"


def export_request(
    *,
    dataset: Dataset,
    split: str | Split | None = None,
    format: str,  # noqa: A002
    user=None,
    enqueue: bool = True,
) -> ExportJob:
    """A job exporting `dataset` (or its frozen `split`) as `format`: the one already queued or
    running, a finished one of the same frozen split whose files are intact, or a new one."""
    if format not in FORMATS:
        raise ExportError(f"unknown export format {format!r}; formats: {', '.join(FORMATS)}")
    if isinstance(split, str):
        try:
            split = split_get(dataset=dataset, name=split)
        except SplitRefused as exc:
            raise ExportError(str(exc)) from None
    if split is not None:
        _check_exportable(split)
        finished = _intact_finished_job(split=split, format=format)
        if finished is not None:
            return finished
    user = user if user is not None and user.is_authenticated else None
    active = ExportJob.objects.filter(dataset=dataset, split=split, format=format, status__in=ACTIVE)
    for _ in range(3):
        job = active.first()
        if job is None:
            try:
                with transaction.atomic():
                    job = ExportJob.objects.create(
                        dataset=dataset, split=split, format=format, requested_by=user
                    )
            except IntegrityError:
                # The partial unique constraint (PostgreSQL): another request inserted its job
                # between our read and our insert. Read it; it may even have finished: try again.
                continue
        elif not (enqueue and export_is_stale(job)):
            return job  # queued or running: the same job, not a second one
        if enqueue:
            export_enqueue(job_id=job.id)
        return job
    raise ExportError(f"export of {_version(dataset, split)} as {format}: requests kept colliding; try again")


def _check_exportable(split: Split) -> None:
    where = f"split {split.name} of dataset {split.dataset.slug}"
    if not split.is_frozen:
        raise ExportError(
            f"{where} is not frozen, so it may still change; freeze it first: "
            f"python manage.py make_split --dataset {split.dataset.slug} --name {split.name} … --freeze "
            f"(or python manage.py freeze_split --dataset {split.dataset.slug} --name {split.name})"
        )
    sizes = dict(
        SplitMember.objects.filter(split=split)
        .exclude(subset="")
        .values("subset")
        .annotate(n=Count("id"))
        .values_list("subset", "n")
    )
    empty = [name for name in split.ratios if not sizes.get(name)]
    if empty:
        raise ExportError(
            f"{where} has an empty subset ({', '.join(empty)}): there is nothing to export for it"
        )


def _intact_finished_job(*, split: Split, format: str) -> ExportJob | None:  # noqa: A002
    """A DONE export of this frozen split whose files are all still there, at their sizes."""
    for job in ExportJob.objects.filter(split=split, format=format, status=ExportJob.Status.DONE)[:5]:
        folder = Path(job.directory)
        files = job.manifest.get("files", {})
        if job.directory and (folder / "manifest.json").is_file() and files:
            if all(_has_size(folder / name, info["bytes"]) for name, info in files.items()):
                return job
    return None


def _has_size(path: Path, size: int) -> bool:
    try:
        return path.stat().st_size == size
    except OSError:
        return False


def export_is_stale(job: ExportJob) -> bool:
    """A RUNNING job whose heartbeat stopped: its worker died, and the next request takes it over."""
    if job.status != ExportJob.Status.RUNNING:
        return False
    return job.heartbeat_at is None or job.heartbeat_at < timezone.now() - STALE_AFTER


def export_enqueue(*, job_id: int) -> None:
    from curation import tasks  # tasks import this module

    tasks.export_run_task.delay_on_commit(job_id)


def export_run(*, job_id: int, progress: Progress | None = None) -> ExportJob:
    """Run a queued job (or take over a stale running one). A job another run holds, or one
    already finished, is returned as it is: a duplicate delivery does nothing."""
    now = timezone.now()
    fresh = {"started_at": now, "heartbeat_at": now, "rows_done": 0, "error": ""}
    claimed = ExportJob.objects.filter(id=job_id, status=ExportJob.Status.QUEUED).update(
        status=ExportJob.Status.RUNNING, **fresh
    ) or ExportJob.objects.filter(
        Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lt=now - STALE_AFTER),
        id=job_id,
        status=ExportJob.Status.RUNNING,
    ).update(**fresh)
    job = ExportJob.objects.select_related("dataset", "split").filter(id=job_id).first()
    if job is None:
        raise ExportError(f"there is no export job {job_id}")
    if not claimed:
        return job
    tmp = exports_root() / f".tmp-{job.id}"
    try:
        shutil.rmtree(tmp, ignore_errors=True)  # left by a run whose worker died
        manifest = _write(job, tmp, progress)
        final = (
            exports_root()
            / job.dataset.slug
            / f"{job.split.name if job.split else 'all'}-{job.format}-{job.id}"
        )
        final.parent.mkdir(parents=True, exist_ok=True)
        if final.exists():  # a run that died between the rename and recording it
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        reason = str(exc) if isinstance(exc, CurationError) else f"{type(exc).__name__}: {exc}"
        ExportJob.objects.filter(id=job.id).update(
            status=ExportJob.Status.FAILED, error=reason or type(exc).__name__, finished_at=timezone.now()
        )
        raise
    written = manifest["rows"]["videos"]
    ExportJob.objects.filter(id=job.id).update(
        status=ExportJob.Status.DONE,
        directory=str(final),
        manifest=manifest,
        rows_total=written,  # what was written, whatever the count said when it began
        rows_done=written,
        finished_at=timezone.now(),
    )
    job.refresh_from_db()
    return job


def _write(job: ExportJob, tmp: Path, progress: Progress | None) -> dict:
    dataset, split = job.dataset, job.split
    method = (split.verdict_method if split else "") or verdict_method_default(dataset=dataset)
    total = records_count(dataset_id=dataset.id, split_id=split.id if split else None)
    ExportJob.objects.filter(id=job.id).update(rows_total=total)
    tmp.mkdir(parents=True)
    stems = list(split.ratios) if split else ["videos"]
    writer = WRITERS[job.format](
        tmp,
        stems=stems,
        classes=sorted(dataset.topics.values_list("name", flat=True)),
        media_root=Path(os.path.realpath(media_root())),
    )
    candidates: Counter[int] = Counter()
    subsets: Counter[str] = Counter()
    noise: Counter[str] = Counter()
    done = 0
    try:
        for chunk in rows_chunks(
            dataset_id=dataset.id, split_id=split.id if split else None, verdict_method=method
        ):
            for row in chunk:
                writer.write(row)
                stem = row.subset or "videos"
                subsets[stem] += 1
                noise[stem] += bool(row.data["is_noise"])
                if row.data["status"]["frames"] == "done":
                    candidates[len(row.data["candidates"])] += 1
            if writer.wants_frames:
                writer.write_frames(frames_lines(video_ids=[row.video_id for row in chunk]))
            done += len(chunk)
            # Videos added to a dataset while it exports are read too: keep rows_done <= rows_total.
            total = max(total, done)
            ExportJob.objects.filter(id=job.id).update(
                rows_done=done, rows_total=total, heartbeat_at=timezone.now()
            )
            if progress is not None:
                progress(done, total)
        rows, notes = writer.close()
    except BaseException:
        writer.abort()
        raise
    manifest = {
        "format": job.format,
        "job": job.id,
        "dataset": dataset.slug,
        "created_at": timezone.now().isoformat(),
        "split": _split_info(split),
        "verdict_method": method,
        "settings": {name: getattr(dataset, name) for name in DATASET_SETTINGS},
        "rows": {
            "videos": done,
            "by_subset": {stem: subsets[stem] for stem in stems},
            "noise_flagged": {stem: noise[stem] for stem in stems},
        },
        "format_notes": notes,
        # MV-58K: per-topic AP against training examples of the latest model, unlearnable topics.
        "learnability": _learnability(dataset),
        "candidate_counts": {str(k): candidates[k] for k in sorted(candidates)},
        "files": {name: {"rows": rows.get(name, 0), **_file_info(tmp / name)} for name in _files(tmp)},
    }
    partial = tmp / ".manifest.json.part"
    partial.write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE))
    partial.replace(tmp / "manifest.json")
    return manifest


def _learnability(dataset: Dataset) -> dict | None:
    """The latest finished ModelRun's learnability with its model version; None without a run."""
    from curation.services.modelling.learnability import learnability

    report = learnability(dataset=dataset)
    return report if report["run"] is not None else None


def _split_info(split: Split | None) -> dict | None:
    if split is None:
        return None
    excluded = SplitMember.objects.filter(split=split, subset="").count()
    return {
        "name": split.name,
        "ratios": split.ratios,
        "seed": split.seed,
        "sizes": split.sizes,
        "frozen_at": split.frozen_at.isoformat(),
        "verdict_method": split.verdict_method or None,
        "excluded_noise": excluded,  # verified noise the split kept out of val/test
    }


def _files(folder: Path) -> list[str]:
    names = [
        str((Path(root) / name).relative_to(folder)) for root, _, files in os.walk(folder) for name in files
    ]
    return sorted(names)


def _file_info(path: Path) -> dict:
    return {"bytes": path.stat().st_size, "sha256": file_sha256(path)}


def _version(dataset: Dataset, split: Split | None) -> str:
    return f"split {split.name} of dataset {dataset.slug}" if split else f"dataset {dataset.slug}"


def export_file_get(*, job: ExportJob, name: str) -> Path:
    """A file of a finished export, by its name in the manifest; nothing else is ever served."""
    if job.status != ExportJob.Status.DONE or not job.directory:
        raise ExportFileNotFound(
            f"export job {job.id} is {job.status}: its files are offered when it is done"
        )
    if name != "manifest.json" and name not in job.manifest.get("files", {}):
        raise ExportFileNotFound(f"export job {job.id} has no file named {name!r}")
    folder = Path(job.directory).resolve()
    path = (folder / name).resolve()
    if folder not in path.parents or not path.is_file():
        raise ExportFileNotFound(f"export job {job.id}: file {name!r} is missing from {folder}")
    return path
