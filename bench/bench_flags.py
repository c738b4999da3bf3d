"""Precision and recall of the frame flags (dark, blurry, uniform) and of near-duplicate pairs on
real frames labelled by eye: bench/data/real_frames.csv.

The frames are the shared clips (/work/shared/data/videos) sampled as the frames stage samples them
(1 fps, ``fps=1:round=up``, the display rotation applied, area-scaled so the shorter side is at most
360) and cleanvision's ten test images (/work/shared/data/frames_quality). Each row names a source,
a second (empty for an image), the frame's one label (clean, dark, blurry or uniform, with the
flags' precedence: dark, then uniform, then blurry) and, for near-duplicates, a group.

A flag is counted by each frame's one reason (``primary_flag``), as the labels are. Near-duplicate
pairs, among the clean frames: two frames of one group are near-duplicates; frames of different
sources (other clips, other images) are not; two frames of one clip outside a common group are
left out (consecutive frames of a shot may be near-duplicates in earnest). "before" is the uniform
rule of the code before issue 17 (low entropy or spread alone), measured on the same frames.

Usage: python bench/run.py bench_flags  (or python bench/bench_flags.py: prints the table).
"""

import csv
import itertools
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

LABELS = HERE / "data" / "real_frames.csv"
SHARED_DATA = Path(os.environ.get("MICROCURATE_SHARED_DATA", HERE.parents[1] / "shared" / "data"))
FLAGS = ("dark", "blurry", "uniform")


def _clip_frames(path: Path) -> list[np.ndarray]:
    """The clip's frames at 1 fps, as RGB arrays, in the frames stage's geometry."""
    scale = "scale='if(gt(iw,ih),-2,min(iw,360))':'if(gt(iw,ih),min(ih,360),-2)':flags=area"
    command = ["ffmpeg", "-v", "error", "-nostdin", "-i", str(path), "-vf", f"fps=1:round=up,{scale}",
               "-f", "image2pipe", "-vcodec", "png", "-"]  # fmt: skip
    data = subprocess.run(command, capture_output=True, check=True, timeout=300).stdout
    return [_png(chunk) for chunk in _png_chunks(data)]


def _png_chunks(data: bytes) -> list[bytes]:
    starts = []
    position = data.find(b"\x89PNG\r\n\x1a\n")
    while position >= 0:
        starts.append(position)
        position = data.find(b"\x89PNG\r\n\x1a\n", position + 1)
    return [data[a:b] for a, b in zip(starts, starts[1:] + [len(data)], strict=True)]


def _png(data: bytes) -> np.ndarray:
    import cv2

    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def labelled_frames(root: Path = SHARED_DATA) -> list[dict]:
    """The rows of real_frames.csv, each with its RGB frame under "image"."""
    from PIL import Image

    rows = list(csv.DictReader(LABELS.open(newline="")))
    clips: dict[str, list[np.ndarray]] = {}
    for row in rows:
        path = root / row["source"]
        if row["second"] == "":
            row["image"] = np.asarray(Image.open(path).convert("RGB"))
            continue
        if row["source"] not in clips:
            clips[row["source"]] = _clip_frames(path)
        row["image"] = clips[row["source"]][int(row["second"])]
    return rows


def precision_recall(predicted: list[bool], actual: list[bool]) -> dict:
    hits = sum(p and a for p, a in zip(predicted, actual, strict=True))
    return {
        "precision": round(hits / max(1, sum(predicted)), 3),
        "recall": round(hits / max(1, sum(actual)), 3),
        "labelled": sum(actual),
        "flagged": sum(predicted),
    }


def near_duplicate_pairs(rows: list[dict]) -> list[tuple[int, int, bool]]:
    """(i, j, near-duplicate) for the pairs of clean frames with a known answer. Only clean frames:
    the stage clusters the unflagged ones, and two black frames of two clips are alike in earnest."""
    clean = [i for i, row in enumerate(rows) if row["label"] == "clean"]
    pairs = []
    for i, j in itertools.combinations(clean, 2):
        a, b = rows[i], rows[j]
        same_group = bool(a["duplicates"]) and a["duplicates"] == b["duplicates"]
        if same_group or a["source"] != b["source"]:
            pairs.append((i, j, same_group))
    return pairs


def measure(rows: list[dict]) -> dict:
    from curation.lib.neardup import DEFAULT_NEARDUP_THRESHOLD, descriptor_distance
    from curation.lib.quality import Thresholds, analyse_frame, frame_flags, primary_flag

    analyses = [analyse_frame(row["image"]) for row in rows]
    rules = {"after": Thresholds(), "before": Thresholds(structure=float("inf"))}
    result: dict = {"frames": len(rows), "flags": {}}
    for name, thresholds in rules.items():
        primary = [primary_flag(frame_flags(a.scores, thresholds)) for a in analyses]
        result["flags"][name] = {
            flag: precision_recall([p == flag for p in primary], [r["label"] == flag for r in rows])
            for flag in FLAGS
        }
        result["flags"][name]["wrong"] = [
            f"{r['source'].rsplit('/', 1)[-1]}@{r['second']}: {r['label']} -> {p or 'clean'}"
            for r, p in zip(rows, primary, strict=True)
            if (p or "clean") != r["label"]
        ]
    pairs = near_duplicate_pairs(rows)
    predicted = [
        bool(descriptor_distance(analyses[i].descriptor, analyses[j].descriptor) <= DEFAULT_NEARDUP_THRESHOLD)
        for i, j, _ in pairs
    ]
    result["near_duplicate_pairs"] = precision_recall(predicted, [same for *_, same in pairs])
    result["near_duplicate_pairs"]["pairs"] = len(pairs)
    return result


def table(result: dict) -> str:
    lines = [
        f"| on {result['frames']} real frames | labelled | after: precision / recall | "
        "before: precision / recall |",
        "|---|---|---|---|",
    ]
    after, before = result["flags"]["after"], result["flags"]["before"]
    for flag in FLAGS:
        lines.append(
            f"| {flag} | {after[flag]['labelled']} | {after[flag]['precision']:.2f} / "
            f"{after[flag]['recall']:.2f} | {before[flag]['precision']:.2f} / {before[flag]['recall']:.2f} |"
        )
    pairs = result["near_duplicate_pairs"]
    lines.append(
        f"| near-duplicate pairs ({pairs['pairs']} pairs of clean frames) | {pairs['labelled']} | "
        f"{pairs['precision']:.2f} / {pairs['recall']:.2f} | (unchanged) |"
    )
    return "\n".join(lines)


def run() -> dict:
    result = measure(labelled_frames())
    result["summary"] = {
        flag: [result["flags"]["after"][flag]["precision"], result["flags"]["after"][flag]["recall"]]
        for flag in FLAGS
    } | {
        "near_duplicate_pairs": [
            result["near_duplicate_pairs"]["precision"],
            result["near_duplicate_pairs"]["recall"],
        ]
    }
    result["table"] = table(result)
    return result


if __name__ == "__main__":
    outcome = run()
    print(outcome["table"])
    for name in ("after", "before"):
        print(f"\n{name}: wrong", *outcome["flags"][name]["wrong"], sep="\n  ")
