"""Issue 15's bad inputs: videos without audio, with audio that does not decode, without good
frames or without text still get features and scores from what they have, and say what was
missing; a training on an unfrozen split, or on too few labels, is refused; a model file that is
missing or corrupt stops start-up with a system check naming it."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from curation.checks import model_files_valid
from curation.models import ModelRun, StageStatus, Video, VideoFeature, VideoScore
from curation.services.pipeline import stage_execute

pytestmark = [pytest.mark.models, pytest.mark.django_db]
STAGES = ("probe", "audio", "frames", "features", "score")


def _run_stages(video: Video) -> None:
    for stage in STAGES:
        assert stage_execute(video_id=video.id, stage_name=stage) == StageStatus.DONE, Video.objects.get(
            id=video.id
        ).error


def _feature(video: Video, kind: str) -> VideoFeature:
    return VideoFeature.objects.get(video=video, kind=kind)


@pytest.fixture
def odd_videos(dataset, make_clip, write_manifest, shared_videos, settings):
    make_clip("silent.mp4", seconds=3, width=180, height=320, audio=False, text="basketball dunk")
    make_clip("dark.mp4", seconds=3, width=180, height=320, pattern="color")
    rows = [
        {"id": "silent", "video": "silent.mp4", "title": "slam dunk basketball", "topic": "basketball"},
        {"id": "dark", "video": "dark.mp4", "title": "", "topic": "basketball"},
        {"id": "failing-audio", "video": str(shared_videos / "moviepy_video_with_failing_audio.mp4"),
         "title": "my cat playing", "topic": "pet cat"},
    ]  # fmt: skip
    call_command(
        "ingest", "--dataset", dataset.slug, str(write_manifest(rows)), "--pipeline", "none", "--no-progress"
    )
    videos = {v.external_id: v for v in Video.objects.filter(dataset=dataset)}
    for video in videos.values():
        _run_stages(video)
    return videos


def test_videos_missing_a_modality_get_scores_from_the_branches_they_have(odd_videos, client, curator):
    silent, dark = odd_videos["silent"], odd_videos["dark"]
    assert _feature(silent, "audio").vector is None
    assert _feature(silent, "audio").reason == "the video has no audio stream"
    assert len(_feature(silent, "visual").vector) == 1280
    assert len(_feature(silent, "title").vector) == 384

    assert _feature(dark, "visual").vector is None
    assert _feature(dark, "visual").reason.startswith("no good frames")
    assert _feature(dark, "title").reason == "the video has no title"
    assert len(_feature(dark, "audio").vector) == 164

    # The failing-audio clip ends its audio stage with a vector or with the reason, never failed.
    failing = _feature(odd_videos["failing-audio"], "audio")
    assert failing.vector is not None or failing.reason

    # Zero-shot scores the silent clip from its title; the dark clip has neither text nor frames
    # (its audio alone has no zero-shot scorer), so nothing is invented for it.
    score = VideoScore.objects.get(video=silent)
    assert score.model_version.startswith("zero-shot/")
    assert score.top_topics[0]["name"] == "basketball"
    assert score.branches["missing"]["audio"] == "the video has no audio stream"
    assert not VideoScore.objects.filter(video=dark).exists()

    # Staff see the scores and what was missing on the filmstrip; the REST API serves them too.
    client.force_login(curator)
    page = client.get(reverse("frontend:filmstrip", args=[silent.id])).content.decode()
    assert score.model_version in page and "No audio features: the video has no audio stream" in page
    assert "Not scored yet" in client.get(reverse("frontend:filmstrip", args=[dark.id])).content.decode()
    body = client.get(f"/api/v1/videos/{silent.id}/scores/").json()
    assert body[0]["top_topics"][0]["name"] == "basketball"
    assert body[0]["model_version"] == score.model_version


def test_training_on_an_unfrozen_split_is_refused(odd_videos, dataset):
    call_command(
        "make_split", "--dataset", dataset.slug, "--name", "v1", "--ratios", "0.5,0.5", stderr=StringIO()
    )
    with pytest.raises(
        CommandError, match="split v1 of usv-sample is not frozen: training on an unfrozen split"
    ):
        call_command("train_baseline", "--dataset", dataset.slug, "--split", "v1")
    assert not ModelRun.objects.exists()
    with pytest.raises(CommandError, match="unknown modalities smell"):
        call_command(
            "train_baseline", "--dataset", dataset.slug, "--split", "v1", "--modalities", "visual,smell"
        )


def test_a_run_on_too_few_labels_says_so_and_reports_no_accuracy(odd_videos, dataset):
    call_command("make_split", "--dataset", dataset.slug, "--name", "tiny", "--ratios", "0.5,0.5", "--freeze",
                 stderr=StringIO())  # fmt: skip
    out = StringIO()
    call_command(
        "train_baseline", "--dataset", dataset.slug, "--split", "tiny", stdout=out, stderr=StringIO()
    )
    run = ModelRun.objects.get()
    assert run.status == "done"
    assert run.metrics["refused"], run.metrics
    assert "accuracy not reported: " in out.getvalue()


def test_a_corrupt_or_missing_model_file_stops_start_up_naming_it(tmp_path, monkeypatch, settings):
    from ml import weights

    settings.MICROCURATE_MODELS_ENABLED = True
    name, original = next(iter(weights.MODEL_FILES.items()))
    corrupt = tmp_path / original.path.name
    corrupt.write_bytes(b"not the weights")
    monkeypatch.setitem(weights.MODEL_FILES, name, type(original)(**{**vars(original), "path": corrupt}))
    errors = model_files_valid()
    assert [e.id for e in errors] == ["curation.E005"]
    assert str(corrupt) in errors[0].msg
    corrupt.unlink()
    errors = model_files_valid()
    assert [e.id for e in errors] == ["curation.E005"] and "missing" in errors[0].msg
    settings.MICROCURATE_MODELS_ENABLED = False
    assert model_files_valid() == []


def test_the_stored_feature_sizes_are_the_extractors():
    from curation.models import FEATURE_DIMS
    from ml.features.audio import AUDIO_DIM
    from ml.features.text import TEXT_DIM
    from ml.features.visual import VISUAL_DIM

    assert FEATURE_DIMS == {"audio": AUDIO_DIM, "title": TEXT_DIM, "subtitle": TEXT_DIM, "visual": VISUAL_DIM}


def test_thumbnail_scores_are_evaluated_against_the_ground_truth_of_a_real_clip(
    dataset, shared_videos, media_dir, write_manifest
):
    import subprocess

    from curation.services.modelling.scoring import thumbnail_evaluate, thumbnail_scores

    # The posted thumbnail: the picture at 6 s of a real clip (the benchmark's ground truth is
    # the candidate frame nearest it).
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-i", str(shared_videos / "imageio_cockatoo.mp4"), "-ss", "6",
         "-frames:v", "1", str(media_dir / "posted.jpg")],
        check=True,
    )  # fmt: skip
    clip = str(shared_videos / "imageio_cockatoo.mp4")
    rows = [{"id": "cockatoo", "video": clip, "thumbnail": "posted.jpg", "topic": "pet bird"}]
    call_command(
        "ingest", "--dataset", dataset.slug, str(write_manifest(rows)), "--pipeline", "none", "--no-progress"
    )
    video = Video.objects.get(dataset=dataset)
    for stage in ("probe", "frames"):
        assert stage_execute(video_id=video.id, stage_name=stage) == StageStatus.DONE
    candidates = video.frames.filter(is_candidate=True).count()
    scores, picked = thumbnail_scores([video.id])[video.id]
    assert len(scores) == candidates >= 2 and all(0 <= s <= 1 for s in scores.values())
    assert video.frames.get(id=picked).is_candidate
    result = thumbnail_evaluate([video.id])
    assert result["asbtv"]["n"] == result["random"]["n"] == 1
    assert result["asbtv"]["value"] == float(picked == video.thumbnail_truth.frame_id)
    assert result["random_expected"] == round(1 / candidates, 4)


def test_training_is_a_staff_only_background_job_and_one_runs_at_a_time(
    odd_videos, dataset, client, curator, worker1
):
    call_command("make_split", "--dataset", dataset.slug, "--name", "v1", "--ratios", "0.5,0.5", "--freeze",
                 stderr=StringIO())  # fmt: skip
    url = f"/api/v1/datasets/{dataset.slug}/model-runs/"
    client.force_login(worker1)
    assert client.post(url, {"split": "v1"}, content_type="application/json").status_code == 403
    assert not ModelRun.objects.exists()
    client.force_login(curator)
    queued = client.post(url, {"split": "v1", "fusion": "fitted"}, content_type="application/json")
    assert queued.status_code == 202, queued.content
    assert queued.json()["status"] == "queued" and queued.json()["settings"]["fusion"] == "fitted"
    again = client.post(url, {"split": "v1"}, content_type="application/json")
    # A second click while the first training runs: 409 with the running action (issue 18).
    assert again.status_code == 409 and again.json()["detail"].startswith("train is already running on")
    assert again.json()["action"]["links"]["model_run"] == f"/api/v1/model-runs/{queued.json()['id']}/"
    assert (
        client.get(f"/api/v1/model-runs/{queued.json()['id']}/").json()["version"] == queued.json()["version"]
    )
    assert client.get("/api/v1/model-runs/999999/").status_code == 404
