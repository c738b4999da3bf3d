"""Cross-video near-duplicates (re-uploads of one clip) within a dataset, kept as duplicate groups.

A video's signature is the mean near-duplicate descriptor of its good frames (its DCT part scaled
back to unit length). Two videos whose signatures are within SIGNATURE_PREFILTER are compared
frame by frame: they are duplicates when at least MATCH_FRACTION of the candidate frames of the one
with fewer candidates have a near-duplicate (the dataset's threshold) among the other's good
frames. The prefilter is loose on purpose (a trimmed copy moves the mean); the frame match decides.
Measured on the shared clips and copies made with ffmpeg (rescaled, CRF 26-32, trimmed by 1.5-5.5 s,
cropped 6%): copies are 0.01-0.14 apart in signature and match 0.75-1.0 of their candidates;
different clips are at least 0.50 apart and match none.
Splits (a later issue) keep a group on one side, so "the group of a video" is one column.
"""

from collections.abc import Sequence

import numpy as np
from django.db.models import Q

from curation.lib.neardup import SIGNATURE_LENGTH, pairwise_distances
from curation.models import DuplicateGroup, Frame, StageStatus, Video

SIGNATURE_PREFILTER = 0.35
MATCH_FRACTION = 0.7
CHUNK = 5000


def video_signature(descriptors: Sequence[np.ndarray]) -> np.ndarray | None:
    """The mean descriptor, or None for a video without good frames."""
    if len(descriptors) == 0:
        return None
    mean = np.stack(descriptors).astype(np.float32).mean(axis=0)
    norm = float(np.linalg.norm(mean[:SIGNATURE_LENGTH]))
    mean[:SIGNATURE_LENGTH] = mean[:SIGNATURE_LENGTH] / norm if norm > 1e-6 else 0.0
    return mean


def _as_array(raw) -> np.ndarray:
    return np.frombuffer(bytes(raw), dtype=np.float32)


def frames_match_fraction(
    candidates: Sequence[np.ndarray], others: Sequence[np.ndarray], threshold: float
) -> float:
    """Share of `candidates` that have a descriptor of `others` within `threshold`."""
    if len(candidates) == 0 or len(others) == 0:
        return 0.0
    distances = pairwise_distances([*candidates, *others])[: len(candidates), len(candidates) :]
    return float((distances.min(axis=1) <= threshold).mean())


def _descriptors(video_id: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(candidates, good frames) descriptors of a stored video."""
    rows = Frame.objects.filter(video_id=video_id, cluster__isnull=False).values_list(
        "descriptor", "is_candidate"
    )
    good = [(_as_array(d), c) for d, c in rows]
    return [d for d, c in good if c], [d for d, _ in good]


def video_duplicates_find(*, video: Video, signature: np.ndarray | None = None) -> list[int]:
    """Ids of the other videos of the dataset (frames done) that are near-duplicates of `video`,
    judged on its stored frames and signature (or `signature` when given)."""
    if signature is None:
        if video.signature is None:
            return []
        signature = _as_array(video.signature)
    threshold = video.dataset.near_duplicate_threshold
    others = (
        Video.objects.filter(
            dataset_id=video.dataset_id, frames_status=StageStatus.DONE, signature__isnull=False
        )
        .exclude(id=video.id)
        .values_list("id", "signature")
    )
    close: list[int] = []
    ids: list[int] = []
    signatures: list[np.ndarray] = []
    for other_id, raw in others.iterator(chunk_size=CHUNK):
        ids.append(other_id)
        signatures.append(_as_array(raw))
        if len(ids) == CHUNK:
            close += _prefilter(signature, ids, signatures)
            ids, signatures = [], []
    close += _prefilter(signature, ids, signatures)
    mine_candidates, mine_good = _descriptors(video.id)
    found = []
    for other_id in close:
        theirs_candidates, theirs_good = _descriptors(other_id)
        if len(mine_candidates) <= len(theirs_candidates):
            fraction = frames_match_fraction(mine_candidates, theirs_good, threshold)
        else:
            fraction = frames_match_fraction(theirs_candidates, mine_good, threshold)
        if fraction >= MATCH_FRACTION:
            found.append(other_id)
    return found


def _prefilter(signature: np.ndarray, ids: list[int], signatures: list[np.ndarray]) -> list[int]:
    if not ids:
        return []
    distances = distances_to_one(signature, np.stack(signatures))
    return [ids[i] for i in np.flatnonzero(distances <= SIGNATURE_PREFILTER)]


def distances_to_one(query: np.ndarray, others: np.ndarray) -> np.ndarray:
    """``pairwise_distances`` of `query` to each row of `others` (n x DESCRIPTOR_LENGTH), in O(n)
    memory: the full n x n matrix of a 5,000-video chunk would take gigabytes."""
    query = query.astype(np.float32)
    others = others.astype(np.float32)
    q_sig, o_sig = query[:SIGNATURE_LENGTH], others[:, :SIGNATURE_LENGTH]
    signature_part = (1.0 - o_sig @ q_sig) / 2.0
    q_flat, o_flat = not q_sig.any(), ~o_sig.any(axis=1)
    if q_flat:
        signature_part[o_flat] = 0.0
    thumb_part = np.abs(others[:, SIGNATURE_LENGTH:] - query[SIGNATURE_LENGTH:]).mean(axis=1)
    return np.clip(signature_part + thumb_part, 0.0, 1.0)


def video_duplicates_group(*, video: Video, duplicate_ids: Sequence[int]) -> DuplicateGroup | None:
    """Put `video` and its duplicates into one group, merging the groups they were in. Call inside
    the transaction that holds the dataset's lock, so two re-uploads processed at once see each other.

    A video found to have no duplicates leaves its group; a group left with one member is deleted.
    """
    previous = video.duplicate_group_id
    if not duplicate_ids:
        Video.objects.filter(id=video.id).update(duplicate_group=None)
        video.duplicate_group_id = None
        _drop_singletons([previous])
        return None
    groups = sorted(
        {
            g
            for g in Video.objects.filter(id__in=duplicate_ids).values_list("duplicate_group_id", flat=True)
            if g
        }
    )
    group = (
        DuplicateGroup.objects.get(id=groups[0])
        if groups
        else DuplicateGroup.objects.create(dataset_id=video.dataset_id)
    )
    Video.objects.filter(Q(id__in=[video.id, *duplicate_ids]) | Q(duplicate_group_id__in=groups)).update(
        duplicate_group=group
    )
    video.duplicate_group_id = group.id
    DuplicateGroup.objects.filter(id__in=groups[1:]).delete()
    _drop_singletons([previous])
    return group


def _drop_singletons(group_ids: Sequence[int | None]) -> None:
    for group_id in group_ids:
        if group_id is not None and Video.objects.filter(duplicate_group_id=group_id).count() < 2:
            Video.objects.filter(duplicate_group_id=group_id).update(duplicate_group=None)
            DuplicateGroup.objects.filter(id=group_id).delete()
