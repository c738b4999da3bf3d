"""Feature stages: the vectors the baseline models read, one VideoFeature row per (video, kind).

- `audio` (media queue, after probe): ffmpeg writes the first audio track as 16 kHz mono PCM (USV
  Stage III) and ml.features.audio turns it into log-mel statistics. A video without an audio
  stream, or whose audio does not decode, gets a row with no vector and the reason.
- `features` (ml queue, after OCR): the title and the video-level subtitle embedded by
  all-MiniLM-L6-v2, and the good frames (not dark, blurry or uniform) sampled TSN-style (8
  segments) and embedded by EfficientNet-Lite0, mean-pooled per video.

Each row keeps a fingerprint of its input and the extractor's version: a stage run again (a new
OCR pass, a re-score) recomputes a vector only when one of them changed.
"""

import hashlib
import logging
import subprocess
import time

import numpy as np
from django.conf import settings
from django.db import transaction

from curation.errors import InvalidSource, StageError, StageSkipped, TransientStageError
from curation.media_store import media_path, video_file
from curation.models import FEATURE_DIMS, Frame, Video, VideoFeature, VideoSubtitle
from curation.services.probe import probed_demuxer

logger = logging.getLogger("microcurate.features")
AUDIO_TIMEOUT_SECONDS = 300


def models_enabled_or_skip() -> None:
    if not settings.MICROCURATE_MODELS_ENABLED:
        raise StageSkipped("the models are turned off (MICROCURATE_MODELS_ENABLED)")


def _fingerprint(*parts: object) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(str(part).encode("utf-8", "surrogatepass"))
        digest.update(b"\0")
    return digest.hexdigest()


def _up_to_date(video: Video, kind: str, *, extractor: str, input_key: str) -> bool:
    return VideoFeature.objects.filter(
        video=video, kind=kind, extractor=extractor, input_key=input_key
    ).exists()


def feature_store(
    *,
    video: Video,
    kind: str,
    vector: np.ndarray | None,
    extractor: str,
    input_key: str,
    reason: str = "",
    details: dict | None = None,
    seconds: float = 0.0,
) -> VideoFeature:
    """Replace the video's feature of `kind`. A vector of the wrong size or with NaNs is a bug in
    an extractor, refused here rather than stored."""
    values = None
    if vector is not None:
        array = np.asarray(vector, dtype=np.float32).ravel()
        if array.size != FEATURE_DIMS[kind]:
            raise StageError(f"{kind} features have {array.size} values, not {FEATURE_DIMS[kind]}")
        if not np.isfinite(array).all():
            raise StageError(f"{kind} features hold NaN or infinite values")
        values = array.tolist()
    elif not reason:
        raise ValueError(f"a {kind} feature without a vector needs a reason")
    feature, _ = VideoFeature.objects.update_or_create(
        video=video,
        kind=kind,
        defaults={
            "vector": values,
            "extractor": extractor,
            "input_key": input_key,
            "reason": "" if values is not None else reason,
            "details": details or {},
            "seconds": round(seconds, 4),
        },
    )
    return feature


# --- audio -------------------------------------------------------------------------------------


def _pcm(video: Video) -> tuple[bytes, str]:
    """The first audio track as s16le 16 kHz mono; (b"", reason) when it does not decode."""
    from ml.features.audio import SAMPLE_RATE

    try:
        source = video_file(video)
    except InvalidSource as exc:
        raise StageError(str(exc)) from None
    command = [settings.MICROCURATE_FFMPEG, "-v", "error", "-nostdin"]
    # The probed demuxer and local files only: see curation.services.frames.decode.
    command += ["-protocol_whitelist", "file", "-f", probed_demuxer(video), "-i", str(source)]
    command += ["-map", "0:a:0", "-vn", "-sn", "-dn", "-ac", "1", "-ar", str(SAMPLE_RATE)]
    command += ["-t", str(settings.MICROCURATE_AUDIO_MAX_SECONDS), "-f", "s16le", "pipe:1"]
    try:
        done = subprocess.run(command, capture_output=True, timeout=AUDIO_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        raise TransientStageError(
            f"ffmpeg took longer than {AUDIO_TIMEOUT_SECONDS} s reading the audio"
        ) from None
    if done.returncode != 0:
        lines = [line.strip() for line in done.stderr.decode(errors="replace").splitlines() if line.strip()]
        return b"", "the audio track does not decode: " + (
            lines[-1] if lines else f"ffmpeg status {done.returncode}"
        )
    return done.stdout, ""


def video_audio_features(video: Video) -> dict:
    """The audio stage's run function (see curation.services.pipeline)."""
    models_enabled_or_skip()
    from ml.features import audio

    extractor = audio.audio_version()
    input_key = _fingerprint(video.sha256 or video.local_path, video.size_bytes, video.has_audio)
    if _up_to_date(video, "audio", extractor=extractor, input_key=input_key):
        return {}
    started = time.perf_counter()
    if not video.has_audio:
        feature_store(
            video=video, kind="audio", vector=None, extractor=extractor, input_key=input_key,
            reason="the video has no audio stream",
        )  # fmt: skip
        return {}
    data, reason = _pcm(video)
    result = audio.audio_vector(audio.pcm_from_bytes(data)) if data else None
    if result is not None:
        reason = result.reason
    feature_store(
        video=video,
        kind="audio",
        vector=None if result is None else result.vector,
        extractor=extractor,
        input_key=input_key,
        reason=reason or "the audio track is empty",
        details={
            "clips": 0 if result is None else result.clips,
            "seconds_read": len(data) / 2 / audio.SAMPLE_RATE,
        },
        seconds=time.perf_counter() - started,
    )
    return {}


# --- text and frames ---------------------------------------------------------------------------


def _text_features(video: Video) -> None:
    from ml.features.text import text_encoder

    encoder = text_encoder()
    subtitle = VideoSubtitle.objects.filter(video=video).values_list("text", "reason").first()
    texts = {
        "title": (video.title.strip(), "the video has no title"),
        "subtitle": (
            (subtitle[0] if subtitle else "").strip(),
            (subtitle[1] or "no subtitle text was read")
            if subtitle
            else "the video has no subtitle (OCR did not run)",
        ),
    }
    todo = {
        kind: (text, why)
        for kind, (text, why) in texts.items()
        if not _up_to_date(video, kind, extractor=encoder.version, input_key=_fingerprint(text))
    }
    wanted = [text for text, _ in todo.values() if text]
    started = time.perf_counter()
    vectors = iter(encoder.encode(wanted)) if wanted else iter(())
    seconds = (time.perf_counter() - started) / max(1, len(wanted))
    for kind, (text, why) in todo.items():
        feature_store(
            video=video, kind=kind, vector=next(vectors) if text else None, extractor=encoder.version,
            input_key=_fingerprint(text), reason=why, details={"characters": len(text)}, seconds=seconds,
        )  # fmt: skip


def good_frames(video: Video) -> list[Frame]:
    """The sampled frames no quality flag removed, in time order."""
    return list(
        Frame.objects.filter(video=video, is_dark=False, is_blurry=False, is_uniform=False).order_by("index")
    )


def _rgb(frame: Frame) -> np.ndarray:
    import cv2

    image = cv2.imread(str(media_path(frame.image)), cv2.IMREAD_COLOR)
    if image is None:
        raise StageError(f"frame {frame.index} ({frame.image}) cannot be read")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def _visual_features(video: Video) -> None:
    from ml.features.visual import tsn_indices, visual_encoder

    encoder = visual_encoder()
    frames = good_frames(video)
    chosen = [frames[i] for i in tsn_indices(len(frames))]
    input_key = _fingerprint(*(f"{f.index}:{f.image}:{f.timestamp}" for f in chosen))
    if _up_to_date(video, "visual", extractor=encoder.version, input_key=input_key):
        return
    started = time.perf_counter()
    vector = encoder.video_vector([_rgb(f) for f in chosen]) if chosen else None
    feature_store(
        video=video,
        kind="visual",
        vector=vector,
        extractor=encoder.version,
        input_key=input_key,
        reason="no good frames (every sampled frame is dark, blurry or uniform)"
        if Frame.objects.filter(video=video).exists()
        else "the video has no sampled frames",
        details={"frames": [f.index for f in chosen], "good_frames": len(frames)},
        seconds=time.perf_counter() - started,
    )


def video_features(video: Video) -> dict:
    """The features stage's run function: text and frame embeddings."""
    models_enabled_or_skip()
    from ml.weights import torch_threads

    torch_threads(settings.MICROCURATE_TORCH_THREADS)
    with transaction.atomic():
        _text_features(video)
        _visual_features(video)
    return {}


def feature_reasons(video: Video) -> dict[str, str]:
    """Kind → why the video has no vector of that kind (only the missing ones)."""
    rows = VideoFeature.objects.filter(video=video, vector__isnull=True).values_list("kind", "reason")
    return dict(rows)
