"""Manifest rows → draft videos: every field checked, the reason named when one is wrong.

This runs once per row of manifests with millions of rows, so the common case (text fields
that are plain strings, public http(s) URLs) takes short paths; anything unusual goes
through the full checks.
"""

import difflib
import re
from pathlib import Path

import orjson

from curation.errors import InvalidSource
from curation.media_store import file_sha256, local_path_resolve
from curation.models import (
    EXTERNAL_ID_MAX_LENGTH,
    SOURCE_MAX_LENGTH,
    TITLE_MAX_LENGTH,
    Dataset,
    IngestRun,
    Topic,
    Video,
)
from curation.services.sources import is_url, url_validate
from curation.sql.ingest import Draft

METADATA_MAX_BYTES = 64 * 1024
KNOWN_FIELDS = frozenset({"video", "id", "title", "topic", "publisher", "followers", "clicks", "thumbnail"})
TOPIC_MAX_LENGTH = 200
# An http(s) URL whose host is a plain DNS name (it has a letter no IP address form uses, so it
# is never an address literal) and that is followed by nothing urlsplit would read differently.
# Such a URL needs only the local-name check; everything else goes through url_validate.
_PLAIN_URL = re.compile(
    r"https?://((?=[a-z0-9.-]*[g-wyz])[a-z0-9.-]+)(?::(\d{1,5}))?(?:[/?#][^\s\\]*)?", re.ASCII
)
_JSON_NUL = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")
_LOCAL_SUFFIXES = ("localhost", ".localhost", "ip6-loopback", "ip6-localhost", "localhost.localdomain")
_URL = Video.SourceKind.URL.value


class RowRejected(Exception):
    def __init__(self, field_name: str, reason: str):
        super().__init__(reason)
        self.field = field_name
        self.reason = reason


def _text(record: dict, name: str, limit: int) -> str:
    value = record.get(name)
    if value.__class__ is str:  # the common case, on short paths
        value = value.strip()
        if len(value) <= limit and "\x00" not in value:
            return value
    elif value is None:
        return ""
    elif isinstance(value, (dict, list)):
        raise RowRejected(name, f"expected text, got a JSON {type(value).__name__}")
    else:
        value = str(value).strip()
    if len(value) > limit:
        raise RowRejected(name, f"{len(value)} characters long; the limit is {limit}")
    if "\x00" in value:
        raise RowRejected(name, "contains a NUL character")
    return value


def _count(record: dict, name: str) -> int | None:
    value = record.get(name)
    if value is None or value == "":
        return None
    if value.__class__ is int and 0 <= value < 2**63:
        return value
    if isinstance(value, bool):
        raise RowRejected(name, f"expected a whole number, got {value!r}")
    try:
        number = int(value) if not isinstance(value, float) or value.is_integer() else None
    except (TypeError, ValueError):
        number = None
    if number is None:
        raise RowRejected(name, f"expected a whole number, got {value!r}")
    if number < 0:
        raise RowRejected(name, f"must not be negative, got {number}")
    if number > 2**63 - 1:
        raise RowRejected(name, "too large")
    return number


def _is_plain_url(url: str) -> bool:
    """A public http(s) URL by the short check alone (see _PLAIN_URL)."""
    plain = _PLAIN_URL.fullmatch(url)
    return (
        plain is not None
        and not (plain[2] and int(plain[2]) > 65535)
        and not plain[1].rstrip(".").endswith(_LOCAL_SUFFIXES)
    )


class RowReader:
    """Validates one manifest row into a Draft (not yet saved)."""

    def __init__(self, dataset: Dataset, base_dir: Path, run: IngestRun):
        self.dataset = dataset
        self.base_dir = base_dir
        self.run = run
        self.topics: dict[str, int] = {}  # lower-cased name or synonym → topic id
        self.topic_names: dict[int, str] = {}
        self.suggested: dict[str, str] = {}
        for topic in Topic.objects.filter(dataset=dataset).only("id", "name", "synonyms"):
            self.topic_names[topic.id] = topic.name
            for alias in [topic.name, *(topic.synonyms or [])]:
                self.topics.setdefault(alias.strip().lower(), topic.id)

    def read(self, number: int, record: dict) -> Draft:
        source = _text(record, "video", SOURCE_MAX_LENGTH)
        if not source:
            raise RowRejected("video", "missing: every row needs a video path or URL")
        kind, local_path, sha256 = self._source(source)
        external_id = _text(record, "id", EXTERNAL_ID_MAX_LENGTH) or source[:EXTERNAL_ID_MAX_LENGTH]
        thumbnail = _text(record, "thumbnail", SOURCE_MAX_LENGTH)
        if thumbnail:
            thumbnail = self._check_thumbnail(thumbnail)
        metadata = "{}"
        if len(record) > len(KNOWN_FIELDS.intersection(record)):
            extra = {k: v for k, v in record.items() if k not in KNOWN_FIELDS}
            try:
                metadata = orjson.dumps(extra).decode()
            except TypeError as exc:  # e.g. an integer beyond 64 bits
                raise RowRejected("metadata", f"cannot be stored as JSON: {exc}") from None
            if len(metadata) > METADATA_MAX_BYTES:
                raise RowRejected("metadata", f"extra fields exceed {METADATA_MAX_BYTES} bytes")
            if "\\u0000" in metadata and _JSON_NUL.search(metadata):  # PostgreSQL's jsonb cannot hold it
                raise RowRejected("metadata", "contains a NUL character")
        # Positional: this runs once per row.
        return Draft(
            number,
            external_id,
            source,
            kind,
            local_path,
            sha256,
            _text(record, "title", TITLE_MAX_LENGTH),
            _count(record, "clicks"),
            thumbnail,
            metadata,
            self._topic(_text(record, "topic", TOPIC_MAX_LENGTH)),
            _text(record, "publisher", EXTERNAL_ID_MAX_LENGTH) or None,
            _count(record, "followers"),
        )

    def _source(self, source: str) -> tuple[str, str, str | None]:
        if _is_plain_url(source):
            return _URL, "", None
        try:
            if is_url(source):
                url_validate(source)
                return _URL, "", None
            path = local_path_resolve(source, base_dir=self.base_dir)
        except InvalidSource as exc:
            raise RowRejected("video", str(exc)) from None
        return Video.SourceKind.FILE, str(path), file_sha256(path)

    def _check_thumbnail(self, thumbnail: str) -> str:
        """The thumbnail to store: a URL as given, a path resolved (a relative path starts at the
        manifest's folder, which the frames stage that reads it no longer knows)."""
        # A missing thumbnail file is allowed (the frames stage reports it); one outside the
        # media roots or at a private address is not.
        if _is_plain_url(thumbnail):
            return thumbnail
        try:
            if is_url(thumbnail):
                url_validate(thumbnail)
                return thumbnail
            return str(local_path_resolve(thumbnail, base_dir=self.base_dir, must_exist=False))
        except InvalidSource as exc:
            raise RowRejected("thumbnail", str(exc)) from None

    def _topic(self, name: str) -> int | None:
        if not name:
            return None
        known = self.topics.get(name.lower())
        if known is not None:
            return known
        if not self.dataset.open_world_topics:
            raise RowRejected(
                "topic",
                f"unknown topic {name!r}{self._suggestions(name)} (the dataset does not allow "
                "open-world topics)",
            )
        topic, _ = Topic.objects.get_or_create(dataset=self.dataset, name=name)
        self.topics[name.lower()] = topic.id
        return topic.id

    def _suggestions(self, name: str) -> str:
        """'; did you mean …' with the nearest topic names and synonyms (a synonym names its topic).
        Kept per name: a manifest may repeat one unknown topic on every row."""
        if name in self.suggested:
            return self.suggested[name]
        close = difflib.get_close_matches(name.strip().lower(), self.topics, n=3, cutoff=0.6)
        shown = []
        for alias in close:
            topic = self.topic_names[self.topics[alias]]
            shown.append(repr(alias) if alias == topic.lower() else f"{alias!r} (synonym of {topic!r})")
        self.suggested[name] = "; did you mean " + ", ".join(shown) + "?" if shown else ""
        return self.suggested[name]
