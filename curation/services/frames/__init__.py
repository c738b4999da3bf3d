"""The frames stage: 1 fps samples with quality flags (`sample`), decoded by ffmpeg (`decode`),
grouped into near-duplicate clusters and re-upload groups (`duplicates`), and the candidate
thumbnails with their ground truth (`candidates`).

Entry points: `video_frames_sample`, `video_frames_orphans_remove`, `frames_reselect`. They load
on first use (PEP 562): importing `decode` alone (the proxy stage) must not bring numpy and
OpenCV with the sampling."""

_ENTRY_POINTS = ("frames_reselect", "video_frames_orphans_remove", "video_frames_sample")
__all__ = list(_ENTRY_POINTS)


def __getattr__(name: str):
    if name in _ENTRY_POINTS:
        from curation.services.frames import sample

        return getattr(sample, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
