"""What the baseline models cost (issue 15): CPU seconds per video of the stages that feed and
score them, training time, and the first stage's throughput beside the full model's.

1. Stages: a generated dataset whose topics are learnable per modality (tests.fixtures.learnable;
   120 clips of 4 s at 180x320 and 12 of 10 s at 720x1280, a phone's size), ingested under a fresh
   slug; every video through the real `stage_execute` for probe, audio, frames, features and,
   after training, score. Per stage and video: wall, CPU of this process, CPU of its ffmpeg and
   ffprobe children (RUSAGE_CHILDREN deltas) and of its PostgreSQL backend (/proc). The features
   stage's inputs also go straight to `text_encoder().encode` and `visual_encoder().video_vector`,
   so text and frames are timed apart. Model loading is timed once, apart; the process's first
   video of each stage (imports, caches) is reported apart and left out of the means.
2. Training as the acceptance test does it: split v0, its val/test verified by two simulated
   annotators (import_answers + aggregate), split v1 frozen, `model_run_create` +
   `model_run_train(score=False)`; wall, CPU, and the run's val mca per branch and fused.
3. Scoring: `dataset_score` over the dataset (videos/s); and pure ml on synthetic arrays
   (BENCH_MODELS_SYNTHETIC videos, default 100,000, x 212 USV topics; visual 1280, audio 164,
   text 768) with models trained by `train_baseline` on 5,000: the first stage's `score` against
   heads + fusion (`BaselineModel.score` without a first stage), and `BaselineModel.score` as the
   product calls it (both). The same-run ratio: first stage over heads + fusion videos/s.
4. Worker-hours (a worker = one core: one torch thread, BLAS on one thread) for 245,000 (USV) and
   12,000,000 (MiCRObE) videos: mean CPU per video of audio + frames + features + score x N /
   3600 per clip size; for 12M also the first stage alone on precomputed features.
"""

import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
WORK = ROOT / "bench" / "work" / "models"
SYNTHETIC_VIDEOS = int(os.environ.get("BENCH_MODELS_SYNTHETIC", 100_000))
SYNTHETIC_TRAIN = 5_000
SYNTHETIC_TOPICS = 212  # USV's taxonomy
SYNTHETIC_CHUNK = 10_000  # scored block by block: the same throughput without a 2 GB peak
NOISE = 5.0
PIPELINE = ("probe", "audio", "frames", "features")
BRANCHES = ("visual", "audio", "text")
WORKER_STAGES = ("audio", "frames", "features", "score")  # the per-video cost
POPULATIONS = {"usv_245k": 245_000, "microbe_12m": 12_000_000}
ONE_THREAD = {"MICROCURATE_TORCH_THREADS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
              "MKL_NUM_THREADS": "1"}  # fmt: skip


def _specs() -> dict:
    from tests.fixtures.learnable import LearnableSpec

    return {
        "small": LearnableSpec(videos_per_topic=20),  # 120 clips, 4 s, 180x320
        "large": LearnableSpec(videos_per_topic=2, width=720, height=1280, seconds=10.0),  # 12 clips
    }


# --- measuring -----------------------------------------------------------------------------------


def _clock(backend_pid: int | None) -> tuple[float, float, float, float]:
    from bench.procstat import cpu_seconds

    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    db = cpu_seconds(backend_pid) if backend_pid else None
    return time.perf_counter(), time.process_time(), children.ru_utime + children.ru_stime, db or 0.0


def _timed(fn, *args, backend_pid: int | None = None, **kwargs) -> tuple[object, dict]:
    """fn's result and its cost: wall, own CPU, children's CPU (waited-for ffmpeg), database CPU."""
    before = _clock(backend_pid)
    result = fn(*args, **kwargs)
    wall, cpu, children, db = (b - a for a, b in zip(before, _clock(backend_pid), strict=True))
    return result, {"wall_s": wall, "cpu_s": cpu + children, "children_cpu_s": children, "db_cpu_s": db}


def _summary(costs: list[dict]) -> dict:
    """Means over the videos (and the median of CPU), rounded for the JSON."""
    out = {"videos": len(costs)}
    for key in costs[0]:
        out[f"mean_{key}"] = round(statistics.fmean(c[key] for c in costs), 4)
    out["median_cpu_s"] = round(statistics.median(c["cpu_s"] for c in costs), 4)
    return out


# --- 1-3: the product's stages on a generated dataset (a child process with Django) -------------


def _answers_csv(path: Path, rows: list[tuple[str, bool]]) -> Path:
    lines = ["video,worker,answer"]
    for external_id, noise in rows:
        answer = "no" if noise else "yes"
        lines += [f"{external_id},annotator-a,{answer}", f"{external_id},annotator-b,{answer}"]
    path.write_text("\n".join(lines) + "\n")
    return path


def _read_rgb(paths: list[Path]) -> list:
    import cv2

    return [cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB) for path in paths]


def _mca(entry: dict | None) -> float | None:
    return None if entry is None else entry["mca"]["value"]


def _pipeline(slug: str, manifest: Path, truth_file: Path, topics_csv: Path) -> dict:
    import django

    django.setup()
    from io import StringIO

    from django.core.management import call_command
    from django.db import connection

    from curation.media_store import media_path
    from curation.models import Dataset, ModelRun, SplitMember, Video
    from curation.services.datasets import dataset_create
    from curation.services.modelling import dataset_score, model_run_create, model_run_train
    from curation.services.modelling.features import good_frames
    from curation.services.pipeline import stage_execute
    from ml.features.text import text_encoder
    from ml.features.visual import tsn_indices, visual_encoder
    from ml.weights import torch_threads

    torch_threads(1)
    quiet = {"stdout": StringIO(), "stderr": StringIO()}
    truth = json.loads(truth_file.read_text())  # external id -> {"group", "noise"}
    texts, load_text = _timed(text_encoder)
    frames_model, load_visual = _timed(visual_encoder)
    costs: dict[str, dict[str, list[dict]]] = {}
    first: dict[str, dict] = {}  # the process's first video per stage: imports, caches, warm-up
    tsn_frames: dict[str, list[int]] = {}  # frames embedded per video, by clip size

    def record(video, stage: str, cost: dict) -> None:
        if stage not in first:
            first[stage] = cost
        else:
            costs.setdefault(truth[video.external_id]["group"], {}).setdefault(stage, []).append(cost)

    dataset = dataset_create(slug=slug, name=slug)
    try:
        call_command("load_taxonomy", "--dataset", slug, str(topics_csv), **quiet)
        call_command(
            "ingest", "--dataset", slug, str(manifest), "--pipeline", "none", "--no-progress", **quiet
        )
        videos = list(Video.objects.filter(dataset=dataset).order_by("id"))
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            backend = cursor.fetchone()[0]

        def stage(video, name: str) -> None:
            status, cost = _timed(stage_execute, video_id=video.id, stage_name=name, backend_pid=backend)
            if status != "done":
                error = Video.objects.get(id=video.id).error
                raise RuntimeError(f"{video.external_id}: {name} ended {status}: {error}")
            record(video, name, cost)

        for video in videos:
            for name in PIPELINE:
                stage(video, name)
            # The features stage's inputs straight to ml: the models' share of the stage.
            record(video, "features.text_encode", _timed(texts.encode, [video.title.strip()])[1])
            good = good_frames(video)
            paths = [media_path(good[i].image) for i in tsn_indices(len(good))]
            tsn_frames.setdefault(truth[video.external_id]["group"], []).append(len(paths))
            images, cost = _timed(_read_rgb, paths)
            record(video, "features.frames_read", cost)
            record(video, "features.visual_embed", _timed(frames_model.video_vector, images)[1])

        call_command("make_split", "--dataset", slug, "--name", "v0", "--ratios", "0.6,0.2,0.2", **quiet)
        sample = SplitMember.objects.filter(
            split__dataset=dataset, split__name="v0", subset__in=["val", "test"]
        ).values_list("video__external_id", flat=True)
        answers = _answers_csv(manifest.with_name("answers.csv"), [(e, truth[e]["noise"]) for e in sample])
        call_command("import_answers", "--dataset", slug, str(answers), **quiet)
        call_command("aggregate", "--dataset", slug, "--method", "usv", **quiet)
        call_command(
            "make_split", "--dataset", slug, "--name", "v1", "--ratios", "0.6,0.2,0.2", "--freeze", **quiet
        )
        run, create = _timed(model_run_create, dataset=dataset, split_name="v1", backend_pid=backend)
        run, train = _timed(model_run_train, run_id=run.id, score=False, backend_pid=backend)
        if run.status != ModelRun.Status.DONE:
            raise RuntimeError(f"training failed: {run.error}")
        metrics = run.metrics
        training = {
            "create": create,
            "train": train,
            "train_baseline_s": run.train_seconds,
            "counts": metrics["counts"],
            "refused": metrics["refused"],
            "val_mca": {
                **{b: _mca(metrics["branches"][b]["val"]) for b in (*BRANCHES, "first_stage")},
                **{f"fused_{k}": _mca(metrics["fused"][k]["val"]) for k in ("usv", "fitted")},
            },
            "winner": metrics["winner"],
        }

        for video in videos:  # the score stage as the pipeline runs it: zero-shot and the run
            stage(video, "score")
        summary, cost = _timed(dataset_score, dataset_id=dataset.id, run_id=run.id, backend_pid=backend)
        scored = {**cost, "videos": len(videos), "scores_stored": summary.scored}
    finally:
        ModelRun.objects.filter(dataset__slug=slug).delete()  # a run protects its split
        Dataset.objects.filter(slug=slug).delete()
    return {
        "model_load": {"text": load_text, "visual": load_visual},
        "first_video": first,
        "tsn_frames_mean": {group: statistics.fmean(n) for group, n in tsn_frames.items()},
        "stages": {group: {name: _summary(c) for name, c in by.items()} for group, by in costs.items()},
        "training": training,
        "dataset_score": scored,
    }


# --- 3: first stage against heads + fusion on synthetic arrays (pure ml, no Django) ---------------


def _synthetic(videos: int) -> dict:
    import numpy as np
    import torch

    from ml.baseline import BaselineModel, FeatureTable, train_baseline
    from ml.features.audio import AUDIO_DIM
    from ml.features.text import TEXT_DIM
    from ml.features.visual import VISUAL_DIM

    torch.set_num_threads(1)
    dims = {"visual": VISUAL_DIM, "audio": AUDIO_DIM, "text": 2 * TEXT_DIM}  # text: title + subtitle
    shares = {"visual": 0.95, "audio": 0.85, "text": 0.9}  # videos that have the branch
    rng = np.random.default_rng(0)
    centres = {b: rng.standard_normal((SYNTHETIC_TOPICS, d), dtype=np.float32) for b, d in dims.items()}

    def draw(n: int) -> tuple[FeatureTable, np.ndarray, np.ndarray]:
        # A topic's centre (unit spread per dimension) under noise of spread NOISE: every branch
        # learnable from ~19 examples a topic, none perfectly (val mca in the result).
        y = rng.integers(SYNTHETIC_TOPICS, size=n)
        branches = {
            b: c[y] + NOISE * rng.standard_normal((n, c.shape[1]), dtype=np.float32)
            for b, c in centres.items()
        }
        present = {b: rng.random(n) < shares[b] for b in centres}
        zero_shot = 0.1 * rng.standard_normal((n, SYNTHETIC_TOPICS), dtype=np.float32)
        zero_shot[np.arange(n), y] += 0.2
        return FeatureTable(branches, present), y, zero_shot

    table, labels, zero_shot = draw(SYNTHETIC_TRAIN)
    subsets = np.array(["train", "val", "test"])[np.searchsorted([0.8, 0.9], rng.random(SYNTHETIC_TRAIN))]
    trained, train = _timed(
        train_baseline, table=table, labels=labels, subsets=subsets, sample_weight=np.ones(SYNTHETIC_TRAIN),
        n_classes=SYNTHETIC_TOPICS, zero_shot=zero_shot,
    )  # fmt: skip
    model = BaselineModel.from_state(trained.state)
    heads = BaselineModel(
        heads=model.heads, weights=model.weights, used=model.used, first_stage=None, n_classes=model.n_classes
    )
    calls = {
        "first_stage": lambda t, z: model.first_stage.score(t.branches, t.present, z),
        "heads_fusion": lambda t, z: heads.score(t),
        "baseline_score": lambda t, z: model.score(t, z),  # as the product calls it: both of the above
    }
    totals = {name: {"wall_s": 0.0, "cpu_s": 0.0} for name in calls}
    for start in range(0, videos, SYNTHETIC_CHUNK):
        table, _, zero_shot = draw(min(SYNTHETIC_CHUNK, videos - start))
        for name, call in calls.items():
            cost = _timed(call, table, zero_shot)[1]
            totals[name]["wall_s"] += cost["wall_s"]
            totals[name]["cpu_s"] += cost["cpu_s"]
    scoring = {
        name: {
            **{k: round(v, 3) for k, v in t.items()},
            "videos": videos,
            "videos_per_cpu_s": round(videos / t["cpu_s"]),
            "videos_per_wall_s": round(videos / t["wall_s"]),
        }
        for name, t in totals.items()
    }
    metrics = trained.metrics
    return {
        "topics": SYNTHETIC_TOPICS,
        "dims": dims,
        "train_videos": SYNTHETIC_TRAIN,
        "train": train,
        "train_baseline_s": round(trained.seconds, 3),
        "val_mca": {
            **{b: _mca(metrics["branches"][b]["val"]) for b in (*dims, "first_stage")},
            "fused_usv": _mca(metrics["fused"]["usv"]["val"]),
        },
        "scoring": scoring,
    }


# --- 4: the parent: clips, children, extrapolation -------------------------------------------------


def _child(args: list[str], env: dict) -> dict:
    command = [sys.executable, str(Path(__file__).resolve()), *args]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"bench_models {args[0]} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _clips() -> tuple[Path, Path, dict]:
    """One manifest over both clip sizes (the large ones' ids prefixed "hd-"), the truth the
    simulated annotators answer from, and what was generated."""
    from tests.fixtures.learnable import learnable_dataset

    rows, truth, made = [], {}, {}
    for group, spec in _specs().items():
        started = time.perf_counter()
        data = learnable_dataset(WORK / group, spec)
        made[group] = {
            "clips": len(data.truth), "seconds": spec.seconds, "size": f"{spec.width}x{spec.height}",
            "fps": spec.fps, "reused": data.reused, "generation_s": round(time.perf_counter() - started, 2),
        }  # fmt: skip
        prefix = "" if group == "small" else "hd-"
        for line in data.manifest.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            truth[prefix + row["id"]] = {"group": group, "noise": data.truth[row["id"]]["noise"]}
            rows.append({**row, "id": prefix + row["id"], "video": str(data.folder / row["video"])})
    manifest = WORK / "manifest.jsonl"
    manifest.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    truth_file = WORK / "truth.json"
    truth_file.write_text(json.dumps(truth))
    return manifest, truth_file, made


def _worker_hours(stages: dict, scored: dict, synthetic: dict) -> dict:
    """Worker-hours = mean CPU seconds per video x videos / 3600 (one worker = one core)."""

    def hours(cpu_per_video: float) -> dict:
        return {name: round(cpu_per_video * n / 3600, 1) for name, n in POPULATIONS.items()}

    out: dict = {"formula": f"mean CPU s per video of {' + '.join(WORKER_STAGES)} x N / 3600"}
    for group, by in stages.items():
        per_video = sum(by[s]["mean_cpu_s"] for s in WORKER_STAGES)
        out[group] = {
            "cpu_s_per_video": round(per_video, 4),
            "worker_hours": hours(per_video),
            "worker_hours_with_probe": hours(per_video + by["probe"]["mean_cpu_s"]),
            # the score stage's per-video cost replaced by dataset_score's batches of 256
            "worker_hours_batched_score": hours(
                per_video - by["score"]["mean_cpu_s"] + scored["cpu_s"] / scored["videos"]
            ),
        }
    for name in ("first_stage", "heads_fusion"):
        scoring = synthetic["scoring"][name]
        per_video = scoring["cpu_s"] / scoring["videos"]
        out[f"{name}_on_precomputed_features"] = {
            "cpu_s_per_video": per_video,
            "microbe_12m": round(per_video * POPULATIONS["microbe_12m"] / 3600, 2),
        }
    return out


def _code_state() -> dict:
    """The commit measured and the measured code's uncommitted files: other sessions edit ml/ and
    curation/ in this working tree while benchmarks run."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout

    dirty = git("status", "--porcelain", "--", "ml", "curation").splitlines()  # "XY path"
    return {"commit": git("rev-parse", "--short", "HEAD").strip(), "uncommitted": [x[3:] for x in dirty]}


def run() -> dict:
    from tests.fixtures.learnable import learnable_topics_csv

    code = _code_state()  # before the minutes of measuring, in which others may commit
    WORK.mkdir(parents=True, exist_ok=True)
    manifest, truth_file, made = _clips()
    topics_csv = learnable_topics_csv(WORK / "topics.csv", _specs()["small"])
    slug = f"bench-models-{time.strftime('%Y%m%d%H%M%S')}-{os.getpid()}"
    media = WORK / f"media-{slug}"
    roots = [r for r in os.environ.get("MICROCURATE_MEDIA_ROOTS", "").split(os.pathsep) if r]
    env = {
        **os.environ, **ONE_THREAD,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "MEDIA_ROOT": str(media),
        "MICROCURATE_MEDIA_ROOTS": os.pathsep.join([*roots, str(WORK)]),
        "MICROCURATE_MODELS_ENABLED": "1",
        "PYTHONWARNINGS": "ignore",
    }  # fmt: skip
    migrate = [sys.executable, "manage.py", "migrate", "--no-input", "-v0"]
    subprocess.run(migrate, cwd=ROOT, env=env, check=True)
    try:
        pipeline = _child(["pipeline", slug, str(manifest), str(truth_file), str(topics_csv)], env)
    finally:
        shutil.rmtree(media, ignore_errors=True)
    synthetic = _child(["synthetic", str(SYNTHETIC_VIDEOS)], env)
    stages, scoring = pipeline["stages"], synthetic["scoring"]
    hours = _worker_hours(stages, pipeline["dataset_score"], synthetic)
    ratio = scoring["first_stage"]["videos_per_cpu_s"] / scoring["heads_fusion"]["videos_per_cpu_s"]
    per_stage = {group: {name: s["mean_cpu_s"] for name, s in by.items()} for group, by in stages.items()}
    return {
        "benchmark": "models",
        "code": code,
        "clips": made,
        "torch_threads": 1,
        "pipeline": pipeline,
        "synthetic": synthetic,
        "worker_hours": hours,
        "summary": {
            "cpu_s_per_video": per_stage,
            "model_load_cpu_s": {k: round(v["cpu_s"], 2) for k, v in pipeline["model_load"].items()},
            "train_wall_s": round(pipeline["training"]["train"]["wall_s"], 2),
            "train_cpu_s": round(pipeline["training"]["train"]["cpu_s"], 2),
            "val_mca": pipeline["training"]["val_mca"],
            "dataset_score_videos_per_s": round(
                pipeline["dataset_score"]["videos"] / pipeline["dataset_score"]["wall_s"], 1
            ),
            "synthetic_train_wall_s": round(synthetic["train"]["wall_s"], 2),
            "first_stage_videos_per_s": scoring["first_stage"]["videos_per_cpu_s"],
            "heads_fusion_videos_per_s": scoring["heads_fusion"]["videos_per_cpu_s"],
            "baseline_score_videos_per_s": scoring["baseline_score"]["videos_per_cpu_s"],
            "first_stage_over_heads_fusion": round(ratio, 2),
            "worker_hours": {group: hours[group]["worker_hours"] for group in stages}
            | {"microbe_12m_first_stage_only": hours["first_stage_on_precomputed_features"]["microbe_12m"]},
        },
    }


if __name__ == "__main__":
    part, *rest = sys.argv[1:]
    if part == "pipeline":
        result = _pipeline(rest[0], *(Path(p) for p in rest[1:]))
    elif part == "synthetic":
        result = _synthetic(int(rest[0]))
    else:
        raise SystemExit(f"unknown part {part!r}: pipeline or synthetic")
    print(json.dumps(result))
