"""An export's SQL: the rows of a dataset or of a frozen split's members, read in chunks, and their
frames as JSON lines.

One statement per chunk of videos, keyset-paginated by video id (`id > last ORDER BY id LIMIT n`),
joins the video with its topic, publisher, split membership, verdict, subtitle, cues, frames
summary, thumbnail ground truth and model scores. Each chunk is its own short statement, so memory stays
constant and no transaction is held open for the length of an export.
"""

from collections.abc import Iterator

from django.db import connection

from curation.models import (
    Frame,
    Publisher,
    SplitMember,
    SubtitleCue,
    ThumbnailTruth,
    Topic,
    Video,
    VideoScore,
    VideoSubtitle,
    VideoVerdict,
)

PROBE_FIELDS = (
    "duration", "duration_source", "fps", "width", "height", "rotation", "display_width", "display_height",
    "has_audio", "video_codec", "audio_codec", "container", "size_bytes", "sha256",
)  # fmt: skip

# A record's columns after its subset and noise flag (see records_chunks).
VIDEO_COLUMNS = (
    "v.id", "v.external_id", "v.source", "v.source_kind", "v.local_path", "v.proxy_path", "v.title",
    "t.name", "t.macro_topic", "p.external_id", "v.clicks", "v.thumbnail", "v.metadata",
    *(f"v.{name}" for name in PROBE_FIELDS),
    "v.probe_status", "v.frames_status", "v.ocr_status", "v.error", "v.duplicate_group_id",
    "vv.label", "vv.confidence", "vv.answers_used", "vv.answers", "vv.disputed",
    "s.video_id", "s.text", "s.reason", "cues.cues", "fr.frame_count", "fr.candidates",
    "tt.video_id", "tt.index", "tt.timestamp", "tt.similarity", "tt.needs_check", "tt.reason",
    "sc.scores",
)  # fmt: skip

_VIDEO = Video._meta.db_table
_FRAME = Frame._meta.db_table

# The chunk's ids come first (an index range scan from the last id on), then everything else is
# looked up per video by index (one-to-one tables are unique on video_id; cues and frames on
# (video_id, index)). Plain joins let the planner hash or merge whole tables from their start for
# every chunk, so late chunks got slower and slower (quadratic in the dataset's size). The LIMIT 1
# of the one-to-one subqueries (a no-op: video_id is unique) keeps PostgreSQL from turning them back
# into plain joins; `v.id > after` starts the video scan where the chunk starts.
_ROWS_SQL = f"""
WITH chunk AS MATERIALIZED ({{chunk}})
SELECT k.subset, {{noise}}, {", ".join(VIDEO_COLUMNS)}
FROM chunk k
JOIN {_VIDEO} v ON v.id = k.id AND v.id > %(after)s
LEFT JOIN {Topic._meta.db_table} t ON t.id = v.weak_topic_id
LEFT JOIN {Publisher._meta.db_table} p ON p.id = v.publisher_id
LEFT JOIN LATERAL (
    SELECT label, confidence, answers_used, answers, disputed FROM {VideoVerdict._meta.db_table}
    WHERE video_id = v.id AND method = %(method)s LIMIT 1
) vv ON true
LEFT JOIN LATERAL (
    SELECT video_id, text, reason FROM {VideoSubtitle._meta.db_table} WHERE video_id = v.id LIMIT 1
) s ON true
LEFT JOIN LATERAL (
    SELECT tt.video_id, tt.similarity, tt.needs_check, tt.reason, tf.index, tf.timestamp
    FROM {ThumbnailTruth._meta.db_table} tt LEFT JOIN {_FRAME} tf ON tf.id = tt.frame_id
    WHERE tt.video_id = v.id LIMIT 1
) tt ON true
LEFT JOIN LATERAL (
    SELECT json_agg(json_build_array(c.start, c."end", c.text) ORDER BY c.index)::text AS cues
    FROM {SubtitleCue._meta.db_table} c WHERE c.video_id = v.id
) cues ON true
LEFT JOIN LATERAL (
    SELECT count(*) AS frame_count,
           array_agg(f.index ORDER BY f.index) FILTER (WHERE f.is_candidate) AS candidates
    FROM {_FRAME} f WHERE f.video_id = v.id
) fr ON true
LEFT JOIN LATERAL (
    SELECT json_agg(json_build_object(
        'model', sc.model_version, 'weak_topic_probability', sc.weak_topic_probability,
        'top_topics', sc.top_topics, 'branches', sc.branches,
        'thumbnail_scores', sc.thumbnail_scores, 'thumbnail_frame', sf.index
    ) ORDER BY sc.model_run_id NULLS FIRST, sc.model_version)::text AS scores
    FROM {VideoScore._meta.db_table} sc LEFT JOIN {_FRAME} sf ON sf.id = sc.thumbnail_frame_id
    WHERE sc.video_id = v.id
) sc ON true
ORDER BY k.id
"""
# A split's exported members: verified noise that the split kept out of val/test has a blank subset.
_SPLIT_SQL = _ROWS_SQL.format(
    chunk=f"""SELECT m.video_id AS id, m.subset, m.is_noise FROM {SplitMember._meta.db_table} m
    WHERE m.split_id = %(split)s AND m.subset <> '' AND m.video_id > %(after)s
    ORDER BY m.video_id LIMIT %(limit)s""",
    noise="k.is_noise",
)
# The whole dataset: noise is what the verdicts say.
_DATASET_SQL = _ROWS_SQL.format(
    chunk=f"""SELECT v.id, '' AS subset FROM {_VIDEO} v
    WHERE v.dataset_id = %(dataset)s AND v.id > %(after)s ORDER BY v.id LIMIT %(limit)s""",
    noise="coalesce(vv.label = 'noise', false)",
)
_FRAMES_SQL = f"""
SELECT json_build_object(
    'video', v.external_id, 'index', f.index, 'timestamp', f.timestamp, 'image', f.image,
    'width', f.width, 'height', f.height, 'brightness', f.brightness, 'sharpness', f.sharpness,
    'entropy', f.entropy, 'spread', f.spread, 'is_dark', f.is_dark, 'is_blurry', f.is_blurry,
    'is_uniform', f.is_uniform, 'cluster', f.cluster, 'is_candidate', f.is_candidate
)::text
FROM {_FRAME} f JOIN {_VIDEO} v ON v.id = f.video_id
WHERE f.video_id = ANY(%(ids)s)
ORDER BY f.video_id, f.index
"""


def records_count(*, dataset_id: int, split_id: int | None) -> int:
    """How many records records_chunks will read (videos added meanwhile aside)."""
    with connection.cursor() as cursor:
        if split_id is None:
            cursor.execute(f"SELECT count(*) FROM {_VIDEO} WHERE dataset_id = %s", [dataset_id])
        else:
            cursor.execute(
                f"SELECT count(*) FROM {SplitMember._meta.db_table} WHERE split_id = %s AND subset <> ''",
                [split_id],
            )
        return cursor.fetchone()[0]


def records_chunks(
    *, dataset_id: int, split_id: int | None, verdict_method: str | None, chunk: int
) -> Iterator[list[tuple]]:
    """Every exported video in id order, `chunk` at a time, each as a plain tuple: its subset ('' for
    a whole dataset, and for verified noise a split kept out of val/test), whether it is noise, then
    VIDEO_COLUMNS in order (json and jsonb columns as text). Of a split, its members with a subset;
    else the dataset's videos."""
    sql = _DATASET_SQL if split_id is None else _SPLIT_SQL
    params = {"dataset": dataset_id, "split": split_id, "method": verdict_method, "limit": chunk, "after": 0}
    while True:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            records = cursor.fetchall()
        if not records:
            return
        yield records
        params["after"] = records[-1][2]


def frames_lines(*, video_ids: list[int]) -> list[str]:
    """The frames of these videos as JSON text, built by PostgreSQL (no Python object per field)."""
    with connection.cursor() as cursor:
        cursor.execute(_FRAMES_SQL, {"ids": video_ids})
        return [line for (line,) in cursor.fetchall()]
