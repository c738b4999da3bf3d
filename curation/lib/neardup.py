"""Near-duplicate descriptors, distances and clustering for video frames. Pure: numpy and cv2 only.

A descriptor joins two views of a frame, 255 float32 values:

* a low-frequency DCT signature: the frame in grayscale, area-averaged to 32x32, its 2-D DCT, the
  top-left 8x8 block without the DC term (63 coefficients), scaled to unit length. This is the block
  a pHash thresholds into 63 bits; keeping the values instead of the bits and comparing them by
  cosine is, by Parseval, a normalised cross-correlation of the low-passed frames. It ignores
  brightness offsets, contrast, JPEG noise and blur, and, unlike the bits (a coefficient near the
  median flips on any change), it degrades smoothly under small shifts.
* an 8x8 colour thumbnail (area-averaged RGB in [0, 1]): each cell averages 45x80 pixels of a 360x640
  frame, so shifts and rescales barely move it, and it tells apart frames whose grayscale structure
  is alike but whose colours are not.

``descriptor_distance`` = (1 - cosine of the signatures) / 2 + mean absolute thumbnail difference,
clipped to [0, 1]; ``image_similarity`` (curation.lib.quality) is 1 minus it. Measured on frames of
the shared clips (/work/shared/data/videos) and seeded synthetic pictures (the set that
tests/curation/lib/test_quality.py builds, and a second one with other frames and seeds): a JPEG
re-encoding (q30-70) or a rescale (0.8-1.25) and back moves a frame by at most 0.003, a 2-4% shift by
at most 0.14; frames of different clips or synthetic scenes are 0.38 apart at the least (two colour
noise textures), 0.75 at the median. The 63 bits of a pHash did not separate the same sets (a 4%
shift flipped up to 20 bits, two different noise textures differed in only 16). Cleanvision's
near-duplicate test pair is 0.09 apart, its two mostly-white images (both uniform) 0.27.
DEFAULT_NEARDUP_THRESHOLD = 0.22: 1.5x the largest shift, 1.7x under the closest different scenes.
"""

from collections.abc import Sequence

import cv2
import numpy as np

SIGNATURE_SIZE = 32  # side of the grayscale image the DCT is taken from
SIGNATURE_BLOCK = 8  # top-left block of DCT coefficients kept, without DC: 63 values
SIGNATURE_LENGTH = SIGNATURE_BLOCK * SIGNATURE_BLOCK - 1
THUMB_SIZE = 8  # side of the colour thumbnail
DESCRIPTOR_LENGTH = SIGNATURE_LENGTH + THUMB_SIZE * THUMB_SIZE * 3

DEFAULT_NEARDUP_THRESHOLD = 0.22


def area_resize(img: np.ndarray, side: int) -> np.ndarray:
    """Area-average `img` to side x side, after a centred crop to whole multiples of `side`.

    OpenCV's INTER_AREA takes a fast path only for integer factors (a 360x640 -> 16x16 resize costs
    0.8 ms without the crop, 0.2 ms with it); the crop drops at most side-1 rows and columns.
    """
    height, width = img.shape[:2]
    if height >= side and width >= side:
        top, left = (height % side) // 2, (width % side) // 2
        img = img[top : top + height - height % side, left : left + width - width % side]
    return cv2.resize(img, (side, side), interpolation=cv2.INTER_AREA)


def dct_signature(gray: np.ndarray) -> np.ndarray:
    """The 63 low-frequency AC DCT coefficients of a 2-D uint8 image, scaled to unit length
    (all zeros for a flat image)."""
    small = area_resize(gray, SIGNATURE_SIZE).astype(np.float32)
    block = cv2.dct(small)[:SIGNATURE_BLOCK, :SIGNATURE_BLOCK].ravel()[1:]
    norm = float(np.linalg.norm(block))
    # The 32x32 image is uint8: below this, it differs from a flat one by a few rounding steps.
    return block / norm if norm > 2.0 else np.zeros_like(block)


def colour_thumbnail(rgb: np.ndarray) -> np.ndarray:
    """The area-averaged THUMB_SIZE x THUMB_SIZE RGB thumbnail, flattened, in [0, 1]."""
    return area_resize(rgb, THUMB_SIZE).astype(np.float32).ravel() / 255.0


def descriptor_from_parts(gray: np.ndarray, rgb: np.ndarray) -> np.ndarray:
    """Float32 vector of DESCRIPTOR_LENGTH: the DCT signature of `gray` (a grayscale view of the
    frame, any size), then the colour thumbnail of `rgb` (the frame)."""
    return np.concatenate([dct_signature(gray), colour_thumbnail(rgb)])


def descriptor_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Distance in [0, 1] between two descriptors; 0 means identical."""
    return float(pairwise_distances([a, b])[0, 1])


def pairwise_distances(descriptors: Sequence[np.ndarray]) -> np.ndarray:
    """The symmetric n x n matrix of descriptor distances."""
    if len(descriptors) == 0:
        return np.zeros((0, 0), dtype=np.float32)
    stacked = np.stack(descriptors).astype(np.float32)
    signatures, thumbs = stacked[:, :SIGNATURE_LENGTH], stacked[:, SIGNATURE_LENGTH:]
    flat = ~signatures.any(axis=1)
    signature_part = (1.0 - signatures @ signatures.T) / 2.0
    # A flat frame has no structure to correlate: two flat frames match on structure, a flat and
    # a structured frame are as unrelated as two random ones.
    signature_part[flat[:, None] & flat[None, :]] = 0.0
    thumb_part = np.abs(thumbs[:, None, :] - thumbs[None, :, :]).mean(axis=2)
    distances = np.clip(signature_part + thumb_part, 0.0, 1.0)
    np.fill_diagonal(distances, 0.0)
    return distances


def nearest_frame(query: np.ndarray, descriptors: Sequence[np.ndarray]) -> tuple[int, float]:
    """Index of the descriptor nearest to `query`, and its similarity (1 - distance)."""
    if len(descriptors) == 0:
        raise ValueError("no frames to compare the query with")
    distances = pairwise_distances([query, *descriptors])[0, 1:]
    best = int(np.argmin(distances))
    return best, 1.0 - float(distances[best])


def cluster_near_duplicates(
    descriptors: Sequence[np.ndarray], threshold: float = DEFAULT_NEARDUP_THRESHOLD
) -> list[int]:
    """Cluster label per frame (frames in time order; labels 0, 1, ... by first appearance).

    Leader clustering: each frame joins the existing cluster whose leader (first member) is nearest,
    if that distance is at most `threshold`; otherwise it leads a new cluster. Comparing with the
    leader, not with any member, stops a slow pan from chaining the whole video into one cluster,
    and a shot that comes back later rejoins its first cluster.
    """
    distances = pairwise_distances(descriptors)
    labels: list[int] = []
    leaders: list[int] = []
    for i in range(len(descriptors)):
        if leaders:
            to_leaders = distances[i, leaders]
            nearest = int(np.argmin(to_leaders))
            if to_leaders[nearest] <= threshold:
                labels.append(nearest)
                continue
        leaders.append(i)
        labels.append(len(leaders) - 1)
    return labels


def cluster_representatives(labels: Sequence[int], sharpness: Sequence[float] | None = None) -> list[int]:
    """One frame index per cluster, clusters in order of first appearance: the sharpest member
    (the earliest on ties), or the first member when no sharpness is given."""
    best: dict[int, int] = {}  # dicts keep insertion order: clusters by first appearance
    for i, label in enumerate(labels):
        if label not in best:
            best[label] = i
        elif sharpness is not None and sharpness[i] > sharpness[best[label]]:
            best[label] = i
    return list(best.values())
