"""Frame quality scores and candidate-frame selection for the thumbnail benchmark. Pure: numpy, cv2.

The benchmark (seed paper, section 3.2) keeps as candidate frames those that are not dark, blurry or
uniform-coloured, then clusters near-duplicates away. Frames are HxWx3 uint8 RGB arrays. Everything
is computed on a working copy whose shorter side is at most WORKING_SHORT_SIDE (larger frames are
area-downscaled, smaller ones are never upscaled), so a 360x640 frame is analysed as is.

Where the thresholds come from (the measurements are on frames of the shared clips in
/work/shared/data/videos and seeded synthetic images, labelled by construction; see
tests/curation/lib/test_quality.py, which builds such a set and asserts precision and recall):

* Dark: cleanvision's dark score, exactly: the 99th percentile of perceived brightness
  sqrt(0.241 R^2 + 0.691 G^2 + 0.068 B^2) / 255 (cleanvision issue_managers/image_property.py,
  ``calc_percentile_brightness``, column ``brightness_perc_99``), flagged below cleanvision's default
  0.32 (image_property_issue_manager.py ``get_default_params``).
* Structure: the share of the working frame's 16x16-pixel cells whose gray range (max - min) exceeds
  STRUCTURE_LEVELS (24): where the frame has edges (text, shapes, objects). A flat frame with noise
  sigma <= 1.5, a 16-level gradient or JPEG blocks has none; a logo or disc on a flat frame covers
  <= 1.5% of the cells, one line of subtitle on a portrait or landscape frame 3.5-4.5%, a generated
  clip like issue 17's (sparse bright shapes on a dark background, a subtitle) 11%.
* Uniform means what the thumbnail paper means, one flat colour with no content: low information
  **and** no structure. Low information is either of two scores. The Shannon entropy of the
  256-bin grayscale histogram below 3.0 bits (cleanvision's low-information rule is entropy < 3
  bits, but of PIL's entropy of the RGB image, the three channel histograms pooled) catches frames
  of a few flat colours, even at high contrast. A flat frame with a little noise or a gentle
  gradient has 3-4.1 bits, as many as a low-contrast clean frame (3.6 and up), so the spread (95th
  minus 5th percentile of gray intensity, over 255; a logo under 5% of the frame does not move it)
  catches those: flat frames (noise sigma <= 1.5, gradient <= 16 levels) measured <= 14/255, clean
  frames, even at a third of their contrast, >= 23/255; DEFAULT_SPREAD_THRESHOLD = 18/255. Neither
  score sees edges: white text or sparse shapes on black have 0.1-2.9 bits and a spread of 0, so
  alone they called a portrait clip with a large legible subtitle uniform in all its frames (issue
  17). A frame is uniform only when its structure is also under DEFAULT_STRUCTURE_THRESHOLD (6% of
  the cells), calibrated on real frames (bench/README.md, ``bench/bench_flags.py``): flat frames
  with a logo or disc (<= 1.5%), cleanvision's orange-noise strip (2.6%) and its placeholder card
  ("This photo is no longer available", an icon: 5.8%) are uniform; its orange diamond on white
  (6.4%), a clip like issue 17's (sparse bright shapes on dark, a subtitle: 11%) and every clean
  frame of the shared clips but a plane in a plain sky (1.3-3.2%) are not. A line or two of text
  alone on a plain background (3-4.5%) stays uniform, as no thumbnail, and is still read by OCR.
* Readable (for OCR, not a flag): a frame with structure in at least READABLE_MIN_STRUCTURE of its
  cells (0.2%, two cells of a 640x360 frame: a two-letter word) may hold text, whatever its flags:
  a dark frame with a caption or a plain card with a quote is a bad thumbnail but must be read.
* Blurry: cleanvision's blur score (the variance of PIL's FIND_EDGES) misses most Gaussian blur of
  sigma 3-14 on 360x640 frames. The variance of the Laplacian divided by the intensity variance or
  range did better but still mixed clean and blurred frames (best precision = recall 0.92-0.97):
  8-bit rounding leaves a Laplacian floor that is large next to the signal of a low-contrast frame,
  and a frame with a few sharp edges in large smooth areas has a low variance. The score here is
  the mean absolute 3x3-aperture Laplacian of the sharpest 1% of pixels, on the working frame
  halved (rounding noise averages out, a sigma-3 blur is still 1.5 pixels wide), divided by the
  intensity range (p99 - p1, at least 8 levels) so that a low-contrast but sharp frame is not
  called blurry. Flat borders (letterbox bars) are left out, or their sharp edge would make a
  blurred picture look sharp. Measured: clean frames (also JPEG q30-70, shifted, rescaled, at 30%
  contrast, pillarboxed, dimmed) >= 0.85; blurred frames (sigma 3-14, also with noise sigma 2, JPEG
  q30-50 or sharp bars added) <= 0.78; DEFAULT_BLUR_THRESHOLD = 0.80. A motion blur keeps edges
  along its direction sharp and may pass: cleanvision's blurry test image (a radial zoom blur with a
  readable centre) scores 0.83.

Flags are independent: a uniform frame has no edges, so it is usually "blurry" too, and a black
frame is usually "uniform"; a black frame with a line of white text is uniform (and "dark" when
under 1% of its pixels are bright), and still read: OCR asks ``is_readable``, not the flags.
``primary_flag`` names the one reason to show (dark, then uniform, then blurry), which is also how
cleanvision's labels read: its dark example is not low-information.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from curation.lib.neardup import (
    DEFAULT_NEARDUP_THRESHOLD,
    cluster_near_duplicates,
    cluster_representatives,
    descriptor_distance,
    descriptor_from_parts,
)

WORKING_SHORT_SIDE = 360

DEFAULT_DARK_THRESHOLD = 0.32
DEFAULT_BLUR_THRESHOLD = 0.80
DEFAULT_UNIFORM_THRESHOLD = 3.0  # bits of grayscale entropy
DEFAULT_SPREAD_THRESHOLD = 18 / 255
DEFAULT_STRUCTURE_THRESHOLD = 0.06  # share of cells with edges; a uniform frame has fewer
READABLE_MIN_STRUCTURE = 0.002  # share of cells with edges from which OCR reads a frame

BRIGHTNESS_WEIGHTS = np.array([[0.241, 0.691, 0.068]], dtype=np.float32)  # cleanvision's R, G, B
BRIGHTNESS_PERCENTILE = 99.0
SAMPLE_STRIDE = 17  # coprime with common frame widths, so the sample does not follow columns
SHARPEST_FRACTION = 0.01
MIN_CONTRAST = 8.0  # gray levels; below it a frame is flat and its sharpness is noise
FLAT_BORDER_TOLERANCE = 10  # gray levels a border row or column may vary and still be a bar
STRUCTURE_CELL = 8  # pixels of the halved working frame: 16x16 of the working frame
STRUCTURE_LEVELS = 24  # gray range inside a cell that is an edge, not noise or a gradient

FLAG_PRECEDENCE = ("dark", "uniform", "blurry")


@dataclass(frozen=True)
class FrameScores:
    brightness: float  # [0, 1], cleanvision's 99th-percentile perceived brightness
    sharpness: float  # >= 0, contrast-normalised Laplacian of the sharpest pixels
    entropy: float  # [0, 8] bits, grayscale histogram
    spread: float  # [0, 1], (p95 - p5) of gray intensity / 255
    structure: float  # [0, 1], share of 16x16 cells with an edge


@dataclass(frozen=True)
class Thresholds:
    dark: float = DEFAULT_DARK_THRESHOLD
    blurry: float = DEFAULT_BLUR_THRESHOLD
    uniform: float = DEFAULT_UNIFORM_THRESHOLD
    spread: float = DEFAULT_SPREAD_THRESHOLD
    structure: float = DEFAULT_STRUCTURE_THRESHOLD


@dataclass(frozen=True, eq=False)  # an array field has no truth value to compare by
class FrameAnalysis:
    scores: FrameScores
    descriptor: np.ndarray = field(repr=False)


def working_frame(img: np.ndarray) -> np.ndarray:
    """`img` area-downscaled so that its shorter side is at most WORKING_SHORT_SIDE."""
    _check_rgb(img)
    height, width = img.shape[:2]
    short = min(height, width)
    if short <= WORKING_SHORT_SIDE:
        return img
    scale = WORKING_SHORT_SIDE / short
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(img, size, interpolation=cv2.INTER_AREA)


def brightness_score(img: np.ndarray) -> float:
    """cleanvision's dark score of `img` as given: the 99th percentile of per-pixel perceived
    brightness sqrt(0.241 R^2 + 0.691 G^2 + 0.068 B^2), over 255.

    Matches ``numpy.percentile`` (linear interpolation) on the brightness values; the square root is
    monotonic, so it is taken only of the two order statistics around the percentile.
    """
    _check_rgb(img)
    squared = cv2.transform(np.square(img, dtype=np.float32), BRIGHTNESS_WEIGHTS).ravel()
    position = BRIGHTNESS_PERCENTILE / 100.0 * (squared.size - 1)
    lower = int(position)
    low, high = (float(np.sqrt(v)) for v in _order_statistics(squared, lower))
    return (low + (high - low) * (position - lower)) / 255.0


def entropy_score(img: np.ndarray) -> float:
    """Shannon entropy (bits) of the 256-bin histogram of the grayscale working frame."""
    return _entropy(_gray_histogram(_gray(working_frame(img))))


def spread_score(img: np.ndarray) -> float:
    """(95th - 5th percentile) of the grayscale working frame's intensity, over 255."""
    return _spread(_gray_histogram(_gray(working_frame(img))))


def structure_score(img: np.ndarray) -> float:
    """Share of the working frame's 16x16 cells whose gray range exceeds STRUCTURE_LEVELS."""
    return _structure(_half(_gray(working_frame(img))))


def is_readable(img: np.ndarray) -> bool:
    """Whether OCR should read `img`: it has edges somewhere (text-like content), whatever its
    flags. Truly flat frames (black, one colour, noise) are not worth EasyOCR's time."""
    return structure_score(img) >= READABLE_MIN_STRUCTURE


def sharpness_score(img: np.ndarray) -> float:
    """Mean |Laplacian| of the sharpest 1% of pixels of the halved working frame, over its
    intensity range; low means blurry."""
    return _sharpness(_half(_gray(working_frame(img))))


def frame_scores(img: np.ndarray) -> FrameScores:
    """All scores of `img` (``analyse_frame`` without the descriptor)."""
    return analyse_frame(img).scores


def analyse_frame(img: np.ndarray) -> FrameAnalysis:
    """All scores and the near-duplicate descriptor from one working copy, one grayscale
    conversion and one halving."""
    work = working_frame(img)
    gray = _gray(work)
    histogram = _gray_histogram(gray)
    half = _half(gray)
    scores = FrameScores(
        brightness=brightness_score(work),
        sharpness=_sharpness(half),
        entropy=_entropy(histogram),
        spread=_spread(histogram),
        structure=_structure(half),
    )
    return FrameAnalysis(scores=scores, descriptor=descriptor_from_parts(half, work))


def frame_descriptor(img: np.ndarray) -> np.ndarray:
    """The near-duplicate descriptor (see curation.lib.neardup), as ``analyse_frame`` computes it."""
    work = working_frame(img)
    return descriptor_from_parts(_half(_gray(work)), work)


def image_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Similarity in [0, 1] of two RGB images (sizes may differ): 1 - descriptor distance.

    The measure for the thumbnail ground truth, the candidate frame most similar to the posted
    thumbnail: a re-encoded or resized copy of a frame scores above ~0.96, frames of different
    scenes 0.25 at the median and at most ~0.6.
    """
    return 1.0 - descriptor_distance(frame_descriptor(a), frame_descriptor(b))


def frame_flags(scores: FrameScores, thresholds: Thresholds = Thresholds()) -> set[str]:
    """Independent flags among "dark", "blurry" and "uniform" (see the module docstring)."""
    flags: set[str] = set()
    if scores.brightness < thresholds.dark:
        flags.add("dark")
    if scores.sharpness < thresholds.blurry:
        flags.add("blurry")
    low_information = scores.entropy < thresholds.uniform or scores.spread < thresholds.spread
    if low_information and scores.structure < thresholds.structure:
        flags.add("uniform")
    return flags


def primary_flag(flags: set[str]) -> str | None:
    """The one reason to show for a rejected frame: dark, then uniform, then blurry."""
    return next((flag for flag in FLAG_PRECEDENCE if flag in flags), None)


def pick_candidates(
    analyses: Sequence[FrameAnalysis],
    *,
    thresholds: Thresholds = Thresholds(),
    neardup_threshold: float = DEFAULT_NEARDUP_THRESHOLD,
) -> list[int]:
    """Indices (into `analyses`, frames in time order) of the candidate frames: the frames with no
    flag, clustered into near-duplicates, one per cluster (its sharpest member), in time order."""
    kept = [i for i, analysis in enumerate(analyses) if not frame_flags(analysis.scores, thresholds)]
    labels = cluster_near_duplicates([analyses[i].descriptor for i in kept], neardup_threshold)
    sharpness = [analyses[i].scores.sharpness for i in kept]
    return sorted(kept[j] for j in cluster_representatives(labels, sharpness))


def _order_statistics(squared: np.ndarray, k: int) -> tuple[float, float]:
    """The k-th and (k+1)-th smallest of the squared brightnesses (the k-th twice if it is last).

    A full np.partition of a 360x640 frame costs 1-2 ms, more than the rest of the analysis. A
    strided sample gives a floor a little below the k-th value (the sample's percentile one point
    lower), and only the values above it (~2% of a frame) are partitioned; the rank check keeps the
    result exact, falling back to the full partition if the sample misled us.
    """
    sample = squared[::SAMPLE_STRIDE]
    sample_rank = int(max(0.0, k / squared.size - 0.01) * (sample.size - 1))
    floor = np.partition(sample, sample_rank)[sample_rank]
    candidates = squared[squared >= floor]
    rank = k - (squared.size - candidates.size)
    if rank < 0:
        candidates, rank = squared, k
    part = np.partition(candidates, rank)
    following = part[rank + 1 :].min() if rank + 1 < candidates.size else part[rank]
    return float(part[rank]), float(following)


def _gray(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


def _half(gray: np.ndarray) -> np.ndarray:
    height, width = gray.shape
    if min(height, width) < 32:
        return gray
    # Even sizes keep INTER_AREA on its fast, exact 2x2-average path.
    return cv2.resize(
        gray[: height - height % 2, : width - width % 2],
        (width // 2, height // 2),
        interpolation=cv2.INTER_AREA,
    )


def _gray_histogram(gray: np.ndarray) -> np.ndarray:
    # cv2.calcHist is ~2x faster than np.bincount on a 360x640 frame.
    return cv2.calcHist([gray], [0], None, [256], [0, 256]).ravel()


def _entropy(histogram: np.ndarray) -> float:
    p = histogram[histogram > 0] / histogram.sum()
    return float(max(0.0, -(p * np.log2(p)).sum()))


def _percentile_levels(histogram: np.ndarray, low: float, high: float) -> tuple[int, int]:
    cdf = np.cumsum(histogram) / histogram.sum()
    return int(np.searchsorted(cdf, low)), int(np.searchsorted(cdf, high))


def _spread(histogram: np.ndarray) -> float:
    p5, p95 = _percentile_levels(histogram, 0.05, 0.95)
    return (p95 - p5) / 255.0


def _structure(half: np.ndarray) -> float:
    height, width = half.shape
    rows, cols = height // STRUCTURE_CELL, width // STRUCTURE_CELL
    if rows == 0 or cols == 0:  # a frame of a few pixels has no cell to measure
        return 0.0
    cells = half[: rows * STRUCTURE_CELL, : cols * STRUCTURE_CELL].reshape(
        rows, STRUCTURE_CELL, cols, STRUCTURE_CELL
    )
    spans = cells.max(axis=(1, 3)).astype(np.int16) - cells.min(axis=(1, 3))
    return float(np.count_nonzero(spans > STRUCTURE_LEVELS)) / spans.size


def _sharpness(half: np.ndarray) -> float:
    top, bottom, left, right = _content_box(half)
    # The Laplacian is taken before cropping: a crop edge inside a blurred ramp would otherwise be
    # reflected into a sharp kink. The 2-pixel margin drops the bars' own edges and the frame border.
    laplacian = cv2.Laplacian(half, cv2.CV_16S, ksize=3)[top + 2 : bottom - 2, left + 2 : right - 2]
    if laplacian.size == 0:  # a frame of a few pixels has no inside to measure
        return 0.0
    p1, p99 = _percentile_levels(_gray_histogram(half[top:bottom, left:right]), 0.01, 0.99)
    return _top_mean(np.bincount(np.abs(laplacian).ravel()), SHARPEST_FRACTION) / max(p99 - p1, MIN_CONTRAST)


def _top_mean(counts: np.ndarray, fraction: float) -> float:
    """Mean of the largest `fraction` of the values whose histogram (value -> count) is `counts`."""
    k = max(1, int(counts.sum() * fraction))
    descending = counts[::-1]
    values = np.arange(len(counts) - 1, -1, -1)
    cumulative = np.cumsum(descending)
    last = int(np.searchsorted(cumulative, k))
    taken = float((values[:last] * descending[:last]).sum())
    before = int(cumulative[last - 1]) if last > 0 else 0
    return (taken + float(values[last]) * (k - before)) / k


def _content_box(gray: np.ndarray) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) of `gray` without leading and trailing rows and columns that vary
    by at most FLAT_BORDER_TOLERANCE (letterbox and pillarbox bars); the whole frame when that
    leaves less than 16x16 (a uniform frame)."""
    height, width = gray.shape
    rows = _content_span(gray.max(axis=1).astype(np.int16) - gray.min(axis=1) > FLAT_BORDER_TOLERANCE)
    cols = _content_span(gray.max(axis=0).astype(np.int16) - gray.min(axis=0) > FLAT_BORDER_TOLERANCE)
    if rows is None or cols is None or rows[1] - rows[0] < 16 or cols[1] - cols[0] < 16:
        return 0, height, 0, width
    return rows[0], rows[1], cols[0], cols[1]


def _content_span(has_content: np.ndarray) -> tuple[int, int] | None:
    indices = np.flatnonzero(has_content)
    if indices.size == 0:
        return None
    return int(indices[0]), int(indices[-1]) + 1


def _check_rgb(img: np.ndarray) -> None:
    if not isinstance(img, np.ndarray) or img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
        shape = getattr(img, "shape", None)
        raise ValueError(
            f"expected an HxWx3 uint8 RGB frame, got shape {shape} dtype {getattr(img, 'dtype', None)}"
        )
    if img.shape[0] == 0 or img.shape[1] == 0:
        raise ValueError("the frame is empty")
