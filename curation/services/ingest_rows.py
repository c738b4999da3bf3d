"""Manifest rows → draft videos: every field checked, the reason named when one is wrong."""

import json
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

from curation.errors import InvalidSource
from curation.models import (
    EXTERNAL_ID_MAX_LENGTH,
    SOURCE_MAX_LENGTH,
    TITLE_MAX_LENGTH,
    Dataset,
    IngestRun,
    Topic,
    Video,
)
from curation.services.probe import file_sha256
from curation.services.sources import is_url, local_path_resolve, url_validate

METADATA_MAX_BYTES = 64 * 1024
KNOWN_FIELDS = {"video", "id", "title", "topic", "publisher", "followers", "clicks", "thumbnail"}


class RowRejected(Exception):
    def __init__(self, field_name: str, reason: str):
        super().__init__(reason)
        self.field = field_name
        self.reason = reason


@dataclass
class Draft:
    row: int
    video: SimpleNamespace  # the Video's column values: no model instance per row (bulk speed)
    topic_name: str | None
    publisher_id: str | None
    followers: int | None


def _text(record: dict, name: str, limit: int) -> str:
    value = record.get(name)
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        raise RowRejected(name, f"expected text, got a JSON {type(value).__name__}")
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


class RowReader:
    """Validates one manifest row into a draft Video (not yet saved)."""

    def __init__(self, dataset: Dataset, base_dir: Path, run: IngestRun):
        self.dataset = dataset
        self.base_dir = base_dir
        self.run = run
        self.topics: dict[str, str] = {}
        for topic in Topic.objects.filter(dataset=dataset).only("name", "synonyms"):
            for alias in [topic.name, *(topic.synonyms or [])]:
                self.topics.setdefault(alias.strip().lower(), topic.name)

    def read(self, number: int, record: dict) -> Draft:
        source = _text(record, "video", SOURCE_MAX_LENGTH)
        if not source:
            raise RowRejected("video", "missing: every row needs a video path or URL")
        kind, local_path, sha256 = self._source(source)
        external_id = _text(record, "id", EXTERNAL_ID_MAX_LENGTH) or source[:EXTERNAL_ID_MAX_LENGTH]
        thumbnail = _text(record, "thumbnail", SOURCE_MAX_LENGTH)
        if thumbnail:
            self._check_thumbnail(thumbnail)
        metadata = {k: v for k, v in record.items() if k not in KNOWN_FIELDS}
        if metadata and len(json.dumps(metadata, ensure_ascii=False)) > METADATA_MAX_BYTES:
            raise RowRejected("metadata", f"extra fields exceed {METADATA_MAX_BYTES} bytes")
        video = SimpleNamespace(
            dataset_id=self.dataset.id,
            external_id=external_id,
            source=source,
            source_kind=kind,
            local_path=local_path,
            sha256=sha256,
            title=_text(record, "title", TITLE_MAX_LENGTH),
            clicks=_count(record, "clicks"),
            thumbnail=thumbnail,
            metadata=metadata,
            ingest_run_id=self.run.id,
            weak_topic_id=None,
            publisher_id=None,
        )
        return Draft(
            row=number,
            video=video,
            topic_name=self._topic(_text(record, "topic", 200)),
            publisher_id=_text(record, "publisher", EXTERNAL_ID_MAX_LENGTH) or None,
            followers=_count(record, "followers"),
        )

    def _source(self, source: str) -> tuple[str, str, str | None]:
        try:
            if is_url(source):
                url_validate(source)
                return Video.SourceKind.URL, "", None
            path = local_path_resolve(source, base_dir=self.base_dir)
        except InvalidSource as exc:
            raise RowRejected("video", str(exc)) from None
        return Video.SourceKind.FILE, str(path), file_sha256(path)

    def _check_thumbnail(self, thumbnail: str) -> None:
        # A missing thumbnail file is allowed (the frame stage reports it); one outside the
        # media roots or at a private address is not.
        try:
            if is_url(thumbnail):
                url_validate(thumbnail)
            else:
                local_path_resolve(thumbnail, base_dir=self.base_dir, must_exist=False)
        except InvalidSource as exc:
            raise RowRejected("thumbnail", str(exc)) from None

    def _topic(self, name: str) -> str | None:
        if not name:
            return None
        known = self.topics.get(name.lower())
        if known is not None:
            return known
        if not self.dataset.open_world_topics:
            raise RowRejected(
                "topic", f"unknown topic {name!r} (the dataset does not allow open-world topics)"
            )
        self.topics[name.lower()] = name
        return name
