"""Per-task verdicts from the answers that count: pure functions, no database.

USV Stage IV: two annotators; two No ⇒ the video is label noise; one Yes and one No ⇒
disagreement (which a dataset may send to a third worker). With more answers the majority
decides, and No needs at least two voices to call a video noise.
"""

from collections import Counter
from collections.abc import Sequence


def topic_verdict(choices: Sequence[str]) -> tuple[str, float | None]:
    """(verdict, agreement) for yes/no/unsure answers; agreement = share of the modal answer."""
    if not choices:
        return "pending", None
    counts = Counter(choices)
    agreement = max(counts.values()) / len(choices)
    yes, no = counts["yes"], counts["no"]
    if no >= 2 and no > yes:
        return "noise", agreement
    if yes > no:
        return "verified", agreement
    if yes and yes == no:
        return "disagreement", agreement
    return "unsure", agreement


def thumbnail_verdict(
    frame_ids: Sequence[int], truth_frame_id: int | None
) -> tuple[str, int | None, float | None]:
    """(verdict, picked frame, agreement): the plurality pick compared with the ground truth.

    A tie between picks is a disagreement and picks no frame.
    """
    if not frame_ids:
        return "pending", None, None
    ranked = Counter(frame_ids).most_common()
    agreement = ranked[0][1] / len(frame_ids)
    if len(ranked) > 1 and ranked[0][1] == ranked[1][1]:
        return "disagreement", None, agreement
    picked = ranked[0][0]
    if truth_frame_id is None:
        return "differs", picked, agreement
    return ("matches_truth" if picked == truth_frame_id else "differs"), picked, agreement
