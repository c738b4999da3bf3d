"""The OCR stage: EasyOCR (`engine`, offline weights) reads the frames and the stage (`stage`)
turns what it read into subtitle cues and a video-level subtitle."""

from curation.services.ocr.stage import subtitle_render, video_ocr

__all__ = ["subtitle_render", "video_ocr"]
