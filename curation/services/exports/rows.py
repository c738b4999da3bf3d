"""The rows an export writes: one per video with everything we know about it, read in chunks
(the statements are curation.sql.exports).

A frozen split's members never change, so chunks read at different moments still describe one
version; the job's progress, written between chunks, is visible to others at once.
"""

from collections.abc import Iterator
from dataclasses import dataclass

import orjson

from curation.sql.exports import PROBE_FIELDS, records_chunks

CHUNK = 5000  # rows per statement: ~15 MB of Python objects; fewer plans and round trips

TOPIC_ANSWERS = ("yes", "no", "unsure")


@dataclass(slots=True)
class ExportRow:
    """One video: `data` is what the files hold; the rest is what writers need to find its media."""

    video_id: int
    external_id: str
    subset: str
    source_kind: str
    local_path: str
    proxy_path: str
    data: dict


def rows_chunks(
    *, dataset_id: int, split_id: int | None, verdict_method: str | None, chunk: int = CHUNK
) -> Iterator[list[ExportRow]]:
    """Every exported video in id order, `chunk` at a time."""
    for records in records_chunks(
        dataset_id=dataset_id, split_id=split_id, verdict_method=verdict_method, chunk=chunk
    ):
        yield [_row(record, verdict_method) for record in records]


def _json(value):
    # Django's PostgreSQL backend hands json/jsonb columns over as text (its fields parse them).
    return orjson.loads(value) if isinstance(value, str) else value


def _answer_counts(answers: dict | None) -> dict[str, int]:
    """Every topic answer with its count, zeros included: the same keys in every row and format."""
    answers = answers or {}
    return {label: int(answers.get(label, 0)) for label in TOPIC_ANSWERS}


def _row(record: tuple, method: str | None) -> ExportRow:
    subset, is_noise, video_id, external_id, source, source_kind, local_path, proxy_path, title = record[:9]
    topic, macro, publisher, clicks, thumbnail, metadata = record[9:15]
    probe = record[15 : 15 + len(PROBE_FIELDS)]
    (
        probe_status, frames_status, ocr_status, error, duplicate_group,
        label, confidence, answers_used, answers, disputed,
        subtitle_id, subtitle_text, subtitle_reason, cues, frame_count, candidates,
        truth_id, truth_index, truth_timestamp, similarity, needs_check, truth_reason, scores,
    ) = record[15 + len(PROBE_FIELDS) :]  # fmt: skip
    data = {
        "id": external_id,
        "source": source,
        "source_kind": source_kind,
        "title": title,
        "topic": topic,
        "macro_topic": macro or None,
        "publisher": publisher,
        "clicks": clicks,
        "thumbnail": thumbnail or None,
        "metadata": _json(metadata),
        "subset": subset or None,
        "is_noise": is_noise,
        "verdict": None
        if label is None
        else {
            "label": label,
            "method": method,
            "confidence": confidence,
            "answers_used": answers_used,
            "answers": _answer_counts(_json(answers)),
            "disputed": disputed,
        },
        "probe": dict(zip(PROBE_FIELDS, probe, strict=True)),
        "status": {"probe": probe_status, "frames": frames_status, "ocr": ocr_status, "error": error or None},
        "duplicate_group": duplicate_group,
        "frame_count": frame_count,
        "candidates": candidates or [],
        "thumbnail_truth": None
        if truth_id is None
        else {
            "frame": truth_index,
            "timestamp": truth_timestamp,
            "similarity": similarity,
            "needs_check": needs_check,
            "reason": truth_reason or None,
        },
        # OCR stage: the video-level subtitle, or null with the reason it is empty.
        "subtitle": None
        if subtitle_id is None
        else {
            "text": subtitle_text or None,
            "reason": subtitle_reason or None,
            "cues": [{"start": start, "end": end, "text": text} for start, end, text in _json(cues) or []],
        },
        # One entry per model version (zero-shot first, then ModelRuns in training order).
        "scores": _json(scores),
    }
    return ExportRow(video_id, external_id, subset, source_kind, local_path, proxy_path, data)
