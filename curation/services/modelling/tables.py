"""From stored rows to the arrays ml/ reads: feature tables, topic vectors, verified labels."""

import hashlib
import threading
from dataclasses import dataclass

import numpy as np

from curation.models import FEATURE_DIMS, Dataset, Topic, VerdictLabel, VideoFeature, VideoVerdict

# A model branch reads these feature kinds, concatenated in this order. The text branch keeps
# title and subtitle apart (a missing one is zeros): a title names the query, a subtitle the
# content, and the head learns how much each says.
BRANCH_KINDS: dict[str, tuple[str, ...]] = {
    "visual": ("visual",),
    "audio": ("audio",),
    "text": ("title", "subtitle"),
}
BRANCHES = tuple(BRANCH_KINDS)
_CHUNK = 2000


@dataclass
class Table:
    """Features of `video_ids` in row order, as ml.baseline.FeatureTable wants them, plus the
    zero-shot text query per video and why each missing branch is missing."""

    video_ids: list[int]
    branches: dict[str, np.ndarray]
    present: dict[str, np.ndarray]
    text_query: np.ndarray  # (n, 384): mean of the title and subtitle vectors, L2-normalised
    missing: list[dict[str, str]]  # per row: branch -> reason

    def feature_table(self, modalities: tuple[str, ...] = BRANCHES):
        from ml.baseline import FeatureTable

        return FeatureTable(
            branches={b: self.branches[b] for b in modalities},
            present={b: self.present[b] for b in modalities},
        )


def feature_table(video_ids: list[int]) -> Table:
    n = len(video_ids)
    row_of = {video_id: row for row, video_id in enumerate(video_ids)}
    kinds: dict[str, np.ndarray] = {
        kind: np.zeros((n, dim), np.float32) for kind, dim in FEATURE_DIMS.items()
    }
    has: dict[str, np.ndarray] = {kind: np.zeros(n, bool) for kind in FEATURE_DIMS}
    reasons: list[dict[str, str]] = [{} for _ in range(n)]
    for start in range(0, n, _CHUNK):
        rows = VideoFeature.objects.filter(video_id__in=video_ids[start : start + _CHUNK]).values_list(
            "video_id", "kind", "vector", "reason"
        )
        for video_id, kind, vector, reason in rows:
            row = row_of[video_id]
            if vector is not None:
                kinds[kind][row] = vector
                has[kind][row] = True
            else:
                reasons[row][kind] = reason
    branches, present = {}, {}
    for branch, members in BRANCH_KINDS.items():
        branches[branch] = np.concatenate([kinds[k] for k in members], axis=1)
        present[branch] = np.logical_or.reduce([has[k] for k in members])
    missing = []
    for row in range(n):
        gaps = {}
        for branch, members in BRANCH_KINDS.items():
            if not present[branch][row]:
                gaps[branch] = "; ".join(reasons[row].get(k, f"no {k} features yet") for k in members)
        missing.append(gaps)
    query = kinds["title"] + kinds["subtitle"]
    norms = np.linalg.norm(query, axis=1, keepdims=True)
    query = np.divide(query, norms, out=np.zeros_like(query), where=norms > 0)
    return Table(list(video_ids), branches, present, query, missing)


_topic_cache: dict[tuple, tuple[list[int], np.ndarray]] = {}
_topic_lock = threading.Lock()


def topic_vectors(dataset: Dataset) -> tuple[list[int], list[str], np.ndarray]:
    """(topic ids, names, (C, 384) embeddings of ml.features.text.topic_text), in id order.
    Cached per process by the texts embedded, so a worker embeds a taxonomy once."""
    from ml.features.text import text_encoder, topic_text

    topics = list(
        Topic.objects.filter(dataset=dataset)
        .order_by("id")
        .values_list("id", "name", "synonyms", "macro_topic")
    )
    texts = [topic_text(name, list(synonyms or []), macro) for _, name, synonyms, macro in topics]
    encoder = text_encoder()
    key = (encoder.version, hashlib.sha256("\n".join(texts).encode()).hexdigest())
    with _topic_lock:
        cached = _topic_cache.get(key)
        if cached is None:
            vectors = encoder.encode(texts) if texts else np.zeros((0, FEATURE_DIMS["title"]), np.float32)
            cached = _topic_cache[key] = ([t[0] for t in topics], vectors)
    return cached[0], [t[1] for t in topics], cached[1]


def verified_topics(
    dataset: Dataset, method: str | None, video_ids: list[int] | None = None
) -> dict[int, bool]:
    """Video id → True where human verification confirmed the weak topic, False where it found
    label noise, from the verdicts of `method` (None: the latest aggregation's method)."""
    from curation.services.splits import verdict_method_default

    method = method or verdict_method_default(dataset=dataset)
    if not method:
        return {}
    rows = VideoVerdict.objects.filter(
        dataset=dataset, method=method, label__in=[VerdictLabel.VERIFIED, VerdictLabel.NOISE]
    )
    if video_ids is not None:
        rows = rows.filter(video_id__in=video_ids)
    return {
        video_id: label == VerdictLabel.VERIFIED for video_id, label in rows.values_list("video_id", "label")
    }
