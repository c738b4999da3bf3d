"""Staff pages for the frames stage: a video's filmstrip, and its frame and thumbnail images."""

import mimetypes
from pathlib import Path

from django.contrib.auth.decorators import user_passes_test
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, render

from curation import selectors
from curation.errors import InvalidSource
from curation.media_store import media_path, thumbnail_file
from curation.models import Frame, Video
from curation.services.sources import is_url

staff_only = user_passes_test(lambda user: user.is_active and user.is_staff)


@staff_only
def filmstrip(request, video_id: int):
    """Every sampled frame with its scores, flags, cluster and candidate mark; the ground-truth
    frame beside the posted thumbnail."""
    context = selectors.video_filmstrip(video_id=video_id)
    if context is None:
        raise Http404("no such video")
    return render(request, "frontend/filmstrip.html", context)


@staff_only
def frame_image(request, frame_id: int):
    frame = get_object_or_404(Frame.objects.only("image"), id=frame_id)
    return _file_response(media_path(frame.image))


@staff_only
def thumbnail_image(request, video_id: int):
    """The posted thumbnail: a file under the media roots, or the copy the frames stage downloaded."""
    video = get_object_or_404(Video.objects.only("id", "dataset_id", "thumbnail"), id=video_id)
    if not video.thumbnail:
        raise Http404("no posted thumbnail")
    try:
        path = thumbnail_file(video)
    except InvalidSource:
        raise Http404("the thumbnail file is outside the media roots") from None
    if not path.is_file():
        raise Http404(
            "the thumbnail has not been downloaded" if is_url(video.thumbnail) else "file not found"
        )
    return _file_response(path)


def _file_response(path: Path) -> FileResponse:
    if not path.is_file():
        raise Http404("file not found")
    # Served as an image or as bytes: a "thumbnail" that is HTML must not render as a page here.
    guessed = mimetypes.guess_type(path.name)[0] or ""
    content_type = (
        guessed if guessed.startswith("image/") and guessed != "image/svg+xml" else "application/octet-stream"
    )
    response = FileResponse(open(path, "rb"), content_type=content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'"
    response["Cache-Control"] = "private, max-age=300"
    return response
