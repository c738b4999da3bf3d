"""Frame quality flags and near-duplicate clustering, measured on frames whose status we built.

No database: curation.lib is pure numpy/cv2. The labelled set (tests.fixtures.framesets) is made from
frames of the shared clips (/work/shared/data/videos) and seeded synthetic pictures: per clean source
frame, three constructed near-duplicates (JPEG q30-70, a 2-4% shift, a 0.8-1.25 rescale and back),
two Gaussian blurs (sigma 3-14, half of them JPEG re-encoded) and a darkened copy; flat frames are the
uniform class. 220 frames, analysed once per session.
"""

import itertools
import os
import subprocess
import sys
from functools import cache
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from curation.lib.neardup import (
    DEFAULT_NEARDUP_THRESHOLD,
    cluster_near_duplicates,
    cluster_representatives,
    descriptor_distance,
    nearest_frame,
    pairwise_distances,
)
from curation.lib.quality import (
    FrameAnalysis,
    FrameScores,
    Thresholds,
    analyse_frame,
    brightness_score,
    entropy_score,
    frame_descriptor,
    frame_flags,
    image_similarity,
    pick_candidates,
    primary_flag,
    sharpness_score,
    spread_score,
    working_frame,
)
from tests.fixtures.framesets import (
    CLIP_SOURCES,
    Labelled,
    darken,
    decode_frames,
    flat,
    jpeg,
    labelled_set,
    rescale,
    textured,
)

SHARED_DATA = Path(
    os.environ.get("MICROCURATE_SHARED_DATA", Path(__file__).resolve().parents[4] / "shared" / "data")
)
VIDEOS = SHARED_DATA / "videos"
CLEANVISION_IMAGES = SHARED_DATA / "frames_quality" / "cleanvision_tests_data"


def decode(clip: str, seconds: list[float]) -> list[np.ndarray]:
    return decode_frames(VIDEOS / clip, seconds)


@cache
def labelled_frames() -> tuple[Labelled, ...]:
    return tuple(labelled_set(VIDEOS, CLIP_SOURCES))


@cache
def analysed() -> tuple[FrameAnalysis, ...]:
    return tuple(analyse_frame(frame.image) for frame in labelled_frames())


def precision_recall(predicted: list[bool], actual: list[bool]) -> tuple[float, float]:
    true_positives = sum(p and a for p, a in zip(predicted, actual, strict=True))
    return true_positives / max(1, sum(predicted)), true_positives / max(1, sum(actual))


@cache
def cleanvision_analyses() -> dict[str, FrameAnalysis]:
    """cleanvision's test images by number: 417 is its dark one, 588 and 591 low-information,
    142 = 236 its exact duplicates, 103 and 408 its near duplicates, 601 its blurry one."""
    return {
        path.stem.removeprefix("image_"): analyse_frame(np.asarray(Image.open(path).convert("RGB")))
        for path in sorted(CLEANVISION_IMAGES.glob("*.png"))
    }


def _sparse_bright_pixels() -> np.ndarray:
    """Bright pixels at 0.15% of the positions, all on the brightness score's stride-17 sample:
    the sample alone would put the floor above the 99th percentile (it must fall back)."""
    img = np.full((360 * 640, 3), 20, np.uint8)
    img[::17][::40] = 250
    return img.reshape(360, 640, 3)


# --- the scores ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "img",
    [
        np.random.default_rng(1).integers(0, 256, (97, 131, 3), dtype=np.uint8),
        np.random.default_rng(2).integers(250, 256, (40, 40, 3), dtype=np.uint8),
        np.random.default_rng(3).integers(0, 256, (1, 2, 3), dtype=np.uint8),
        textured(4),
        _sparse_bright_pixels(),
    ],
    ids=["noise", "near-white", "two-pixels", "picture", "sparse-bright"],
)
def test_brightness_is_cleanvisions_99th_percentile_of_perceived_brightness(img):
    rgb = img.astype(np.float64)
    perceived = np.sqrt(0.241 * rgb[..., 0] ** 2 + 0.691 * rgb[..., 1] ** 2 + 0.068 * rgb[..., 2] ** 2) / 255

    assert brightness_score(img) == pytest.approx(np.percentile(perceived, 99), abs=1e-6)


def test_brightness_of_black_and_white_frames():
    assert brightness_score(np.zeros((8, 8, 3), np.uint8)) == 0.0
    assert brightness_score(np.full((8, 8, 3), 255, np.uint8)) == pytest.approx(1.0)


def test_entropy_counts_the_bits_of_the_gray_histogram():
    two_levels = np.zeros((10, 10, 3), np.uint8)
    two_levels[:5] = 200

    assert entropy_score(np.full((10, 10, 3), 90, np.uint8)) == 0.0
    assert entropy_score(two_levels) == pytest.approx(1.0)


def test_spread_ignores_a_logo_smaller_than_five_percent():
    img = np.full((100, 100, 3), 120, np.uint8)
    img[:4, :] = 255

    assert spread_score(img) == 0.0


def test_sharpness_falls_as_blur_grows():
    img = textured(0)
    scores = [sharpness_score(img)] + [
        sharpness_score(cv2.GaussianBlur(img, (0, 0), s)) for s in (1, 3, 6, 12)
    ]

    assert scores == sorted(scores, reverse=True)


def test_a_sharp_frame_at_a_third_of_its_contrast_is_not_blurry():
    img = decode("imageio_cockatoo.mp4", [0])[0]
    faint = (img.astype(np.float32) * 0.3 + 90).astype(np.uint8)

    assert "blurry" not in frame_flags(analyse_frame(faint).scores)


def test_a_blurred_picture_inside_sharp_letterbox_bars_is_still_blurry():
    img = cv2.GaussianBlur(decode("moviepy_chaplin.mp4", [1])[0], (0, 0), 4)
    img[:45] = 0
    img[-45:] = 0

    assert "blurry" in frame_flags(analyse_frame(img).scores)


def test_analyse_frame_agrees_with_the_single_scores():
    img = decode("imageio_test.webm", [1])[0]

    analysis = analyse_frame(img)

    assert analysis.scores.brightness == pytest.approx(brightness_score(img))
    assert analysis.scores.sharpness == pytest.approx(sharpness_score(img))
    assert analysis.scores.entropy == pytest.approx(entropy_score(img))
    assert analysis.scores.spread == pytest.approx(spread_score(img))
    assert np.array_equal(analysis.descriptor, frame_descriptor(img))


def test_a_large_frame_is_scored_like_its_working_size_copy():
    small = textured(3)
    large = cv2.resize(small, (1280, 720), interpolation=cv2.INTER_CUBIC)

    assert working_frame(large).shape == small.shape
    assert analyse_frame(large).scores.sharpness == pytest.approx(
        analyse_frame(small).scores.sharpness, rel=0.3
    )
    assert image_similarity(large, small) > 0.97


@pytest.mark.parametrize(
    "bad",
    [np.zeros((10, 10), np.uint8), np.zeros((10, 10, 3), np.float32), np.zeros((0, 10, 3), np.uint8)],
    ids=["grayscale", "float", "empty"],
)
def test_it_rejects_what_is_not_an_rgb_uint8_frame(bad):
    with pytest.raises(ValueError, match="frame"):
        analyse_frame(bad)


@pytest.mark.parametrize("shape", [(1, 1, 3), (5, 7, 3), (40, 3, 3)])
def test_a_tiny_frame_is_scored_without_error(shape):
    analysis = analyse_frame(np.full(shape, 128, np.uint8))

    assert analysis.scores.sharpness == 0.0
    assert "uniform" in frame_flags(analysis.scores)


def test_the_library_does_not_import_django():
    code = "import sys, curation.lib.quality, tests.fixtures.framesets; sys.exit('django' in sys.modules)"

    assert (
        subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[3]).returncode == 0
    )


def test_flags_are_independent_and_the_primary_one_follows_precedence():
    black = FrameScores(brightness=0.02, sharpness=0.0, entropy=0.0, spread=0.0, structure=0.0)

    assert frame_flags(black) == {"dark", "blurry", "uniform"}
    assert primary_flag(frame_flags(black)) == "dark"
    assert primary_flag({"blurry", "uniform"}) == "uniform"
    assert primary_flag(set()) is None


# --- near-duplicates ----------------------------------------------------------------------------


def test_leader_clustering_labels_frames_by_first_appearance():
    a, b = frame_descriptor(textured(0)), frame_descriptor(textured(1))
    a_again = frame_descriptor(jpeg(textured(0), 40))

    assert cluster_near_duplicates([a, b, a_again, b]) == [0, 1, 0, 1]
    assert cluster_near_duplicates([]) == []


def test_the_representative_is_the_sharpest_member():
    assert cluster_representatives([0, 0, 1, 0, 1], [1.0, 3.0, 2.0, 3.0, 2.5]) == [1, 4]
    assert cluster_representatives([0, 0, 1]) == [0, 2]


def test_candidates_drop_flagged_frames_and_keep_the_sharpest_of_each_cluster():
    scene_a, scene_b = decode("imageio_cockatoo.mp4", [0])[0], decode("moviepy_chaplin.mp4", [1])[0]
    softer_a = cv2.GaussianBlur(scene_a, (0, 0), 0.8)
    video = [
        softer_a,
        scene_a,
        darken(scene_a, 0.1),
        cv2.GaussianBlur(scene_b, (0, 0), 8),
        scene_b,
        flat(2),
        rescale(scene_a, 0.8),
    ]

    assert pick_candidates([analyse_frame(frame) for frame in video]) == [1, 4]


def test_a_posted_thumbnail_is_nearest_to_the_candidate_it_was_taken_from():
    seconds = list(range(14))
    frames = decode("imageio_cockatoo.mp4", seconds)
    analyses = [analyse_frame(frame) for frame in frames]
    candidates = pick_candidates(analyses)
    descriptors = [analyses[i].descriptor for i in candidates]

    assert 5 <= len(candidates) <= 12
    for position, index in enumerate(candidates):
        posted = jpeg(cv2.resize(frames[index], (480, 270), interpolation=cv2.INTER_AREA), 75)
        nearest, similarity = nearest_frame(frame_descriptor(posted), descriptors)
        assert nearest == position
        assert similarity > 0.95


def test_image_similarity_is_one_for_the_same_image_and_low_for_unrelated_ones():
    a, b = textured(0), decode("moviepy_chaplin.mp4", [1])[0]

    assert image_similarity(a, a) == pytest.approx(1.0)
    assert image_similarity(a, b) < 0.6
    assert descriptor_distance(frame_descriptor(a), frame_descriptor(b)) == pytest.approx(
        1 - image_similarity(a, b)
    )


# --- accuracy on the labelled set ---------------------------------------------------------------


@pytest.mark.parametrize("flag", ["dark", "blurry", "uniform"])
def test_each_flag_has_precision_and_recall_of_at_least_95_percent(flag):
    frames, analyses = labelled_frames(), analysed()
    predicted = [primary_flag(frame_flags(a.scores)) == flag for a in analyses]
    actual = [frame.status == flag for frame in frames]

    precision, recall = precision_recall(predicted, actual)

    assert precision >= 0.95 and recall >= 0.95, f"{flag}: precision {precision:.3f}, recall {recall:.3f}"


def test_no_clean_frame_is_flagged_and_every_defect_is():
    frames, analyses = labelled_frames(), analysed()
    wrong = [
        (frame.source or frame.scene, frame.note, sorted(frame_flags(a.scores)))
        for frame, a in zip(frames, analyses, strict=True)
        if bool(frame_flags(a.scores)) != (frame.status != "clean")
    ]

    assert len(wrong) <= 0.02 * len(frames), wrong


def _clean_pairs() -> tuple[list[int], list[tuple[int, int, bool]]]:
    """Indices of the clean frames, and their pairs that have a ground truth: (i, j, near-dup).
    Near-duplicates are only the constructed copies of one source frame; frames of one clip are
    left out otherwise (consecutive frames of a shot are near-duplicates in earnest)."""
    frames = labelled_frames()
    clean = [i for i, frame in enumerate(frames) if frame.status == "clean"]
    pairs = []
    for i, j in itertools.combinations(range(len(clean)), 2):
        a, b = frames[clean[i]], frames[clean[j]]
        if a.source == b.source or a.scene != b.scene:
            pairs.append((i, j, a.source == b.source))
    return clean, pairs


def test_near_duplicate_pairs_have_precision_and_recall_of_at_least_95_percent():
    clean, pairs = _clean_pairs()
    distances = pairwise_distances([analysed()[i].descriptor for i in clean])

    precision, recall = precision_recall(
        [bool(distances[i, j] <= DEFAULT_NEARDUP_THRESHOLD) for i, j, _ in pairs],
        [same for *_, same in pairs],
    )

    assert precision >= 0.95 and recall >= 0.95, f"precision {precision:.3f}, recall {recall:.3f}"


def test_clustering_puts_near_duplicates_together_and_other_scenes_apart():
    clean, pairs = _clean_pairs()
    labels = cluster_near_duplicates([analysed()[i].descriptor for i in clean])

    precision, recall = precision_recall(
        [labels[i] == labels[j] for i, j, _ in pairs], [same for *_, same in pairs]
    )

    assert precision >= 0.95 and recall >= 0.95, f"precision {precision:.3f}, recall {recall:.3f}"


# --- cleanvision's own test images --------------------------------------------------------------


def test_on_cleanvisions_images_the_dark_and_low_information_ones_are_found():
    analyses = cleanvision_analyses()
    flags = {name: frame_flags(analysis.scores) for name, analysis in analyses.items()}
    # cleanvision's low-information rule has no spread term and does not look at edges.
    entropy_only = Thresholds(spread=0.0, structure=float("inf"))
    low_information = {
        name
        for name, analysis in analyses.items()
        if primary_flag(frame_flags(analysis.scores, entropy_only)) == "uniform"
    }

    assert len(analyses) == 10
    assert {name for name, found in flags.items() if "dark" in found} == {"417"}
    assert low_information == {"588", "591"}
    # 604, a 1382x15754 strip of orange JPEG noise (gray std 3.3), is uniform to the eye; the
    # default spread rule says so too, cleanvision's entropy (5.6 bits, noise) does not. 591, an
    # orange diamond on white, has edges in 6.4% of its cells: a graphic, not one flat colour.
    assert {name for name, found in flags.items() if primary_flag(found) == "uniform"} == {"588", "604"}
    # Not asserted: cleanvision calls 601 blurry. It is a radial zoom blur whose centre keeps sharp
    # strokes, and this score follows the sharpest 1% of pixels: 0.83, just above the 0.80 threshold.


def test_on_cleanvisions_images_only_the_duplicate_pairs_are_near_duplicates():
    analyses = cleanvision_analyses()
    names = list(analyses)
    distances = pairwise_distances([analyses[name].descriptor for name in names])

    close = {
        (a, b)
        for (i, a), (j, b) in itertools.combinations(enumerate(names), 2)
        if distances[i, j] <= DEFAULT_NEARDUP_THRESHOLD
    }

    assert close == {("142", "236"), ("103", "408")}
    assert distances[names.index("142"), names.index("236")] == pytest.approx(0.0, abs=1e-6)
