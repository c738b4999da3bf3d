"""The frames stage against ffmpeg, a naive OpenCV loop and cleanvision, on the same files in one run.

1. Per video (the shared real clips plus generated 20 s 720x1280 portrait clips): the whole frames
   stage (decode at 1 fps, rotate, scale, score, JPEGs, rows swapped in PostgreSQL, duplicate
   lookup) divided by ffmpeg's own time to decode the file at 1 fps to null (target <= 1.5x); the
   same for a naive OpenCV loop that reads every frame and scores one per second.
2. Quality scoring on BENCH_FRAMES_IMAGES (default 2,000) labelled 360x640-or-smaller JPEGs
   (tests.fixtures.framesets: clean, blurred at sigma 3-14, darkened, uniform, near-duplicates by
   JPEG / shift / rescale): our frames/s (read + all scores + descriptor, one process) against
   cleanvision 0.3.7's ``Imagelab.find_issues()`` on the same files (target >= 5x), and each
   one's precision and recall against the known status.

cleanvision runs in its own virtual environment (bench/work/cv-venv, made on first use with pip),
never in the project's. If it cannot be installed, that part reports it and is skipped.
"""

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
WORK = ROOT / "bench" / "work" / "frames"
SHARED = Path(os.environ.get("MICROCURATE_SHARED_DATA", ROOT.parent / "shared" / "data"))
VIDEOS = SHARED / "videos"
CV_VENV = ROOT / "bench" / "work" / "cv-venv"
IMAGES = int(os.environ.get("BENCH_FRAMES_IMAGES", 2000))
GENERATED = int(os.environ.get("BENCH_FRAMES_GENERATED", 2))
CLEANVISION_REFERENCE = {"images_per_s": 52, "blurry_recall_sigma_6_14": 0.04, "near_duplicate_recall": 0.28}


def _videos() -> list[Path]:
    from curation.lib.synth import synth_clip

    clips = sorted(p for p in VIDEOS.iterdir() if p.suffix != ".wav")
    for k in range(GENERATED):
        path = WORK / "clips" / f"portrait-{k}.mp4"
        if not path.exists():
            synth_clip(path, seconds=20.0, width=720, height=1280, fps=30, text=f"clip {k}", audio=True)
        clips.append(path)
    return clips


def _ffmpeg_null(path: Path) -> float:
    started = time.perf_counter()
    subprocess.run(
        ["ffmpeg", "-v", "error", "-nostdin", "-i", str(path), "-an", "-sn", "-dn",
         "-vf", "fps=1", "-f", "null", "-"],
        check=True, capture_output=True,
    )  # fmt: skip
    return time.perf_counter() - started


def _naive_opencv(path: Path, out: Path) -> float:
    """Read every frame with OpenCV, keep one per second, score it and write a JPEG."""
    import cv2

    from curation.lib.quality import analyse_frame, working_frame

    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    capture = cv2.VideoCapture(str(path))
    fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    index, kept = 0, 0
    while True:
        ok, bgr = capture.read()
        if not ok:
            break
        if index >= kept * fps:
            rgb = working_frame(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
            analyse_frame(rgb)
            cv2.imwrite(str(out / f"{kept:05d}.jpg"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
            kept += 1
        index += 1
    capture.release()
    return time.perf_counter() - started


PIPELINE_CHILD = """
import json, sys, time
import django
django.setup()
from curation.models import Dataset, Video
from curation.services.datasets import dataset_create
from curation.services.ingest import video_ingest
from curation.services.pipeline import stage_execute
slug, manifest = sys.argv[1], sys.argv[2]
dataset = dataset_create(slug=slug, name=slug)
try:
    video_ingest(dataset=dataset, path=manifest, pipeline="none")
    times = {}
    for video in Video.objects.filter(dataset=dataset).order_by("id"):
        assert stage_execute(video_id=video.id, stage_name="probe") == "done", video.external_id
        started = time.perf_counter()
        status = stage_execute(video_id=video.id, stage_name="frames")
        seconds = time.perf_counter() - started
        assert status == "done", Video.objects.get(id=video.id).error
        times[video.external_id] = {"seconds": seconds, "frames": video.frames.count(),
                                    "candidates": video.frames.filter(is_candidate=True).count()}
    print(json.dumps(times))
finally:
    Dataset.objects.filter(slug=slug).delete()
"""


def _pipeline(clips: list[Path]) -> dict:
    WORK.mkdir(parents=True, exist_ok=True)
    manifest = WORK / "manifest.jsonl"
    manifest.write_text("".join(json.dumps({"video": str(p), "id": p.name}) + "\n" for p in clips))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "MEDIA_ROOT": str(WORK / "media"),
        "MICROCURATE_MEDIA_ROOTS": os.pathsep.join([str(SHARED), str(WORK)]),
    }
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v0"], cwd=ROOT, env=env, check=True
    )
    done = subprocess.run(
        [sys.executable, "-c", PIPELINE_CHILD, f"bench-frames-{time.strftime('%H%M%S')}", str(manifest)],
        cwd=ROOT, env=env, capture_output=True, text=True,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"the frames pipeline failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _labelled_jpegs() -> list[dict]:
    """Write the labelled frame set as JPEGs (q95) once; returns one record per file."""
    import cv2

    from tests.fixtures.framesets import CLIP_SOURCES, labelled_set

    folder = WORK / f"labelled-{IMAGES}"
    index_file = folder / "index.json"
    if index_file.exists():
        return json.loads(index_file.read_text())
    sources = sum(len(s) for s in CLIP_SOURCES.values())
    textured = max(0, (IMAGES - 54) // 7 - sources)
    frames = labelled_set(VIDEOS, CLIP_SOURCES, textured_seeds=range(textured), flat_seeds=range(54))[:IMAGES]
    folder.mkdir(parents=True, exist_ok=True)
    records = []
    for i, frame in enumerate(frames):
        path = folder / f"{i:05d}.jpg"
        cv2.imwrite(str(path), cv2.cvtColor(frame.image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])
        records.append(
            {
                "path": str(path),
                "status": frame.status,
                "scene": frame.scene,
                "source": frame.source,
                "note": frame.note,
            }
        )
    index_file.write_text(json.dumps(records))
    return records


def _ours(records: list[dict]) -> dict:
    import cv2
    import numpy as np

    from curation.lib.neardup import SIGNATURE_LENGTH
    from curation.lib.quality import analyse_frame, frame_flags

    started = time.perf_counter()
    analyses = [analyse_frame(cv2.cvtColor(cv2.imread(r["path"]), cv2.COLOR_BGR2RGB)) for r in records]
    seconds = time.perf_counter() - started
    flags = [frame_flags(a.scores) for a in analyses]
    clean = [i for i, r in enumerate(records) if r["status"] == "clean"]
    descriptors = np.stack([analyses[i].descriptor for i in clean]).astype(np.float32)
    signatures, thumbs = descriptors[:, :SIGNATURE_LENGTH], descriptors[:, SIGNATURE_LENGTH:]
    pairs = set()
    for start in range(0, len(clean), 64):  # the pairwise distances in row blocks: O(n) memory
        block = slice(start, start + 64)
        sig = (1.0 - signatures[block] @ signatures.T) / 2.0
        thumb = np.abs(thumbs[block, None, :] - thumbs[None, :, :]).mean(axis=2)
        for a, b in zip(*np.nonzero(np.clip(sig + thumb, 0, 1) <= 0.22), strict=True):
            if start + a < b:
                pairs.add((clean[start + a], clean[b]))
    return {"seconds": seconds, "flags": flags, "pairs": pairs}


CLEANVISION_CHILD = """
import json, sys, time
from cleanvision import Imagelab
paths = json.loads(open(sys.argv[1]).read())
lab = Imagelab(filepaths=paths)
started = time.perf_counter()
lab.find_issues(verbose=False)
seconds = time.perf_counter() - started
issues = lab.issues
kinds = ("dark", "blurry", "low_information")
flags = {p: [k for k in kinds if bool(issues.loc[p, f"is_{k}_issue"])] for p in paths}
sets = lab.info["near_duplicates"]["sets"] + lab.info["exact_duplicates"]["sets"]
print(json.dumps({"seconds": seconds, "flags": flags, "sets": [list(s) for s in sets]}))
"""


def _cleanvision(records: list[dict]) -> dict | None:
    python = CV_VENV / "bin" / "python"
    if not python.exists():
        made = subprocess.run([sys.executable, "-m", "venv", str(CV_VENV)], capture_output=True)
        if made.returncode == 0:
            subprocess.run(
                [str(python), "-m", "pip", "install", "-q", "cleanvision==0.3.7"], capture_output=True
            )
    if subprocess.run([str(python), "-c", "import cleanvision"], capture_output=True).returncode != 0:
        return None
    paths_file = WORK / "cleanvision-paths.json"
    paths_file.write_text(json.dumps([r["path"] for r in records]))
    done = subprocess.run(
        [str(python), "-c", CLEANVISION_CHILD, str(paths_file)], capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"cleanvision failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    position = {r["path"]: i for i, r in enumerate(records)}
    flags = [
        {"uniform" if f == "low_information" else f for f in result["flags"][r["path"]]} for r in records
    ]
    pairs = set()
    for members in result["sets"]:
        ids = sorted(position[p] for p in members)
        pairs.update((a, b) for i, a in enumerate(ids) for b in ids[i + 1 :])
    return {"seconds": result["seconds"], "flags": flags, "pairs": pairs}


def _accuracy(records: list[dict], found: dict) -> dict:
    """Precision and recall of each flag (a frame's one reason: dark, then uniform, then blurry, as
    tests/curation/lib/test_quality.py counts) and of near-duplicate pairs among the clean frames
    (only copies of one source frame are near-duplicates; other frames of one clip are left out)."""
    from curation.lib.quality import primary_flag

    out = {}
    primary = [primary_flag(set(f)) for f in found["flags"]]
    for flag in ("dark", "blurry", "uniform"):
        predicted = [p == flag for p in primary]
        actual = [r["status"] == flag for r in records]
        hits = sum(p and a for p, a in zip(predicted, actual, strict=True))
        out[flag] = {
            "precision": round(hits / max(1, sum(predicted)), 3),
            "recall": round(hits / max(1, sum(actual)), 3),
        }
    blurred = [i for i, r in enumerate(records) if r["status"] == "blurry" and int(r["note"].split()[1]) >= 6]
    out["blurry"]["recall_sigma_6_14"] = round(
        sum("blurry" in found["flags"][i] for i in blurred) / len(blurred), 3
    )
    clean = {i for i, r in enumerate(records) if r["status"] == "clean"}
    truth = {(a, b) for a in clean for b in clean if a < b and records[a]["source"] == records[b]["source"]}
    same_scene = {
        (a, b)
        for a in clean
        for b in clean
        if a < b
        and records[a]["scene"] == records[b]["scene"]
        and records[a]["source"] != records[b]["source"]
    }
    predicted = {p for p in found["pairs"] if p[0] in clean and p[1] in clean and p not in same_scene}
    hits = len(predicted & truth)
    by_kind = {}
    for kind in ("jpeg", "shift", "rescale"):
        kind_pairs = {p for p in truth if kind in (records[p[0]]["note"], records[p[1]]["note"])}
        by_kind[kind] = round(len(kind_pairs & predicted) / max(1, len(kind_pairs)), 3)
    out["near_duplicate_pairs"] = {
        "precision": round(hits / max(1, len(predicted)), 3),
        "recall": round(hits / max(1, len(truth)), 3),
        "recall_by_copy": by_kind,
    }
    return out


def run() -> dict:
    clips = _videos()
    ffmpeg_times = {p.name: _ffmpeg_null(p) for p in clips}
    naive_times = {p.name: _naive_opencv(p, WORK / "naive" / p.stem) for p in clips}
    ours = _pipeline(clips)
    per_video = {
        name: {
            "ffmpeg_1fps_null_s": round(ffmpeg_times[name], 3),
            "pipeline_s": round(ours[name]["seconds"], 3),
            "naive_opencv_s": round(naive_times[name], 3),
            "frames": ours[name]["frames"],
            "candidates": ours[name]["candidates"],
        }
        for name in ffmpeg_times
    }
    ratios = [v["pipeline_s"] / v["ffmpeg_1fps_null_s"] for v in per_video.values()]
    naive_ratios = [v["naive_opencv_s"] / v["ffmpeg_1fps_null_s"] for v in per_video.values()]
    total = {
        k: sum(v[k] for v in per_video.values())
        for k in ("ffmpeg_1fps_null_s", "pipeline_s", "naive_opencv_s")
    }

    records = _labelled_jpegs()
    mine = _ours(records)
    theirs = _cleanvision(records)
    quality = {
        "images": len(records),
        "ours_images_per_s": round(len(records) / mine["seconds"], 1),
        "ours_accuracy": _accuracy(records, mine),
    }
    if theirs is not None:
        quality["cleanvision_images_per_s"] = round(len(records) / theirs["seconds"], 1)
        quality["cleanvision_accuracy"] = _accuracy(records, theirs)
        quality["x_cleanvision"] = round(theirs["seconds"] / mine["seconds"], 1)
        both = [set(a) == set(b) for a, b in zip(mine["flags"], theirs["flags"], strict=True)]
        quality["same_flags_as_cleanvision"] = round(sum(both) / len(both), 3)
    else:
        quality["cleanvision"] = "not installable here: skipped"
    return {
        "benchmark": "frames",
        "videos": per_video,
        "totals_s": {k: round(v, 2) for k, v in total.items()},
        "quality": quality,
        "cleanvision_reference": CLEANVISION_REFERENCE,
        "summary": {
            "pipeline_x_ffmpeg_total": round(total["pipeline_s"] / total["ffmpeg_1fps_null_s"], 2),
            "pipeline_x_ffmpeg_median": round(statistics.median(ratios), 2),
            "naive_opencv_x_ffmpeg_total": round(total["naive_opencv_s"] / total["ffmpeg_1fps_null_s"], 2),
            "naive_opencv_x_ffmpeg_median": round(statistics.median(naive_ratios), 2),
            "quality_images_per_s": quality["ours_images_per_s"],
            "quality_x_cleanvision": quality.get("x_cleanvision"),
            "targets": "pipeline <= 1.5x ffmpeg; quality >= 5x cleanvision",
        },
    }


if __name__ == "__main__":
    print(json.dumps(run()["summary"], indent=2))
