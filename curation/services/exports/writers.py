"""One writer per export format. Each receives rows one at a time and keeps at most a row group or
one media file in memory; files are named by subset (`train.jsonl`, `val.csv`, …) when a split is
exported, `videos.*` otherwise. `close()` returns the rows of each file and what the manifest must
say about the format (classes, the path root, videos left out and why)."""

import io
import os
import re
import tarfile
from collections import Counter
from pathlib import Path

import orjson

from curation.errors import CurationError
from curation.lib.csvfiles import SafeWriter
from curation.lib.subtitles import Cue, render_srt
from curation.media_store import video_proxy_file
from curation.services.exports.rows import PROBE_FIELDS, ExportRow
from curation.services.exports.schema import parquet_row, parquet_schema

ROW_GROUP = 10_000  # parquet rows per row group: ~10 MB of Python objects at most
SHARD_VIDEOS = 1000  # webdataset: a new shard after this many videos …
SHARD_BYTES = 1 << 30  # … or about this many bytes
EXAMPLES = 20  # videos named in the manifest for each reason a row was left out

FLAT_COLUMNS = (
    "id", "subset", "is_noise", "source", "source_kind", "title", "topic", "macro_topic", "publisher",
    "clicks", "thumbnail", "verdict_label", "verdict_method", "verdict_confidence", "verdict_answers_used",
    "verdict_answers", "verdict_disputed", *PROBE_FIELDS, "probe_status", "frames_status", "ocr_status",
    "duplicate_group", "frame_count", "candidates", "thumbnail_frame", "thumbnail_timestamp",
    "thumbnail_similarity", "thumbnail_needs_check", "subtitle", "subtitle_cues", "metadata", "scores",
)  # fmt: skip


class ExportWriteError(CurationError):
    pass


def _json(value) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


def flat_row(data: dict) -> dict:
    """The flat columns of csv and parquet: nested values as JSON text, candidates as a list."""
    verdict = data["verdict"] or {}
    truth = data["thumbnail_truth"] or {}
    subtitle = data["subtitle"] or {}
    return {
        **{k: data[k] for k in ("id", "subset", "is_noise", "source", "source_kind", "title", "topic")},
        **{k: data[k] for k in ("macro_topic", "publisher", "clicks", "thumbnail")},
        "verdict_label": verdict.get("label"),
        "verdict_method": verdict.get("method"),
        "verdict_confidence": verdict.get("confidence"),
        "verdict_answers_used": verdict.get("answers_used"),
        "verdict_answers": _json(verdict.get("answers")),
        "verdict_disputed": verdict.get("disputed"),
        **data["probe"],
        "probe_status": data["status"]["probe"],
        "frames_status": data["status"]["frames"],
        "ocr_status": data["status"]["ocr"],
        "duplicate_group": data["duplicate_group"],
        "frame_count": data["frame_count"],
        "candidates": data["candidates"],
        "thumbnail_frame": truth.get("frame"),
        "thumbnail_timestamp": truth.get("timestamp"),
        "thumbnail_similarity": truth.get("similarity"),
        "thumbnail_needs_check": truth.get("needs_check"),
        "subtitle": subtitle.get("text"),
        "subtitle_cues": len(subtitle.get("cues") or []),
        "metadata": _json(data["metadata"]),
        "scores": _json(data["scores"]),
    }


class Writer:
    """Base: one open file (or shard, or row buffer) per subset."""

    wants_frames = False

    def __init__(self, folder: Path, *, stems: list[str], classes: list[str], media_root: Path):
        self.folder = folder
        self.stems = stems
        self.classes = classes
        self.media_root = media_root
        self.rows: Counter[str] = Counter()
        self.notes: dict = {}
        self.handles: list = []

    def stem(self, row: ExportRow) -> str:
        stem = row.subset or "videos"
        if stem not in self.stems:
            raise ExportWriteError(
                f"video {row.external_id} is in subset {stem!r}, which the split does not name"
            )
        return stem

    def open(self, name: str, mode: str = "wb"):
        path = self.folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(path, mode, buffering=1 << 20) if "b" in mode else open(path, mode, newline="")  # noqa: SIM115
        self.handles.append(handle)
        self.rows[name] += 0
        return handle

    def write(self, row: ExportRow) -> None:
        raise NotImplementedError

    def write_frames(self, lines: list[str]) -> None:
        raise NotImplementedError

    def finish(self) -> None:
        """Flush what is buffered (parquet row groups, the last shard)."""

    def close(self) -> tuple[dict[str, int], dict]:
        self.finish()
        self.abort()
        return dict(self.rows), self.notes

    def abort(self) -> None:
        for handle in self.handles:
            handle.close()
        self.handles = []

    def left_out(self, reason: str, row: ExportRow) -> None:
        entry = self.notes.setdefault("left_out", {}).setdefault(reason, {"videos": 0, "examples": []})
        entry["videos"] += 1
        if len(entry["examples"]) < EXAMPLES:
            entry["examples"].append(row.external_id)


class JsonlWriter(Writer):
    wants_frames = True

    def __init__(self, folder: Path, **kwargs):
        super().__init__(folder, **kwargs)
        self.files = {stem: self.open(f"{stem}.jsonl") for stem in self.stems}
        self.frames = self.open("frames.jsonl")

    def write(self, row: ExportRow) -> None:
        stem = self.stem(row)
        self.files[stem].write(orjson.dumps(row.data, option=orjson.OPT_APPEND_NEWLINE))
        self.rows[f"{stem}.jsonl"] += 1

    def write_frames(self, lines: list[str]) -> None:
        if lines:
            self.frames.write(("\n".join(lines) + "\n").encode())
            self.rows["frames.jsonl"] += len(lines)


class CsvWriter(Writer):
    def __init__(self, folder: Path, **kwargs):
        super().__init__(folder, **kwargs)
        self.files = {}
        for stem in self.stems:
            # Titles and other text come from uploaders: formula-safe cells (see csvfiles).
            writer = SafeWriter(self.open(f"{stem}.csv", "w"))
            writer.writerow(FLAT_COLUMNS)
            self.files[stem] = writer

    def write(self, row: ExportRow) -> None:
        stem = self.stem(row)
        flat = flat_row(row.data)
        flat["candidates"] = _json(flat["candidates"])
        self.files[stem].writerow(flat.values())
        self.rows[f"{stem}.csv"] += 1


class ParquetWriter(Writer):
    def __init__(self, folder: Path, **kwargs):
        import pyarrow as pa
        import pyarrow.parquet as pq

        super().__init__(folder, **kwargs)
        self.pa = pa
        self.schema = parquet_schema(pa)
        self.writers = {}
        self.buffers: dict[str, list[dict]] = {}
        for stem in self.stems:
            self.writers[stem] = pq.ParquetWriter(self.open(f"{stem}.parquet"), self.schema)
            self.buffers[stem] = []

    def write(self, row: ExportRow) -> None:
        stem = self.stem(row)
        self.buffers[stem].append(parquet_row(row.data))
        self.rows[f"{stem}.parquet"] += 1
        if len(self.buffers[stem]) >= ROW_GROUP:
            self._flush(stem)

    def _flush(self, stem: str) -> None:
        rows, self.buffers[stem] = self.buffers[stem], []
        if rows:
            self.writers[stem].write_table(self.pa.Table.from_pylist(rows, schema=self.schema))

    def finish(self) -> None:
        for stem, writer in self.writers.items():
            self._flush(stem)
            writer.close()


class MmactionWriter(Writer):
    """MMAction2 video lists, `<path> <label index>` a line; the index is the line of classes.txt.

    One path rule: every path is relative to the manifest's `root`, the deepest folder that holds
    every listed file (MMAction2's `data_prefix`). The root is known only at the end, so lines are
    first written with absolute paths to a side file and made relative once, in `finish`.
    """

    def __init__(self, folder: Path, **kwargs):
        super().__init__(folder, **kwargs)
        self.index = {name: i for i, name in enumerate(self.classes)}
        (folder / "classes.txt").write_text("".join(f"{name}\n" for name in self.classes))
        self.rows["classes.txt"] = len(self.classes)
        self.absolute = {stem: open(folder / f".{stem}_list.abs", "w") for stem in self.stems}  # noqa: SIM115
        self.handles.extend(self.absolute.values())
        self.root: str | None = None
        self.noise: Counter[str] = Counter()

    def write(self, row: ExportRow) -> None:
        stem = self.stem(row)
        topic = row.data["topic"]
        if topic is None:
            return self.left_out("no weak topic to use as the label", row)
        if not row.local_path:
            reason = (
                "URL source not downloaded (MMAction2 reads local files)"
                if row.source_kind == "url"
                else "no local file"
            )
            return self.left_out(reason, row)
        path = os.path.realpath(row.local_path)
        if any(c.isspace() for c in path):
            # MMAction2 splits each line at whitespace: such a path cannot be written as is.
            return self.left_out("path contains whitespace", row)
        folder = os.path.dirname(path)
        self.root = folder if self.root is None else os.path.commonpath([self.root, folder])
        self.absolute[stem].write(f"{path} {self.index[topic]}\n")
        self.rows[f"{stem}_list.txt"] += 1
        self.noise[stem] += bool(row.data["is_noise"])

    def finish(self) -> None:
        root = self.root or str(self.media_root)
        for stem, handle in self.absolute.items():
            handle.close()
            with open(handle.name) as lines, self.open(f"{stem}_list.txt", "w") as out:
                for line in lines:
                    out.write(os.path.relpath(line[: line.rindex(" ")], root) + line[line.rindex(" ") :])
            os.unlink(handle.name)
        self.notes["root"] = root
        self.notes["noise_flagged"] = {stem: self.noise[stem] for stem in self.stems}


class WebDatasetWriter(Writer):
    """Tar shards `<subset>-000000.tar` … with `<key>.json` and the video (`<key>.mp4` …) per sample."""

    def __init__(self, folder: Path, **kwargs):
        super().__init__(folder, **kwargs)
        self.shards: dict[str, tuple[tarfile.TarFile, int, int, int]] = {}  # tar, number, videos, bytes
        self.media: Counter[str] = Counter()

    def write(self, row: ExportRow) -> None:
        stem = self.stem(row)
        tar, number, videos, size = self._shard(stem)
        key = f"{row.video_id:010d}"  # digits only: webdataset cuts the key at the first dot
        media = self._media(row)
        if media is not None:
            info = tar.gettarinfo(str(media), arcname=f"{key}.{_extension(media)}")
            info.mtime, info.uid, info.gid, info.uname, info.gname, info.mode = 0, 0, 0, "", "", 0o644
            with open(media, "rb") as source:
                tar.addfile(info, source)
            size += info.size
            self.media["with_video"] += 1
        body = orjson.dumps(row.data)
        info = tarfile.TarInfo(f"{key}.json")
        info.size, info.mode = len(body), 0o644
        tar.addfile(info, io.BytesIO(body))
        name = f"{stem}-{number:06d}.tar"
        self.rows[name] += 1
        self.shards[stem] = (tar, number, videos + 1, size + len(body))

    def _shard(self, stem: str) -> tuple[tarfile.TarFile, int, int, int]:
        current = self.shards.get(stem)
        if current is not None and current[2] < SHARD_VIDEOS and current[3] < SHARD_BYTES:
            return current
        number = 0
        if current is not None:
            current[0].close()
            number = current[1] + 1
        tar = tarfile.open(
            fileobj=self.open(f"{stem}-{number:06d}.tar"), mode="w", format=tarfile.USTAR_FORMAT
        )
        self.shards[stem] = (tar, number, 0, 0)
        return self.shards[stem]

    def _media(self, row: ExportRow) -> Path | None:
        if (proxy := video_proxy_file(row.proxy_path)) is not None and proxy.is_file():
            return proxy
        if row.local_path and (original := Path(row.local_path)).is_file():
            return original
        reason = "URL source: JSON only" if row.source_kind == "url" else "video file missing: JSON only"
        self.left_out(reason, row)
        return None

    def finish(self) -> None:
        for stem in self.stems:
            if stem not in self.shards:  # an empty subset still gets its (empty) first shard
                self._shard(stem)
        for tar, *_ in self.shards.values():
            tar.close()
        self.notes["samples_with_video"] = self.media["with_video"]
        self.notes["shard_limits"] = {"videos": SHARD_VIDEOS, "bytes": SHARD_BYTES}


def _extension(path: Path) -> str:
    return path.suffix.lower().lstrip(".") or "video"


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


class SrtWriter(Writer):
    """`subtitles/<id>.srt` per video with cues, and `index.csv` listing every video and its file."""

    def __init__(self, folder: Path, **kwargs):
        super().__init__(folder, **kwargs)
        self.index = SafeWriter(self.open("index.csv", "w"))
        self.index.writerow(["id", "subset", "file", "cues", "reason"])

    def write(self, row: ExportRow) -> None:
        self.stem(row)
        subtitle = row.data["subtitle"] or {}
        cues = subtitle.get("cues") or []
        name = ""
        if cues:
            safe = _UNSAFE.sub("_", row.external_id).lstrip(".") or "video"
            # Ids that are not safe file names get their database id too, so two never collide.
            name = (
                f"subtitles/{safe}.srt" if safe == row.external_id else f"subtitles/{safe}-{row.video_id}.srt"
            )
            text = render_srt(
                [Cue(n, cue["start"], cue["end"], cue["text"]) for n, cue in enumerate(cues, start=1)]
            )
            (self.folder / "subtitles").mkdir(exist_ok=True)
            (self.folder / name).write_text(text, encoding="utf-8")
            self.rows[name] = len(cues)
        reason = (
            "" if cues else (subtitle.get("reason") or ("no text found" if subtitle else "not read by OCR"))
        )
        self.index.writerow([row.external_id, row.subset, name, len(cues), reason])
        self.rows["index.csv"] += 1


WRITERS: dict[str, type[Writer]] = {
    "jsonl": JsonlWriter,
    "csv": CsvWriter,
    "parquet": ParquetWriter,
    "mmaction": MmactionWriter,
    "webdataset": WebDatasetWriter,
    "srt": SrtWriter,
}
