from django.core.checks import run_checks


def test_start_up_fails_clearly_without_ffmpeg(settings):
    settings.MICROCURATE_FFPROBE = "ffprobe-that-is-not-installed"
    errors = [m for m in run_checks() if m.id == "curation.E001"]
    assert len(errors) == 1
    assert "'ffprobe-that-is-not-installed' was not found on PATH" in errors[0].msg
    assert "apt-get install -y ffmpeg" in errors[0].hint


def test_a_media_root_that_is_not_a_folder_is_reported(settings, tmp_path):
    settings.MICROCURATE_MEDIA_ROOTS = [str(tmp_path / "missing")]
    assert [m.id for m in run_checks() if m.id.startswith("curation.")] == ["curation.E002"]


def test_a_healthy_setup_passes_the_checks():
    assert [m for m in run_checks() if m.id.startswith("curation.")] == []
