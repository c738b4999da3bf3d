"""Frames stage: sample a video at the dataset's rate, score every frame, pick candidate frames,
find the thumbnail ground truth and the video's re-uploads.

Re-running replaces the frames atomically: the new JPEGs go to a fresh folder, the Frame rows are
swapped in one transaction, and the old folders are deleted only after it commits. If anything
fails before the commit (ffmpeg stops midway, the database refuses), the new folder is removed and
the previous frames, rows and files, stay as they were: no video ever shows a mix.
"""

import logging
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from django.conf import settings
from django.db import transaction

from curation.errors import InvalidSource, StageError
from curation.lib.quality import FrameScores, analyse_frame
from curation.media_store import media_path, media_relative, video_file, video_frames_folder
from curation.models import Dataset, Frame, ThumbnailTruth, Video
from curation.services.frames.candidates import (
    Truth,
    Verdict,
    frame_scores_stored,
    frames_classify,
    thumbnail_load,
    thumbnail_truth,
)
from curation.services.frames.decode import decode_frames, working_size
from curation.services.frames.duplicates import video_duplicates_find, video_duplicates_group, video_signature
from curation.services.probe import probed_demuxer

logger = logging.getLogger("microcurate.frames")
JPEG_QUALITY = 90


@dataclass
class _Sampled:
    index: int
    timestamp: float
    image: str
    width: int
    height: int
    scores: FrameScores
    descriptor: np.ndarray


def _source_path(video: Video) -> Path:
    try:
        return video_file(video)
    except InvalidSource as exc:
        raise StageError(str(exc)) from None


def video_frames_sample(video: Video) -> dict:
    """The frames stage's run function (see curation.services.pipeline): returns no extra fields;
    raises StageError (nothing changed) when the video cannot be decoded to the end."""
    if not video.display_width or not video.display_height:
        raise StageError("the video has not been probed (no display size)")
    path = _source_path(video)
    demuxer = probed_demuxer(video)
    dataset = video.dataset
    width, height = working_size(video.display_width, video.display_height)
    folder = video_frames_folder(video)
    run_dir = folder / uuid.uuid4().hex
    run_dir.mkdir(parents=True)
    try:
        sampled = []
        for frame in decode_frames(
            str(path),
            demuxer=demuxer,
            fps=dataset.sample_fps,
            rotation=video.rotation,
            width=width,
            height=height,
            ffmpeg_binary=settings.MICROCURATE_FFMPEG,
        ):
            analysis = analyse_frame(frame.rgb)
            target = run_dir / f"{frame.index:05d}.jpg"
            _write_jpeg(target, frame.rgb)
            sampled.append(
                _Sampled(
                    index=frame.index,
                    timestamp=frame.timestamp,
                    image=media_relative(target),
                    width=width,
                    height=height,
                    scores=analysis.scores,
                    descriptor=analysis.descriptor.astype(np.float32),
                )
            )
        verdicts = frames_classify(
            [s.scores for s in sampled], [s.descriptor for s in sampled], dataset=dataset
        )
        thumbnail, reason = thumbnail_load(video)
        truth = thumbnail_truth(
            thumbnail,
            reason,
            verdicts,
            [s.descriptor for s in sampled],
            frame_size=(width, height),
            dataset=dataset,
        )
        _swap(video, sampled, verdicts, truth, keep=run_dir)
    except BaseException:
        shutil.rmtree(run_dir, ignore_errors=True)
        raise
    logger.info(
        "video %s: %d frames, %d candidates", video.id, len(sampled), sum(v.is_candidate for v in verdicts)
    )
    return {}


def _write_jpeg(target: Path, rgb: np.ndarray) -> None:
    ok, data = cv2.imencode(
        ".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]
    )
    if not ok:
        raise StageError(f"could not encode {target.name} as JPEG")
    target.write_bytes(data.tobytes())


def _swap(
    video: Video, sampled: list[_Sampled], verdicts: list[Verdict], truth: Truth, *, keep: Path
) -> None:
    signature = video_signature(
        [s.descriptor for s, v in zip(sampled, verdicts, strict=True) if v.cluster is not None]
    )
    with transaction.atomic():
        # The dataset lock serialises the duplicate lookup: two re-uploads finishing at the same
        # time would otherwise each miss the other's uncommitted signature.
        Dataset.objects.select_for_update().filter(id=video.dataset_id).first()
        video = Video.objects.select_for_update().select_related("dataset").get(id=video.id)
        Frame.objects.filter(video=video).delete()
        frames = Frame.objects.bulk_create(
            Frame(
                video=video,
                index=s.index,
                timestamp=s.timestamp,
                image=s.image,
                width=s.width,
                height=s.height,
                brightness=s.scores.brightness,
                sharpness=s.scores.sharpness,
                entropy=s.scores.entropy,
                spread=s.scores.spread,
                structure=s.scores.structure,
                descriptor=s.descriptor.tobytes(),
                is_dark=v.is_dark,
                is_blurry=v.is_blurry,
                is_uniform=v.is_uniform,
                cluster=v.cluster,
                is_candidate=v.is_candidate,
            )
            for s, v in zip(sampled, verdicts, strict=True)
        )
        _store_truth(video, truth, frames)
        video.signature = signature.tobytes() if signature is not None else None
        Video.objects.filter(id=video.id).update(signature=video.signature)
        duplicates = video_duplicates_find(video=video, signature=signature) if signature is not None else []
        video_duplicates_group(video=video, duplicate_ids=duplicates)
        transaction.on_commit(lambda: _remove_old_runs(keep))


def _store_truth(video: Video, truth: Truth, frames: list[Frame]) -> None:
    ThumbnailTruth.objects.update_or_create(
        video=video,
        defaults={
            "frame": frames[truth.frame_position] if truth.frame_position is not None else None,
            "similarity": truth.similarity,
            "needs_check": truth.needs_check,
            "reason": truth.reason,
        },
    )


def video_frames_orphans_remove(video: Video) -> None:
    """Delete the run folders no Frame row points at: what a run killed before its swap left
    (a normal run deletes its own folder on any error). Only the stage's claim holder calls it."""
    folder = video_frames_folder(video)
    if not folder.is_dir():
        return
    images = Frame.objects.filter(video_id=video.id).values_list("image", flat=True)
    current = {media_path(image).parent for image in images}
    for run in folder.iterdir():
        if run not in current:
            logger.warning("video %s: removing frames of a lost run (%s)", video.id, run.name)
            if run.is_dir():
                shutil.rmtree(run, ignore_errors=True)
            else:
                run.unlink(missing_ok=True)


def _remove_old_runs(keep: Path) -> None:
    for old in keep.parent.iterdir():
        if old != keep and old.is_dir():
            shutil.rmtree(old, ignore_errors=True)


def frames_reselect(*, video: Video) -> None:
    """Apply the dataset's current thresholds to the stored scores and descriptors of `video`:
    flags, clusters, candidates, ground truth and duplicate group, without decoding again."""
    thumbnail, reason = thumbnail_load(video)  # may download: outside the transaction
    with transaction.atomic():
        Dataset.objects.select_for_update().filter(id=video.dataset_id).first()
        video = Video.objects.select_for_update().select_related("dataset").get(id=video.id)
        frames = list(Frame.objects.filter(video=video).order_by("index"))
        if not frames:
            return
        descriptors = [np.frombuffer(bytes(f.descriptor), dtype=np.float32) for f in frames]
        scores = [frame_scores_stored(f) for f in frames]
        verdicts = frames_classify(scores, descriptors, dataset=video.dataset)
        for frame, verdict in zip(frames, verdicts, strict=True):
            for name, value in verdict.__dict__.items():
                setattr(frame, name, value)
        Frame.objects.bulk_update(frames, ["is_dark", "is_blurry", "is_uniform", "cluster", "is_candidate"])
        size = (frames[0].width, frames[0].height)
        truth = thumbnail_truth(
            thumbnail, reason, verdicts, descriptors, frame_size=size, dataset=video.dataset
        )
        _store_truth(video, truth, frames)
        signature = video_signature(
            [d for d, v in zip(descriptors, verdicts, strict=True) if v.cluster is not None]
        )
        video.signature = signature.tobytes() if signature is not None else None
        Video.objects.filter(id=video.id).update(signature=video.signature)
        duplicates = video_duplicates_find(video=video, signature=signature) if signature is not None else []
        video_duplicates_group(video=video, duplicate_ids=duplicates)
