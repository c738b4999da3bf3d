"""Dataset exports that ML code reads directly.

JSONL (no split yet; the export issue adds splits): ``videos.jsonl`` (one video per line: source,
labels, probe data, pipeline status, duplicate group, candidate frames, thumbnail ground truth),
``frames.jsonl`` (one sampled frame per line: scores, flags, cluster, candidate) and
``manifest.json`` (row counts, bytes and sha256 of each file, the dataset's settings and the
candidate-count distribution). Rows are streamed from two cursors ordered by video id, merged as
they go, so memory stays constant however large the dataset. Files are written under a temporary
name and renamed when complete; the manifest comes last, so a reader that finds it finds whole files.
"""

import hashlib
import json
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from curation.errors import CurationError
from curation.models import Dataset, Frame, Video

FORMATS = ("jsonl",)
CHUNK = 2000
FRAME_FIELDS = (
    "video_id", "index", "timestamp", "image", "width", "height", "brightness", "sharpness", "entropy",
    "spread", "is_dark", "is_blurry", "is_uniform", "cluster", "is_candidate",
)  # fmt: skip
PROBE_FIELDS = (
    "duration", "duration_source", "fps", "width", "height", "rotation", "display_width", "display_height",
    "has_audio", "video_codec", "audio_codec", "container", "size_bytes", "sha256",
)  # fmt: skip
DATASET_SETTINGS = (
    "sample_fps", "dark_threshold", "blur_threshold", "uniform_threshold", "near_duplicate_threshold",
    "thumbnail_check_similarity", "annotation_overlap",
)  # fmt: skip


class ExportError(CurationError):
    pass


@dataclass(frozen=True)
class ExportSummary:
    directory: Path
    files: dict[str, dict]


class _HashingWriter:
    """A text file that counts its lines and hashes its bytes as they are written."""

    def __init__(self, path: Path):
        self.path = path
        self.file = open(path, "wb")  # noqa: SIM115 (closed in close())
        self.digest = hashlib.sha256()
        self.rows = 0
        self.bytes = 0

    def write_row(self, row: dict) -> None:
        data = (json.dumps(row, cls=DjangoJSONEncoder, ensure_ascii=False, allow_nan=False) + "\n").encode()
        self.file.write(data)
        self.digest.update(data)
        self.rows += 1
        self.bytes += len(data)

    def close(self) -> dict:
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()
        return {"rows": self.rows, "bytes": self.bytes, "sha256": self.digest.hexdigest()}


def dataset_export(*, dataset: Dataset, format: str, out: Path) -> ExportSummary:  # noqa: A002
    if format not in FORMATS:
        raise ExportError(f"unknown export format {format!r}; formats: {', '.join(FORMATS)}")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ExportError(f"{out} exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    if (out / "manifest.json").exists():
        raise ExportError(f"{out} already holds an export (manifest.json); choose an empty folder")
    writers = {name: _HashingWriter(out / f".{name}.part") for name in ("videos.jsonl", "frames.jsonl")}
    distribution: Counter[int] = Counter()
    try:
        # One transaction: both cursors read the same committed state, not a re-run half-way.
        with transaction.atomic():
            for video, frames in _videos_with_frames(dataset):
                candidates = [f["index"] for f in frames if f["is_candidate"]]
                if video.frames_status == "done":
                    distribution[len(candidates)] += 1
                for frame in frames:
                    writers["frames.jsonl"].write_row({"video": video.external_id, **_frame_row(frame)})
                writers["videos.jsonl"].write_row(_video_row(video, frames, candidates))
        files = {name: writer.close() for name, writer in writers.items()}
    except BaseException:
        for writer in writers.values():
            writer.file.close()
            writer.path.unlink(missing_ok=True)
        raise
    for name, writer in writers.items():
        writer.path.replace(out / name)
    manifest = {
        "format": "jsonl",
        "dataset": dataset.slug,
        "created_at": timezone.now().isoformat(),
        "settings": {name: getattr(dataset, name) for name in DATASET_SETTINGS},
        "files": files,
        "candidate_counts": {str(k): distribution[k] for k in sorted(distribution)},
    }
    partial = out / ".manifest.json.part"
    partial.write_text(json.dumps(manifest, indent=2, cls=DjangoJSONEncoder) + "\n")
    partial.replace(out / "manifest.json")
    return ExportSummary(directory=out, files=files)


def _videos_with_frames(dataset: Dataset) -> Iterator[tuple[Video, list[dict]]]:
    videos = (
        Video.objects.filter(dataset=dataset)
        .select_related("weak_topic", "publisher", "thumbnail_truth", "thumbnail_truth__frame", "subtitle")
        .prefetch_related("subtitle_cues")
        .defer("signature")
        .order_by("id")
        .iterator(chunk_size=CHUNK)
    )
    frames = (
        Frame.objects.filter(video__dataset=dataset).order_by("video_id", "index").values(*FRAME_FIELDS)
    ).iterator(chunk_size=CHUNK)
    pending = next(frames, None)
    for video in videos:
        mine = []
        while pending is not None and pending["video_id"] <= video.id:
            if pending["video_id"] == video.id:
                mine.append(pending)
            pending = next(frames, None)
        yield video, mine


def _frame_row(frame: dict) -> dict:
    return {k: v for k, v in frame.items() if k != "video_id"}


def _video_row(video: Video, frames: list[dict], candidates: list[int]) -> dict:
    truth = getattr(video, "thumbnail_truth", None)
    return {
        "id": video.external_id,
        "source": video.source,
        "title": video.title,
        "topic": video.weak_topic.name if video.weak_topic else None,
        "publisher": video.publisher.external_id if video.publisher else None,
        "clicks": video.clicks,
        "thumbnail": video.thumbnail or None,
        "metadata": video.metadata,
        "probe": {name: getattr(video, name) for name in PROBE_FIELDS},
        "status": {"probe": video.probe_status, "frames": video.frames_status, "error": video.error or None},
        "duplicate_group": video.duplicate_group_id,
        "frame_count": len(frames),
        "candidates": candidates,
        "thumbnail_truth": _truth_row(truth),
        # OCR stage: the video-level subtitle, or null with the reason it is empty.
        "subtitle": {
            "text": s.text or None,
            "reason": s.reason or None,
            "cues": [[c.start, c.end, c.text] for c in video.subtitle_cues.all()],
        }
        if (s := getattr(video, "subtitle", None))
        else None,
    }


def _truth_row(truth) -> dict | None:
    if truth is None:
        return None
    return {
        "frame": truth.frame.index if truth.frame else None,
        "timestamp": truth.frame.timestamp if truth.frame else None,
        "similarity": truth.similarity,
        "needs_check": truth.needs_check,
        "reason": truth.reason or None,
    }
