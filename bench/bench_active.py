"""Model in the loop (issue 16): which verification order finds the noise, and whether the model's
noise estimate for the unverified videos holds, on real model scores.

1. Real scores: a generated learnable dataset (tests.fixtures.learnable; BENCH_ACTIVE_PER_TOPIC
   videos per topic, default 100 -> 600 clips of 4 s, cues in 75 % of a topic's videos, USV's
   21.7 % label noise, one topic unlearnable) through the real probe, audio, frames and features
   stages in a child process with Django; USV's protocol as the acceptance test runs it (split v0,
   its val/test verified by two annotators, split v1 frozen, `train_baseline`, which scores and
   records the model's noise estimate). Out come each video's weak-topic probability and the
   stored estimate, beside the true noise rate of the videos nobody verified.
2. The simulation (ml.active, no Django) on those probabilities and the generator's truth:
   simulated workers of accuracy U(0.6, 0.95), two answers per verified video, USV's rule. Per
   order (random, likely_noise, uncertain): noisy videos found at a budget of 20 % of the videos,
   answers needed to find 80 % of the noise the rule can catch; over 200 trials. Coverage of the
   model-based estimate's 95 % bootstrap interval (1,000 resamples) in 200 trials, each verifying
   a fresh random 20 %.
3. At USV's size: the same orders on 245,000 videos drawn with replacement from the (probability,
   noise) pairs of step 1 (20 trials): answers to find 80 % of the noise, by order.
"""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
WORK = ROOT / "bench" / "work" / "active"
PER_TOPIC = int(os.environ.get("BENCH_ACTIVE_PER_TOPIC", 100))
BUDGET = 0.2
TRIALS = 200
USV_VIDEOS = 245_000
USV_TRIALS = 20


def _spec():
    from tests.fixtures.learnable import LearnableSpec

    return LearnableSpec(videos_per_topic=PER_TOPIC, cue_probability=0.75)


def _pipeline(slug: str, manifest: Path, truth_file: Path, topics_csv: Path) -> dict:
    import django

    django.setup()
    from io import StringIO

    from django.core.management import call_command

    from bench.bench_models import _answers_csv
    from curation.models import Dataset, ModelRun, NoiseEstimate, SplitMember, Video, VideoScore
    from curation.services.datasets import dataset_create
    from curation.services.labels.noise_model import model_method
    from curation.services.pipeline import stage_execute
    from ml.weights import torch_threads

    torch_threads(1)
    quiet = {"stdout": StringIO(), "stderr": StringIO()}
    truth = json.loads(truth_file.read_text())
    dataset = dataset_create(slug=slug, name=slug)
    started = time.perf_counter()
    try:
        call_command("load_taxonomy", "--dataset", slug, str(topics_csv), **quiet)
        call_command(
            "ingest", "--dataset", slug, str(manifest), "--pipeline", "none", "--no-progress", **quiet
        )
        for video in Video.objects.filter(dataset=dataset).order_by("id"):
            for name in ("probe", "audio", "frames", "features"):
                if stage_execute(video_id=video.id, stage_name=name) != "done":
                    error = Video.objects.get(id=video.id).error
                    raise RuntimeError(f"{video.external_id}: {name} failed: {error}")
        stages_s = time.perf_counter() - started
        call_command("make_split", "--dataset", slug, "--name", "v0", "--ratios", "0.5,0.25,0.25", **quiet)
        sample = list(
            SplitMember.objects.filter(
                split__dataset=dataset, split__name="v0", subset__in=["val", "test"]
            ).values_list("video__external_id", flat=True)
        )
        answers = _answers_csv(manifest.with_name("answers.csv"), [(e, truth[e]) for e in sample])
        call_command("import_answers", "--dataset", slug, str(answers), **quiet)
        call_command("aggregate", "--dataset", slug, "--method", "usv", **quiet)
        call_command(
            "make_split", "--dataset", slug, "--name", "v1", "--ratios", "0.5,0.25,0.25", "--freeze", **quiet
        )
        call_command("train_baseline", "--dataset", slug, "--split", "v1", **quiet)
        run = ModelRun.objects.get(dataset=dataset)
        if run.status != ModelRun.Status.DONE:
            raise RuntimeError(f"training failed: {run.error}")
        scores = dict(
            VideoScore.objects.filter(model_run=run).values_list(
                "video__external_id", "weak_topic_probability"
            )
        )
        stored = NoiseEstimate.objects.get(
            dataset=dataset, estimator="model", method=model_method(run), scope="extrapolation"
        )
        unverified = [e for e in truth if e not in set(sample)]
        estimate = {
            "rate": stored.rate, "low": stored.low, "high": stored.high, "population": stored.population,
            "calibration_videos": stored.n, "calibration_noise": stored.noisy,
            "true_rate_of_the_unverified": sum(truth[e] for e in unverified) / len(unverified),
            "note": "calibrated on val/test (verified), applied to train: scores the run trained on",
        }  # fmt: skip
        val = run.metrics["fused"]["usv"]["val"]  # None when val is too small to measure
        val_mca = val["mca"]["value"] if val else None
    finally:
        ModelRun.objects.filter(dataset__slug=slug).delete()  # a run protects its split
        Dataset.objects.filter(slug=slug).delete()
    return {
        "scores": scores, "stored_model_estimate": estimate, "val_mca_fused": val_mca,
        "stages_and_training_s": round(time.perf_counter() - started, 1), "stages_s": round(stages_s, 1),
    }  # fmt: skip


def _child(args: list[str], env: dict) -> dict:
    command = [sys.executable, str(Path(__file__).resolve()), *args]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"bench_active {args[0]} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _usv_scale(noise, p) -> dict:
    """The orders on USV's 245,000 videos, drawn with replacement from the measured pairs."""
    import numpy as np

    from ml.active import orders_compare

    rng = np.random.default_rng(0)
    pick = rng.integers(noise.size, size=USV_VIDEOS)
    started = time.perf_counter()
    got = orders_compare(noise[pick], p[pick], budget=BUDGET, trials=USV_TRIALS, seed=1)
    return {
        "videos": USV_VIDEOS,
        "noisy": int(noise[pick].sum()),
        "trials": USV_TRIALS,
        "seconds": round(time.perf_counter() - started, 1),
        "orders": {name: vars(result) for name, result in got.items()},
    }


def run() -> dict:
    import numpy as np

    from bench.bench_models import _code_state
    from ml.active import active_report
    from tests.fixtures.learnable import learnable_dataset, learnable_topics_csv

    code = _code_state()
    WORK.mkdir(parents=True, exist_ok=True)
    spec = _spec()
    started = time.perf_counter()
    data = learnable_dataset(WORK / f"clips-{PER_TOPIC}", spec)
    generation_s = time.perf_counter() - started
    manifest = WORK / "manifest.jsonl"
    rows = [json.loads(line) for line in data.manifest.read_text(encoding="utf-8").splitlines()]
    manifest.write_text(
        "".join(
            json.dumps({**r, "video": str(data.folder / r["video"])}, ensure_ascii=False) + "\n" for r in rows
        ),
        encoding="utf-8",
    )
    truth_file = WORK / "truth.json"
    truth_file.write_text(json.dumps({i: t["noise"] for i, t in data.truth.items()}))
    topics_csv = learnable_topics_csv(WORK / "topics.csv", spec)
    slug = f"bench-active-{time.strftime('%Y%m%d%H%M%S')}-{os.getpid()}"
    roots = [r for r in os.environ.get("MICROCURATE_MEDIA_ROOTS", "").split(os.pathsep) if r]
    env = {
        **os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "MEDIA_ROOT": str(WORK / f"media-{slug}"),
        "MICROCURATE_MEDIA_ROOTS": os.pathsep.join([*roots, str(WORK)]), "MICROCURATE_MODELS_ENABLED": "1",
        "MICROCURATE_TORCH_THREADS": "1", "PYTHONWARNINGS": "ignore",
    }  # fmt: skip
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v0"], cwd=ROOT, env=env, check=True
    )
    try:
        pipeline = _child(["pipeline", slug, str(manifest), str(truth_file), str(topics_csv)], env)
    finally:
        shutil.rmtree(WORK / f"media-{slug}", ignore_errors=True)
    ids = sorted(data.truth)
    noise = np.array([data.truth[i]["noise"] for i in ids])
    p = np.array([pipeline["scores"][i] for i in ids], dtype=float)
    started = time.perf_counter()
    report = active_report(noise, p, budget=BUDGET, trials=TRIALS, coverage_trials=TRIALS, n_boot=1000)
    simulation_s = time.perf_counter() - started
    usv = _usv_scale(noise, p)
    orders = report.orders
    return {
        "benchmark": "active",
        "code": code,
        "clips": {"videos": len(ids), "per_topic": PER_TOPIC, "cue_probability": spec.cue_probability,
                  "noise_rate": spec.noise_rate, "reused": data.reused,
                  "generation_s": round(generation_s, 1)},
        "pipeline": {k: v for k, v in pipeline.items() if k != "scores"},
        "probabilities": {"noisy_mean": float(p[noise].mean()), "clean_mean": float(p[~noise].mean())},
        "simulation": {**report.as_dict(), "seconds": round(simulation_s, 1)},
        "usv_scale": usv,
        "summary": {
            "videos": len(ids),
            "noisy_found_at_20pct": {name: round(o.noisy_found, 1) for name, o in orders.items()},
            "likely_noise_over_random": round(report.likely_noise_over_random, 2),
            "answers_to_find_80pct": {name: round(o.answers_to_find) for name, o in orders.items()},
            "coverage": report.coverage.covered,
            "coverage_uncorrected_vs_rule_rate": report.coverage.covered_rule_rate,
            "coverage_refused": report.coverage.refused,
            "usv_245k_answers_to_find_80pct": {
                name: round(o["answers_to_find"]) for name, o in usv["orders"].items()
            },
            "stored_model_estimate": pipeline["stored_model_estimate"],
        },
    }  # fmt: skip


if __name__ == "__main__":
    part, *rest = sys.argv[1:]
    if part != "pipeline":
        raise SystemExit(f"unknown part {part!r}: pipeline")
    print(json.dumps(_pipeline(rest[0], *(Path(p) for p in rest[1:]))))
