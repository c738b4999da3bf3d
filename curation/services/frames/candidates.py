"""From per-frame scores to flags, near-duplicate clusters, candidates and the thumbnail ground truth.

Works on stored scores and descriptors as much as on fresh ones, so thresholds can change without
decoding again (``frames_reselect``). The procedure is the thumbnail benchmark's (seed 004,
section 3.2): drop dark, blurry and uniform-coloured frames, cluster the rest into near-duplicates,
keep one frame per cluster (the sharpest) as a candidate; the candidate nearest to the posted
thumbnail is the ground truth.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from curation.errors import InvalidSource
from curation.lib.neardup import cluster_near_duplicates, cluster_representatives, nearest_frame
from curation.lib.quality import (
    DEFAULT_SPREAD_THRESHOLD,
    DEFAULT_STRUCTURE_THRESHOLD,
    FrameScores,
    Thresholds,
    frame_descriptor,
    frame_flags,
)
from curation.media_store import thumbnail_file
from curation.models import Dataset, Frame, Video
from curation.services.sources import is_url, url_download

THUMBNAIL_MAX_PIXELS = 40_000_000  # a decompression bomb is "not an image" for us


@dataclass(frozen=True)
class Verdict:
    is_dark: bool
    is_blurry: bool
    is_uniform: bool
    cluster: int | None
    is_candidate: bool


@dataclass(frozen=True)
class Truth:
    frame_position: int | None  # index into the frames of the video, None when there is no truth
    similarity: float | None
    needs_check: bool
    reason: str


def dataset_thresholds(dataset: Dataset) -> Thresholds:
    settings_ = dataset.settings or {}
    return Thresholds(
        dark=dataset.dark_threshold,
        blurry=dataset.blur_threshold,
        uniform=dataset.uniform_threshold,
        spread=float(settings_.get("spread_threshold", DEFAULT_SPREAD_THRESHOLD)),
        structure=float(settings_.get("structure_threshold", DEFAULT_STRUCTURE_THRESHOLD)),
    )


def frame_scores_stored(frame: Frame) -> FrameScores:
    """The scores stored on `frame`. A frame sampled before structure was measured has none: 0.0
    keeps its uniform flag what it was (low information alone) until the frames stage runs again."""
    structure = frame.structure if frame.structure is not None else 0.0
    return FrameScores(frame.brightness, frame.sharpness, frame.entropy, frame.spread, structure)


def frames_classify(
    scores: Sequence[FrameScores], descriptors: Sequence[np.ndarray], *, dataset: Dataset
) -> list[Verdict]:
    """Flags, cluster and candidate status of each frame of one video (frames in time order)."""
    thresholds = dataset_thresholds(dataset)
    flags = [frame_flags(s, thresholds) for s in scores]
    good = [i for i, f in enumerate(flags) if not f]
    labels = cluster_near_duplicates([descriptors[i] for i in good], dataset.near_duplicate_threshold)
    representatives = cluster_representatives(labels, [scores[i].sharpness for i in good])
    cluster_of = {i: label for i, label in zip(good, labels, strict=True)}
    candidates = {good[j] for j in representatives}
    return [
        Verdict(
            is_dark="dark" in f,
            is_blurry="blurry" in f,
            is_uniform="uniform" in f,
            cluster=cluster_of.get(i),
            is_candidate=i in candidates,
        )
        for i, f in enumerate(flags)
    ]


def thumbnail_load(video: Video) -> tuple[np.ndarray | None, str]:
    """The posted thumbnail as an RGB array, or None and why not."""
    raw = (video.thumbnail or "").strip()
    if not raw:
        return None, "no posted thumbnail"
    try:
        path = thumbnail_file(video)
        if is_url(raw):
            url_download(raw, path)
    except InvalidSource as exc:
        return None, f"thumbnail cannot be read: {exc}"
    except OSError as exc:
        return None, f"thumbnail could not be downloaded: {exc}"
    if not path.exists():
        return None, f"thumbnail file is missing: {raw}"
    if not path.is_file():
        return None, f"thumbnail is not a file: {raw}"
    data = np.fromfile(path, dtype=np.uint8)
    image = _decode_image(data)
    if image is None:
        return None, f"thumbnail is not an image: {raw} ({len(data)} bytes that no image decoder reads)"
    return image, ""


def _decode_image(data: np.ndarray) -> np.ndarray | None:
    if data.size == 0:
        return None
    header = cv2.imdecode(data, cv2.IMREAD_REDUCED_GRAYSCALE_8)
    if header is None or header.shape[0] * header.shape[1] * 64 > THUMBNAIL_MAX_PIXELS:
        return None
    bgr = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if bgr is None or bgr.size == 0:
        return None
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def thumbnail_truth(
    thumbnail: np.ndarray | None,
    reason: str,
    verdicts: Sequence[Verdict],
    descriptors: Sequence[np.ndarray],
    *,
    frame_size: tuple[int, int],
    dataset: Dataset,
) -> Truth:
    """The candidate nearest to the posted thumbnail and its similarity (below the dataset's
    ``thumbnail_check_similarity`` it is marked for a human check).

    The thumbnail is first resized to the frames' (width, height): the descriptor crops its
    grayscale view to whole multiples of 32 pixels, so images of different sizes would be compared
    on different crops (a 320x180 copy of a 640x360 frame scored 0.92 instead of 0.99).
    """
    if thumbnail is None:
        return Truth(None, None, False, reason)
    candidates = [i for i, v in enumerate(verdicts) if v.is_candidate]
    if not candidates:
        return Truth(None, None, False, "no candidate frames (every frame is dark, blurry or uniform)")
    resized = cv2.resize(thumbnail, frame_size, interpolation=cv2.INTER_AREA)
    best, similarity = nearest_frame(frame_descriptor(resized), [descriptors[i] for i in candidates])
    similarity = min(1.0, max(0.0, similarity))
    return Truth(candidates[best], similarity, similarity < dataset.thumbnail_check_similarity, "")
