"""The JSON parser of every API view: DRF's, with a cap on the body's size and nesting depth.

A body of 100,000 nested brackets made the decoder raise RecursionError, which DRF does not
catch (a 500); a body of any size was read whole into memory. No endpoint takes more than a
few hundred bytes of shallow JSON, so both caps are far above real use; past them the client
gets 400 with the reason."""

import io

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

MAX_BYTES = 1024 * 1024
MAX_DEPTH = 32


class BoundedJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        body = stream.read(MAX_BYTES + 1)
        if len(body) > MAX_BYTES:
            raise ParseError(f"JSON parse error - the body is over {MAX_BYTES} bytes.")
        try:
            data = super().parse(io.BytesIO(body), media_type, parser_context)
            deep = not _depth_within(data, MAX_DEPTH)
        except RecursionError:  # deeper than the decoder itself goes
            deep = True
        if deep:
            raise ParseError(f"JSON parse error - nested deeper than {MAX_DEPTH} levels.")
        return data


def _depth_within(value, limit: int) -> bool:
    """Whether no list or object in `value` lies more than `limit` levels deep (iterative: a
    recursive walk would fail on the very bodies it is checking)."""
    todo = [(value, 1)]
    while todo:
        item, level = todo.pop()
        if isinstance(item, dict):
            item = item.values()
        elif not isinstance(item, list):
            continue
        if level > limit:
            return False
        todo.extend((child, level + 1) for child in item)
    return True
