"""Taxonomies: USV's (32 macro topics, 212 micro topics, appendix C of the USV paper) or a
CSV/JSON file of topics with macro topic and synonyms."""

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

from django.db import transaction

from curation.errors import TaxonomyError
from curation.models import Dataset, Topic

USV_CSV = Path(__file__).resolve().parent.parent / "data" / "usv_taxonomy.csv"


@dataclass(frozen=True)
class TopicSpec:
    name: str
    macro_topic: str = ""
    synonyms: list[str] = field(default_factory=list)
    description: str = ""


def _synonyms(raw) -> list[str]:
    if raw is None or raw == "":
        return []
    if isinstance(raw, list):
        return [str(s).strip() for s in raw if str(s).strip()]
    return [s.strip() for s in str(raw).split("|") if s.strip()]


def taxonomy_read(path: Path) -> list[TopicSpec]:
    """Read topics from a CSV (columns topic, macro_topic, synonyms separated by |) or JSON
    (a list of objects with the same keys)."""
    path = Path(path)
    if not path.is_file():
        raise TaxonomyError(f"taxonomy file {str(path)!r} does not exist")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise TaxonomyError(f"{path.name}: not UTF-8 ({exc.reason} at byte {exc.start})") from None
    if path.suffix.lower() == ".json":
        try:
            rows = json.loads(text)
        except json.JSONDecodeError as exc:
            raise TaxonomyError(f"{path.name}: invalid JSON at line {exc.lineno}: {exc.msg}") from None
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise TaxonomyError(f"{path.name}: expected a list of objects with a 'topic' key")
    else:
        reader = csv.DictReader(text.splitlines())
        if not reader.fieldnames or "topic" not in reader.fieldnames:
            raise TaxonomyError(
                f"{path.name}: the header must name a 'topic' column (got {reader.fieldnames})"
            )
        rows = list(reader)
    specs: dict[str, TopicSpec] = {}
    for number, row in enumerate(rows, start=1):
        name = str(row.get("topic") or "").strip()
        if not name:
            raise TaxonomyError(f"{path.name}: topic {number} has no name")
        if name in specs:
            raise TaxonomyError(f"{path.name}: topic {name!r} is listed twice")
        specs[name] = TopicSpec(
            name=name,
            macro_topic=str(row.get("macro_topic") or "").strip(),
            synonyms=_synonyms(row.get("synonyms")),
            description=str(row.get("description") or "").strip(),
        )
    if not specs:
        raise TaxonomyError(f"{path.name}: no topics")
    return list(specs.values())


def usv_taxonomy() -> list[TopicSpec]:
    return taxonomy_read(USV_CSV)


@transaction.atomic
def taxonomy_load(*, dataset: Dataset, topics: list[TopicSpec]) -> tuple[int, int]:
    """Add topics to a dataset; existing topics get the file's macro topic and synonyms.
    Returns (created, updated)."""
    existing = {t.name: t for t in dataset.topics.all()}
    created, updated = [], []
    for spec in topics:
        topic = existing.get(spec.name)
        if topic is None:
            created.append(
                Topic(
                    dataset=dataset,
                    name=spec.name,
                    macro_topic=spec.macro_topic,
                    synonyms=spec.synonyms,
                    description=spec.description,
                )
            )
        elif (topic.macro_topic, topic.synonyms, topic.description) != (
            spec.macro_topic,
            spec.synonyms,
            spec.description,
        ):
            topic.macro_topic, topic.synonyms = spec.macro_topic, spec.synonyms
            topic.description = spec.description
            updated.append(topic)
    Topic.objects.bulk_create(created)
    Topic.objects.bulk_update(updated, ["macro_topic", "synonyms", "description"])
    return len(created), len(updated)


def taxonomy_resolve(name: str) -> list[TopicSpec]:
    """`usv` or a file path."""
    return usv_taxonomy() if name == "usv" else taxonomy_read(Path(name))
