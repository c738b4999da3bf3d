"""The export's row records read with the ORM, for databases other than PostgreSQL (the zero-setup
SQLite): a handful of queries per chunk of video ids instead of one statement with LATERAL joins.
It yields the same tuples, in the same column order, as `exports_rows`' SQL, so one function turns
both into rows."""

from collections import defaultdict
from collections.abc import Iterator

import orjson

from curation.models import (
    Frame,
    SplitMember,
    SubtitleCue,
    ThumbnailTruth,
    Video,
    VideoSubtitle,
    VideoVerdict,
)

FRAME_FIELDS = (
    "index", "timestamp", "image", "width", "height", "brightness", "sharpness", "entropy", "spread",
    "is_dark", "is_blurry", "is_uniform", "cluster", "is_candidate",
)  # fmt: skip


def _text(value) -> str | None:
    # The SQL path hands JSON columns over as text; do the same so `_row` parses both alike.
    return None if value is None else orjson.dumps(value).decode()


def orm_records(
    *, dataset_id: int, split_id: int | None, verdict_method: str | None, chunk: int, probe_fields: tuple
) -> Iterator[list[tuple]]:
    after = 0
    while True:
        if split_id is None:
            ids = Video.objects.filter(dataset_id=dataset_id, id__gt=after).order_by("id")
            members = {v: ("", None) for v in ids.values_list("id", flat=True)[:chunk]}
        else:
            rows = (
                SplitMember.objects.filter(split_id=split_id, video_id__gt=after)
                .exclude(subset="")
                .order_by("video_id")
                .values_list("video_id", "subset", "is_noise")[:chunk]
            )
            members = {video: (subset, noise) for video, subset, noise in rows}
        if not members:
            return
        ids = list(members)
        verdicts = {
            v: (label, confidence, used, _text(answers), disputed)
            for v, label, confidence, used, answers, disputed in VideoVerdict.objects.filter(
                video_id__in=ids, method=verdict_method
            ).values_list("video_id", "label", "confidence", "answers_used", "answers", "disputed")
        }
        subtitles = {
            v: (v, text, reason)
            for v, text, reason in VideoSubtitle.objects.filter(video_id__in=ids).values_list(
                "video_id", "text", "reason"
            )
        }
        cues = defaultdict(list)
        for v, start, end, text in (
            SubtitleCue.objects.filter(video_id__in=ids)
            .order_by("video_id", "index")
            .values_list("video_id", "start", "end", "text")
        ):
            cues[v].append([start, end, text])
        frames: dict[int, list] = defaultdict(lambda: [0, []])
        for v, index, candidate in (
            Frame.objects.filter(video_id__in=ids)
            .order_by("video_id", "index")
            .values_list("video_id", "index", "is_candidate")
        ):
            frames[v][0] += 1
            if candidate:
                frames[v][1].append(index)
        truths = {
            row[0]: row
            for row in ThumbnailTruth.objects.filter(video_id__in=ids).values_list(
                "video_id", "frame__index", "frame__timestamp", "similarity", "needs_check", "reason"
            )
        }
        videos = (
            Video.objects.filter(id__in=ids)
            .order_by("id")
            .values_list(
                "id", "external_id", "source", "source_kind", "local_path", "proxy_path", "title",
                "weak_topic__name", "weak_topic__macro_topic", "publisher__external_id", "clicks",
                "thumbnail", "metadata", *probe_fields, "probe_status", "frames_status", "ocr_status",
                "error", "duplicate_group_id",
            )
        )  # fmt: skip
        records = []
        for video in videos:
            subset, noise = members[video[0]]
            verdict = verdicts.get(video[0], (None,) * 5)
            count, candidates = frames[video[0]] if video[0] in frames else (0, [])
            records.append(
                (
                    subset,
                    verdict[0] == "noise" if noise is None else noise,
                    *video[:12],
                    _text(video[12]),
                    *video[13:],
                    *verdict,
                    *subtitles.get(video[0], (None, None, None)),
                    _text(cues[video[0]]) if video[0] in cues else None,
                    count,
                    candidates or None,
                    *truths.get(video[0], (None,) * 6),
                )
            )
        yield records
        after = ids[-1]


def orm_frames_lines(*, video_ids: list[int]) -> list[str]:
    rows = (
        Frame.objects.filter(video_id__in=video_ids)
        .order_by("video_id", "index")
        .values_list("video__external_id", *FRAME_FIELDS)
    )
    lines = []
    for external_id, *values in rows:
        row = {"video": external_id, **dict(zip(FRAME_FIELDS, values, strict=True))}
        lines.append(orjson.dumps(row).decode())
    return lines
