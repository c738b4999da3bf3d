"""The rows an export writes: one per video with everything we know about it, read in chunks.

One SQL statement per chunk of videos, keyset-paginated by video id (`id > last ORDER BY id
LIMIT n`), joins the video with its topic, publisher, split membership, verdict, subtitle, cues,
frames summary and thumbnail ground truth. Each chunk is its own short statement, so memory
stays constant, no transaction is held open for the length of an export, and the job's progress,
written between chunks, is visible to others at once. A frozen split's members never change, so
chunks read at different moments still describe one version.
"""

from collections.abc import Iterator
from dataclasses import dataclass

import orjson
from django.db import connection

CHUNK = 5000  # rows per statement: ~15 MB of Python objects; fewer plans and round trips

TOPIC_ANSWERS = ("yes", "no", "unsure")
PROBE_FIELDS = (
    "duration", "duration_source", "fps", "width", "height", "rotation", "display_width", "display_height",
    "has_audio", "video_codec", "audio_codec", "container", "size_bytes", "sha256",
)  # fmt: skip

_VIDEO_COLUMNS = (
    "v.id", "v.external_id", "v.source", "v.source_kind", "v.local_path", "v.proxy_path", "v.title",
    "t.name", "t.macro_topic", "p.external_id", "v.clicks", "v.thumbnail", "v.metadata",
    *(f"v.{name}" for name in PROBE_FIELDS),
    "v.probe_status", "v.frames_status", "v.ocr_status", "v.error", "v.duplicate_group_id",
    "vv.label", "vv.confidence", "vv.answers_used", "vv.answers", "vv.disputed",
    "s.video_id", "s.text", "s.reason", "cues.cues", "fr.frame_count", "fr.candidates",
    "tt.video_id", "tt.index", "tt.timestamp", "tt.similarity", "tt.needs_check", "tt.reason",
)  # fmt: skip

# The chunk's ids come first (an index range scan from the last id on), then everything else is
# looked up per video by index (one-to-one tables are unique on video_id; cues and frames on
# (video_id, index)). Plain joins let the planner hash or merge whole tables from their start for
# every chunk, so late chunks got slower and slower (quadratic in the dataset's size). The LIMIT 1
# of the one-to-one subqueries (a no-op: video_id is unique) keeps PostgreSQL from turning them back
# into plain joins; `v.id > after` starts the video scan where the chunk starts.
_ROWS_SQL = f"""
WITH chunk AS MATERIALIZED ({{chunk}})
SELECT k.subset, {{noise}}, {", ".join(_VIDEO_COLUMNS)}
FROM chunk k
JOIN curation_video v ON v.id = k.id AND v.id > %(after)s
LEFT JOIN curation_topic t ON t.id = v.weak_topic_id
LEFT JOIN curation_publisher p ON p.id = v.publisher_id
LEFT JOIN LATERAL (
    SELECT label, confidence, answers_used, answers, disputed FROM curation_videoverdict
    WHERE video_id = v.id AND method = %(method)s LIMIT 1
) vv ON true
LEFT JOIN LATERAL (
    SELECT video_id, text, reason FROM curation_videosubtitle WHERE video_id = v.id LIMIT 1
) s ON true
LEFT JOIN LATERAL (
    SELECT tt.video_id, tt.similarity, tt.needs_check, tt.reason, tf.index, tf.timestamp
    FROM curation_thumbnailtruth tt LEFT JOIN curation_frame tf ON tf.id = tt.frame_id
    WHERE tt.video_id = v.id LIMIT 1
) tt ON true
LEFT JOIN LATERAL (
    SELECT json_agg(json_build_array(c.start, c."end", c.text) ORDER BY c.index)::text AS cues
    FROM curation_subtitlecue c WHERE c.video_id = v.id
) cues ON true
LEFT JOIN LATERAL (
    SELECT count(*) AS frame_count,
           array_agg(f.index ORDER BY f.index) FILTER (WHERE f.is_candidate) AS candidates
    FROM curation_frame f WHERE f.video_id = v.id
) fr ON true
ORDER BY k.id
"""
# A split's exported members: verified noise that the split kept out of val/test has a blank subset.
_SPLIT_SQL = _ROWS_SQL.format(
    chunk="""SELECT m.video_id AS id, m.subset, m.is_noise FROM curation_splitmember m
    WHERE m.split_id = %(split)s AND m.subset <> '' AND m.video_id > %(after)s
    ORDER BY m.video_id LIMIT %(limit)s""",
    noise="k.is_noise",
)
# The whole dataset: noise is what the verdicts say.
_DATASET_SQL = _ROWS_SQL.format(
    chunk="""SELECT v.id, '' AS subset FROM curation_video v
    WHERE v.dataset_id = %(dataset)s AND v.id > %(after)s ORDER BY v.id LIMIT %(limit)s""",
    noise="coalesce(vv.label = 'noise', false)",
)
_FRAMES_SQL = """
SELECT json_build_object(
    'video', v.external_id, 'index', f.index, 'timestamp', f.timestamp, 'image', f.image,
    'width', f.width, 'height', f.height, 'brightness', f.brightness, 'sharpness', f.sharpness,
    'entropy', f.entropy, 'spread', f.spread, 'is_dark', f.is_dark, 'is_blurry', f.is_blurry,
    'is_uniform', f.is_uniform, 'cluster', f.cluster, 'is_candidate', f.is_candidate
)::text
FROM curation_frame f JOIN curation_video v ON v.id = f.video_id
WHERE f.video_id = ANY(%(ids)s)
ORDER BY f.video_id, f.index
"""


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


def rows_count(*, dataset_id: int, split_id: int | None) -> int:
    with connection.cursor() as cursor:
        if split_id is None:
            cursor.execute("SELECT count(*) FROM curation_video WHERE dataset_id = %s", [dataset_id])
        else:
            cursor.execute(
                "SELECT count(*) FROM curation_splitmember WHERE split_id = %s AND subset <> ''", [split_id]
            )
        return cursor.fetchone()[0]


def rows_chunks(
    *, dataset_id: int, split_id: int | None, verdict_method: str | None, chunk: int = CHUNK
) -> Iterator[list[ExportRow]]:
    """Every exported video in id order, `chunk` at a time."""
    sql = _DATASET_SQL if split_id is None else _SPLIT_SQL
    params = {"dataset": dataset_id, "split": split_id, "method": verdict_method, "limit": chunk, "after": 0}
    while True:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            records = cursor.fetchall()
        if not records:
            return
        yield [_row(record, verdict_method) for record in records]
        params["after"] = records[-1][2]


def frames_lines(*, video_ids: list[int]) -> list[str]:
    """The frames of these videos as JSON text, built by PostgreSQL (no Python object per field)."""
    with connection.cursor() as cursor:
        cursor.execute(_FRAMES_SQL, {"ids": video_ids})
        return [line for (line,) in cursor.fetchall()]


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
        truth_id, truth_index, truth_timestamp, similarity, needs_check, truth_reason,
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
        # Model scores come with the models (a later issue); the field is there so readers can rely on it.
        "scores": None,
    }
    return ExportRow(video_id, external_id, subset, source_kind, local_path, proxy_path, data)
