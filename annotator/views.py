"""The media endpoint: a signed link streams a proxy or a frame image, with byte ranges so the
browser can seek and loop. Not a DRF view: the <video> element sends the session cookie only."""

import os
import re

from django.http import FileResponse, HttpResponse, StreamingHttpResponse
from django.views.decorators.http import require_GET

from annotator.errors import AnnotationError
from annotator.services.media import media_resolve
from config.exception_handlers import error_status

RANGE = re.compile(r"bytes=(\d*)-(\d*)$")
CHUNK = 256 * 1024


def _ranged(path, start: int, end: int):
    with open(path, "rb") as f:
        f.seek(start)
        left = end - start + 1
        while left > 0:
            chunk = f.read(min(CHUNK, left))
            if not chunk:
                return
            left -= len(chunk)
            yield chunk


@require_GET
def media(request, token: str):
    if not request.user.is_authenticated:
        return HttpResponse("Log in to see this media.", status=403, content_type="text/plain")
    try:
        found = media_resolve(token=token, user=request.user)
    except AnnotationError as exc:
        return HttpResponse(str(exc), status=error_status(exc), content_type="text/plain")
    if not found.path.is_file():
        return HttpResponse("The file is missing.", status=404, content_type="text/plain")
    size = os.path.getsize(found.path)
    match = RANGE.match(request.headers.get("Range", ""))
    if match and (match.group(1) or match.group(2)):
        if match.group(1):
            start = int(match.group(1))
            end = min(int(match.group(2)) if match.group(2) else size - 1, size - 1)
        else:  # a suffix range: the last N bytes
            start, end = max(0, size - int(match.group(2))), size - 1
        if start > end or start >= size:
            response = HttpResponse(status=416)
            response["Content-Range"] = f"bytes */{size}"
            return response
        response = StreamingHttpResponse(
            _ranged(found.path, start, end), status=206, content_type=found.content_type
        )
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
        response["Content-Length"] = str(end - start + 1)
    else:
        response = FileResponse(open(found.path, "rb"), content_type=found.content_type)
    response["Accept-Ranges"] = "bytes"
    response["Cache-Control"] = "private, max-age=600"
    return response
