"""Shared by the OCR tests: generated clips with burnt-in text, processed once per module."""

import contextlib
import json
import shutil
from pathlib import Path

from django.test import override_settings

from curation.lib.subtitles import normalise
from curation.models import Dataset, Video
from curation.services.datasets import dataset_create
from curation.services.ingest import video_ingest
from tests.fixtures.synth_subtitles import TextSpan, subtitled_clip

# Eight seconds at 1 fps: a title card, two subtitles with a gap, a handle throughout.
TITLE = TextSpan(0, 2, "BEACH DAY")
SUBTITLES = [TextSpan(2, 4, "Welcome to the beach"), TextSpan(5, 8, "See you tomorrow")]
HANDLE = "@surfer42"
EXPECTED_CUES = [(0.0, 2.0, "BEACH DAY"), (2.0, 4.0, "Welcome to the beach"), (5.0, 8.0, "See you tomorrow")]


def cue_tuples(video: Video) -> list[tuple[float, float, str]]:
    return [(c.start, c.end, normalise(c.text)) for c in video.subtitle_cues.order_by("index")]


def expected(cues=EXPECTED_CUES) -> list[tuple[float, float, str]]:
    return [(s, e, normalise(t)) for s, e, t in cues]


@contextlib.contextmanager
def processed_clips(
    media: Path,
    slug: str,
    clips: dict[str, dict | Path],
    dataset_settings: dict | None = None,
    ocr: bool = True,
):
    """Generate each clip (name -> subtitled_clip arguments), ingest them into a fresh dataset and
    run every stage inline (OCR too, unless `ocr` is off); committed, so the module's tests share one OCR run.
    Yields {name: Video}; deletes the dataset afterwards."""
    with override_settings(MEDIA_ROOT=media, MICROCURATE_OCR_ENABLED=ocr):
        for name, params in clips.items():
            if isinstance(params, Path):
                shutil.copyfile(params, media / name)  # a real clip
            else:
                subtitled_clip(media / name, **params)
        dataset = dataset_create(slug=slug, name=slug)
        if dataset_settings:
            Dataset.objects.filter(id=dataset.id).update(settings=dataset_settings)
            dataset.refresh_from_db()
        manifest = media / f"{slug}.jsonl"
        manifest.write_text("".join(json.dumps({"video": str(media / n), "id": n}) + "\n" for n in clips))
        summary = video_ingest(dataset=dataset, path=manifest, pipeline="inline")
        assert summary.errors == [], summary.errors
        try:
            yield {v.external_id: v for v in Video.objects.filter(dataset=dataset)}
        finally:
            Dataset.objects.filter(id=dataset.id).delete()
