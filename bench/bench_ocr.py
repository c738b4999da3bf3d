"""The OCR stage against naive EasyOCR on every 1-fps frame, on the same frames in one run.

Clips: generated ones with burnt-in text (a 360x640 portrait clip on a still background with a
title, three subtitles and a handle; a 640x360 clip on a moving background with subtitles and a
handle; three text-first clips whose frames are dark or plain: outlined white text over sparse
bright shapes on dark in portrait, on black in landscape, on a plain colour in portrait) plus real
clips from ../shared/data/videos (BENCH_OCR_REAL, comma-separated). Every clip
goes through probe and frames first. Then, per video, with the EasyOCR reader already loaded:
- naive: ``reader.readtext`` on every sampled frame at full size (low-confidence reads dropped and
  watermarks filtered the same way, so both sides are compared on the subtitles they would keep);
- optimized: the whole OCR stage (``stage_execute``), storing cues and subtitle in PostgreSQL.
Reported: optimized time as a share of naive (target <= 25 %), and the share of naive's subtitle
characters (normalised video-level text) the optimized stage recovers (target >= 95 %), and the
frames of the generated clips that show text but were not read (must be none).
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
WORK = ROOT / "bench" / "work" / "ocr"
SHARED = Path(os.environ.get("MICROCURATE_SHARED_DATA", ROOT.parent / "shared" / "data"))
REAL = os.environ.get("BENCH_OCR_REAL", "moviepy_chaplin.mp4,mmaction2_demo.mp4,rapidvideocr_2_hardsub.mp4")
TARGET_SHARE, TARGET_RECALL = 0.25, 0.95


def _generated() -> dict[str, dict]:
    from tests.fixtures.synth_subtitles import TextSpan, sparse_shapes

    return {
        "portrait-still.mp4": dict(
            seconds=12, width=360, height=640, font_scale=0.75, handle="@surfer42",
            title=TextSpan(0, 2, "BEACH DAY"),
            subtitles=[TextSpan(2, 5, "Welcome to the sea"), TextSpan(6, 9, "Look at the waves"),
                       TextSpan(9, 12, "See you tomorrow")],
        ),
        "landscape-moving.mp4": dict(
            seconds=10, width=640, height=360, pattern="testsrc2", handle="@mychannel",
            subtitles=[TextSpan(0, 4, "This is the first line"), TextSpan(4, 7, "And here comes another"),
                       TextSpan(7, 10, "Thanks for watching")],
        ),
        # Text-first clips (issue 17): their frames are dark or plain, flagged for thumbnails, and
        # every frame with text must still be read; the 1-s gaps are flat and may be skipped.
        "portrait-dark-shapes.mp4": dict(
            seconds=8, boxed=False, background=sparse_shapes(360, 640, seed=1), font_scale=0.75,
            subtitles=[TextSpan(0, 3, "Keep believing"), TextSpan(3, 6, "Never give up"),
                       TextSpan(6, 8, "Follow for more")],
        ),
        "landscape-black-text.mp4": dict(
            seconds=6, width=640, height=360, pattern="color=c=black", boxed=False,
            subtitles=[TextSpan(0, 2, "Good morning"), TextSpan(3, 6, "Have a nice day")],
        ),
        "portrait-plain-colour.mp4": dict(
            seconds=6, width=360, height=640, pattern="color=c=0x3366cc", boxed=False, font_scale=0.75,
            subtitles=[TextSpan(0, 3, "Good vibes only"), TextSpan(4, 6, "Share with a friend")],
        ),
    }  # fmt: skip


def _clips() -> list[Path]:
    from tests.fixtures.synth_subtitles import subtitled_clip

    clips = []
    for name, params in _generated().items():
        path = WORK / "clips" / name
        if not path.exists():
            subtitled_clip(path, **params)
        clips.append(path)
    return clips + [SHARED / "videos" / name for name in REAL.split(",") if name]


CHILD = """
import json, sys, time
import django
django.setup()
from curation.lib.subtitles import subtitle_track
from curation.models import Dataset, Frame, Video
from curation.services.ocr import engine as ocr_engine
from curation.services.ocr import stage as ocr
from curation.services.datasets import dataset_create
from curation.services.ingest import video_ingest
from curation.services.pipeline import stage_execute
from curation.lib.subtitles import FrameText, confident


# The baseline: plain EasyOCR on every frame at full size; low-confidence text is dropped the
# same way as by the stage, so both sides are compared on the text they would keep.
def frames_read_naive(frames, languages):
    reader = ocr_engine.reader_get(languages)
    results = []
    for frame in frames:
        image = ocr._load(frame)
        if image is None:
            results.append(FrameText(frame.index, frame.timestamp, None, "unreadable"))
            continue
        height, width = image.shape[:2]
        boxes = [ocr_engine._to_box(p, t, c, width, height) for p, t, c in reader.readtext(image)]
        results.append(FrameText(frame.index, frame.timestamp, tuple(confident(boxes)), "ocr"))
    return results


slug, manifest = sys.argv[1], sys.argv[2]
dataset = dataset_create(slug=slug, name=slug)
try:
    video_ingest(dataset=dataset, path=manifest, pipeline="none")
    started = time.perf_counter()
    ocr_engine.reader_get(("en",))
    out = {"reader_load_s": round(time.perf_counter() - started, 3), "videos": {}}
    for video in Video.objects.filter(dataset=dataset).order_by("id"):
        for stage in ("probe", "frames"):
            status = stage_execute(video_id=video.id, stage_name=stage)
            assert status == "done", Video.objects.get(id=video.id).error
        video = Video.objects.get(id=video.id)
        frames = list(Frame.objects.filter(video=video).order_by("index"))
        started = time.perf_counter()
        texts = frames_read_naive(frames, ("en",))
        naive = subtitle_track(texts, interval=1.0, duration=video.duration)
        naive_s = time.perf_counter() - started
        started = time.perf_counter()
        status = stage_execute(video_id=video.id, stage_name="ocr")
        optimized_s = time.perf_counter() - started
        assert status == "done", Video.objects.get(id=video.id).error
        subtitle = Video.objects.get(id=video.id).subtitle
        out["videos"][video.external_id] = {
            "frames": len(frames), "naive_s": round(naive_s, 3), "optimized_s": round(optimized_s, 3),
            "frames_read": subtitle.frames_read, "frames_reused": subtitle.frames_reused,
            "frames_skipped": subtitle.frames_skipped,
            "naive_text": naive.text, "optimized_text": subtitle.text,
            "naive_cues": [[c.start, c.end, c.text] for c in naive.cues],
            "optimized_cues": list(video.subtitle_cues.order_by("index").values_list("start", "end", "text")),
            "watermarks": subtitle.watermarks, "reason": subtitle.reason,
            "statuses": [f["status"] for f in subtitle.frames],
        }
    print(json.dumps(out))
finally:
    Dataset.objects.filter(slug=slug).delete()
"""


def _recovered(naive: str, optimized: str) -> tuple[int, int]:
    """(characters of naive's normalised text that the optimized text matches, naive's length)."""
    from difflib import SequenceMatcher

    from curation.lib.subtitles import normalise

    a, b = normalise(naive), normalise(optimized)
    matched = sum(block.size for block in SequenceMatcher(None, a, b, autojunk=False).get_matching_blocks())
    return matched, len(a)


def _skipped_with_text(videos: dict) -> list[str]:
    """Frames of the generated clips that show text (frame n shows second n) but that the stage
    did not read ("flat" or "unreadable"): "clip@second"."""
    skipped = []
    for name, params in _generated().items():
        spans = [*params.get("subtitles", []), *([params["title"]] if params.get("title") else [])]
        statuses = videos.get(name, {}).get("statuses", [])
        for second, status in enumerate(statuses):
            shows_text = params.get("handle") or any(s.start <= second < s.end for s in spans)
            if shows_text and status not in ("ocr", "reused"):
                skipped.append(f"{name}@{second}")
    return skipped


def run() -> dict:
    WORK.mkdir(parents=True, exist_ok=True)
    clips = _clips()
    manifest = WORK / "manifest.jsonl"
    manifest.write_text("".join(json.dumps({"video": str(p), "id": p.name}) + "\n" for p in clips))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "MEDIA_ROOT": str(WORK / "media"),
        "MICROCURATE_MEDIA_ROOTS": os.pathsep.join([str(SHARED), str(WORK)]),
        "MICROCURATE_OCR_ENABLED": "1",
        "PYTHONWARNINGS": "ignore",
    }
    migrate = [sys.executable, "manage.py", "migrate", "--no-input", "-v0"]
    subprocess.run(migrate, cwd=ROOT, env=env, check=True)
    done = subprocess.run(
        [sys.executable, "-c", CHILD, f"bench-ocr-{time.strftime('%H%M%S')}", str(manifest)],
        cwd=ROOT, env=env, capture_output=True, text=True,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"the OCR benchmark failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    videos = result["videos"]
    naive_s = sum(v["naive_s"] for v in videos.values())
    optimized_s = sum(v["optimized_s"] for v in videos.values())
    matched = total = 0
    for video in videos.values():
        m, t = _recovered(video["naive_text"], video["optimized_text"])
        video["chars_recovered"] = f"{m}/{t}"
        matched, total = matched + m, total + t
    skipped_with_text = _skipped_with_text(videos)
    share = optimized_s / naive_s if naive_s else None
    recall = matched / total if total else 1.0
    return {
        "benchmark": "ocr",
        "videos": videos,
        "reader_load_s": result["reader_load_s"],
        "torch_threads": int(os.environ.get("MICROCURATE_TORCH_THREADS", 1)),
        "summary": {
            "frames": sum(v["frames"] for v in videos.values()),
            "frames_read_by_optimized": sum(v["frames_read"] for v in videos.values()),
            "naive_s": round(naive_s, 2),
            "optimized_s": round(optimized_s, 2),
            "optimized_share_of_naive": round(share, 3) if share is not None else None,
            "target_share": TARGET_SHARE,
            "naive_chars_recovered": round(recall, 4),
            "target_recovered": TARGET_RECALL,
            "generated_frames_with_text_skipped": skipped_with_text,
            "meets_targets": share is not None and share <= TARGET_SHARE and recall >= TARGET_RECALL,
        },
    }
