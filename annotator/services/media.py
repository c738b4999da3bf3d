"""Authorised, expiring media links: a signed token names the user, the assignment and the
file (the video's proxy or one candidate frame). The link works only for that user, only while
they hold the assignment's lease (staff: any video) and only until it expires. Originals are
never served: a token can only name the proxy or a frame image."""

from dataclasses import dataclass
from pathlib import Path

from django.core import signing
from django.utils import timezone

from annotator.errors import MediaLinkInvalid, NotYourAssignment
from annotator.media_links import SALT
from annotator.models import Assignment
from curation.media_store import media_path, video_proxy_file
from curation.models import Frame, StageStatus, Video

LINK_SECONDS = 15 * 60


@dataclass(frozen=True)
class MediaFile:
    path: Path
    content_type: str


def media_resolve(*, token: str, user) -> MediaFile:
    try:
        claims = signing.loads(token, salt=SALT, max_age=LINK_SECONDS)
    except signing.SignatureExpired:
        raise MediaLinkInvalid("This media link has expired; reload the task.") from None
    except signing.BadSignature:
        raise MediaLinkInvalid("This media link is not valid.") from None
    if claims["u"] != user.pk:
        raise MediaLinkInvalid("This media link was made for someone else.")
    if not user.is_staff:
        holds = Assignment.objects.filter(
            id=claims["a"], worker=user, task__video_id=claims["v"], lease_expires_at__gt=timezone.now()
        ).exists()
        if not holds:
            raise NotYourAssignment("You do not hold this task any more.")
    if claims["f"] is not None:
        image = Frame.objects.filter(id=claims["f"], video_id=claims["v"], is_candidate=True).values_list(
            "image", flat=True
        )
        if not image:
            raise NotYourAssignment("No such frame.")
        return MediaFile(media_path(image[0]), "image/jpeg")
    proxy = Video.objects.filter(id=claims["v"], proxy_status=StageStatus.DONE).values_list(
        "proxy_path", flat=True
    )
    path = video_proxy_file(proxy[0]) if proxy else None
    if path is None:
        raise NotYourAssignment("This video has no playable copy yet.")
    return MediaFile(path, "video/mp4")
