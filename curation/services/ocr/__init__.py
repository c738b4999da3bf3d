"""The OCR stage: EasyOCR (`engine`, offline weights) reads the frames and the stage (`stage`)
turns what it read into subtitle cues and a video-level subtitle.

Entry points: `video_ocr`, `subtitle_render`. They load on first use (PEP 562): importing
`engine` alone (the start-up check of the weights, in every command) must not bring numpy and
OpenCV with the stage (27 MB and 0.2 s per process)."""

_ENTRY_POINTS = ("subtitle_render", "video_ocr")
__all__ = list(_ENTRY_POINTS)


def __getattr__(name: str):
    if name in _ENTRY_POINTS:
        from curation.services.ocr import stage

        return getattr(stage, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
