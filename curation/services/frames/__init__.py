"""The frames stage: 1 fps samples with quality flags (`sample`), decoded by ffmpeg (`decode`),
grouped into near-duplicate clusters and re-upload groups (`duplicates`), and the candidate
thumbnails with their ground truth (`candidates`)."""

from curation.services.frames.sample import frames_reselect, video_frames_orphans_remove, video_frames_sample

__all__ = ["frames_reselect", "video_frames_orphans_remove", "video_frames_sample"]
