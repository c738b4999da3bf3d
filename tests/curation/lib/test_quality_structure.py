"""Uniform means one flat colour with no content, and OCR reads every frame with structure (issue 17).

Inputs that look like text-first social video, made with ffmpeg drawtext (tests.fixtures.synth_subtitles):
a portrait clip of sparse bright shapes on a dark background with a large burned-in subtitle (the
clip that lost its subtitles and candidates), white text on black, text on a plain colour.
No database.
"""

import subprocess
from pathlib import Path

import numpy as np
import pytest

from curation.lib.quality import (
    FrameScores,
    analyse_frame,
    frame_flags,
    is_readable,
    pick_candidates,
    structure_score,
)
from tests.fixtures.framesets import flat, textured
from tests.fixtures.synth_subtitles import TextSpan, sparse_shapes, subtitled_clip

SUBTITLES = [TextSpan(0, 2, "Keep believing"), TextSpan(2, 4, "Never give up")]


def clip_frames(folder: Path, name: str, **params) -> tuple[np.ndarray, ...]:
    """The clip's frames at 1 fps, at their own size (portrait stays portrait)."""
    path = subtitled_clip(folder / name, seconds=4, fps=5, subtitles=SUBTITLES, boxed=False, **params)
    height, width = (
        params["background"].shape[:2] if "background" in params else (params["height"], params["width"])
    )
    command = [
        "ffmpeg",
        "-v",
        "error",
        "-i",
        str(path),
        "-vf",
        "fps=1",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
    ]
    raw = subprocess.run([*command, "-"], capture_output=True, check=True, timeout=60).stdout
    return tuple(np.frombuffer(raw, np.uint8).reshape(-1, height, width, 3))


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("structure")
    return {
        "portrait_shapes": clip_frames(folder, "shapes.mp4", background=sparse_shapes(360, 640, seed=1)),
        "portrait_black": clip_frames(folder, "black.mp4", pattern="color=c=black", width=360, height=640),
        "landscape_black": clip_frames(folder, "wide.mp4", pattern="color=c=black", width=640, height=360),
        "portrait_colour": clip_frames(
            folder, "colour.mp4", pattern="color=c=0x3366cc", width=360, height=640
        ),
    }


def test_the_portrait_dark_clip_with_subtitles_is_not_uniform_and_keeps_candidates(clips):
    analyses = [analyse_frame(frame) for frame in clips["portrait_shapes"]]

    # Before issue 17 every frame was uniform (entropy or spread low) and no candidate was left.
    assert [sorted(frame_flags(a.scores)) for a in analyses] == [[], [], [], []]
    assert pick_candidates(analyses)


@pytest.mark.parametrize("clip", ["portrait_shapes", "portrait_black", "landscape_black", "portrait_colour"])
def test_every_frame_with_text_is_readable_whatever_its_flags(clips, clip):
    assert all(is_readable(frame) for frame in clips[clip])


def test_a_line_of_white_text_on_black_is_no_thumbnail_but_is_readable(clips):
    frame = clips["portrait_black"][0]

    assert "uniform" in frame_flags(analyse_frame(frame).scores)
    assert is_readable(frame)


@pytest.mark.parametrize(
    "frame",
    [np.zeros((640, 360, 3), np.uint8), np.full((360, 640, 3), (51, 102, 204), np.uint8), flat(2), flat(5)],
    ids=["black", "blue", "flat-noise", "flat-gradient"],
)
def test_truly_flat_frames_are_uniform_and_not_read(frame):
    assert "uniform" in frame_flags(analyse_frame(frame).scores)
    assert not is_readable(frame)


def test_structure_is_the_share_of_cells_with_edges():
    half = np.zeros((128, 128, 3), np.uint8)
    half[:, 68:] = 200  # inside a cell: an edge on a cell border is in none

    assert structure_score(np.zeros((64, 64, 3), np.uint8)) == 0.0
    assert structure_score(textured(0)) > 0.2
    assert 0 < structure_score(half) < 0.2  # only the cells on the one edge


def test_low_information_alone_no_longer_makes_a_frame_uniform():
    sparse = FrameScores(brightness=0.7, sharpness=6.6, entropy=2.5, spread=0.0, structure=0.11)
    speck = FrameScores(brightness=0.7, sharpness=6.6, entropy=2.5, spread=0.0, structure=0.01)

    assert "uniform" not in frame_flags(sparse)
    assert "uniform" in frame_flags(speck)
