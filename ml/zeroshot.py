"""Zero-shot topic scores, usable before any human label.

`text_zero_shot` compares a video's text vector with each topic's text vector (USV built its
dataset by querying topic names and synonyms, seeds/001 section 3.1 Stage II, so a topic's words
are a fair description of its videos). `centroid_zero_shot` compares any vectors with each
topic's centroid of the labelled examples (a nearest-class-mean classifier, Mensink et al.,
TPAMI 2013), which works from the first few labels of a topic.

A zero vector means "missing" (the encoders' convention): its row comes back as NaN, so a
caller can tell "no evidence" from "similarity 0".
"""

from __future__ import annotations

import numpy as np


def _matrix(values: np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array, got shape {array.shape}")
    return array


def _unit_rows(array: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rows scaled to length 1, which rows are non-zero); zero rows stay zero."""
    norms = np.linalg.norm(array, axis=1)
    present = norms > 0
    unit = np.zeros_like(array)
    unit[present] = array[present] / norms[present, None]
    return unit, present


def _cosine(vectors: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """(n, C) float32 cosine similarities; NaN where either side is a zero vector."""
    if vectors.shape[1] != targets.shape[1]:
        raise ValueError(f"dimensions differ: vectors are {vectors.shape[1]}-d, topics {targets.shape[1]}-d")
    unit_vectors, vector_present = _unit_rows(vectors)
    unit_targets, target_present = _unit_rows(targets)
    similarity = unit_vectors @ unit_targets.T
    similarity[~vector_present, :] = np.nan
    similarity[:, ~target_present] = np.nan
    return similarity.astype(np.float32)


def text_zero_shot(video_vectors: np.ndarray, topic_vectors: np.ndarray) -> np.ndarray:
    """(n, C) cosine similarity of each video's text vector to each topic's; a video without text
    (a zero row) gets a NaN row."""
    return _cosine(_matrix(video_vectors, "video_vectors"), _matrix(topic_vectors, "topic_vectors"))


def centroid_zero_shot(
    vectors: np.ndarray, labelled: np.ndarray, labels: np.ndarray, n_classes: int
) -> np.ndarray:
    """(n, n_classes) cosine similarity of each vector to each topic's centroid of labelled
    examples; a topic without a labelled example gets a NaN column, a zero vector a NaN row.

    Examples are scaled to unit length before averaging so each counts once, whatever its norm;
    zero (missing) examples are left out."""
    vectors = _matrix(vectors, "vectors")
    labelled = _matrix(labelled, "labelled")
    labels = np.asarray(labels)
    if labels.shape != (len(labelled),):
        raise ValueError(f"labels must have shape ({len(labelled)},), got {labels.shape}")
    if n_classes < 1:
        raise ValueError(f"n_classes must be at least 1, not {n_classes}")
    if len(labels) and not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be integers, got {labels.dtype}")
    if len(labels) and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(f"labels must lie in [0, {n_classes}), got {labels.min()} .. {labels.max()}")
    if labelled.shape[1] != vectors.shape[1]:
        raise ValueError(
            f"dimensions differ: vectors are {vectors.shape[1]}-d, labelled {labelled.shape[1]}-d"
        )
    unit, present = _unit_rows(labelled)
    sums = np.zeros((n_classes, labelled.shape[1]))
    np.add.at(sums, labels[present].astype(np.int64), unit[present])
    # A centroid of opposite examples can cancel to zero: it then has no direction, like no examples.
    return _cosine(vectors, sums)
