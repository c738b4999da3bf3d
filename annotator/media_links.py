"""The signed token inside a media link: who it is for, the assignment and the file (the video's
proxy or one candidate frame). Made here for the payloads the selectors build; checked, with its
age and the lease, by services/media.py when the link is followed."""

from django.core import signing

SALT = "annotator.media"


def media_token(
    *, user_id: int, video_id: int, assignment_id: int | None, frame_id: int | None = None
) -> str:
    return signing.dumps(
        {"u": user_id, "a": assignment_id, "v": video_id, "f": frame_id}, salt=SALT, compress=True
    )
