"""Did the text on a frame change since the last frame that was read? Cheap pixel differences on
the stored JPEGs decide whether OCR has to run again (pure numpy + OpenCV, no Django).

Compared at half size on gray levels, which averages away most JPEG noise: a pixel changed when
its level moved by more than PIXEL_DELTA; a region changed when more than REGION_SHARE of its
pixels did. A subtitle that changes moves 10-40 % of its box's pixels; re-encoding the same
picture moves well under 1 %.
"""

import cv2
import numpy as np

PIXEL_DELTA = 24
REGION_SHARE = 0.01
# Where subtitles live: the lower part of the frame (USV's clips and the generated ones).
SUBTITLE_BAND = (0.6, 1.0)
# Padding around a text box (fractions of the frame), so text that grows or shifts is seen.
BOX_MARGIN = 0.02
# A scene cut: this share of the whole frame changed; the text is read again wherever it was.
SCENE_SHARE = 0.4


def gray_small(rgb_or_bgr: np.ndarray) -> np.ndarray:
    gray = cv2.cvtColor(rgb_or_bgr, cv2.COLOR_BGR2GRAY) if rgb_or_bgr.ndim == 3 else rgb_or_bgr
    height, width = gray.shape
    return cv2.resize(gray, (max(1, width // 2), max(1, height // 2)), interpolation=cv2.INTER_AREA)


def changed_mask(previous: np.ndarray, current: np.ndarray) -> np.ndarray:
    if previous.shape != current.shape:
        return np.ones(current.shape, dtype=bool)
    return cv2.absdiff(previous, current) > PIXEL_DELTA


def region_changed(mask: np.ndarray, box: tuple[float, float, float, float], margin: float = 0.0) -> bool:
    """`box` is (x0, y0, x1, y1) in fractions of the frame."""
    height, width = mask.shape
    x0 = int(max(0.0, box[0] - margin) * width)
    y0 = int(max(0.0, box[1] - margin) * height)
    x1 = int(np.ceil(min(1.0, box[2] + margin) * width))
    y1 = int(np.ceil(min(1.0, box[3] + margin) * height))
    region = mask[y0:y1, x0:x1]
    return region.size > 0 and float(region.mean()) > REGION_SHARE


def text_unchanged(
    previous: np.ndarray, current: np.ndarray, boxes: list[tuple[float, float, float, float]]
) -> bool:
    """True when neither the boxes that held text, nor the subtitle band, nor the frame as a whole
    (a scene cut) changed: the previous frame's OCR result holds for this one."""
    mask = changed_mask(previous, current)
    if float(mask.mean()) > SCENE_SHARE:
        return False
    if region_changed(mask, (0.0, SUBTITLE_BAND[0], 1.0, SUBTITLE_BAND[1])):
        return False
    return not any(region_changed(mask, box, BOX_MARGIN) for box in boxes)
