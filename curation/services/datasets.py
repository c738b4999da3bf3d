from django.db import IntegrityError, transaction
from django.utils.text import slugify

from curation.errors import CurationError, DatasetNotFound
from curation.models import Dataset
from curation.services.taxonomy import taxonomy_load, taxonomy_resolve


def dataset_get(*, slug: str) -> Dataset:
    try:
        return Dataset.objects.get(slug=slug)
    except Dataset.DoesNotExist:
        raise DatasetNotFound(f"no dataset with slug {slug!r}") from None


@transaction.atomic
def dataset_create(
    *,
    slug: str,
    name: str = "",
    taxonomy: str | None = None,
    open_world_topics: bool = False,
    **settings,
) -> Dataset:
    if slugify(slug) != slug:
        raise CurationError(f"{slug!r} is not a valid slug (lowercase letters, digits, - and _)")
    if Dataset.objects.filter(slug=slug).exists():
        raise CurationError(f"a dataset with slug {slug!r} already exists")
    topics = taxonomy_resolve(taxonomy) if taxonomy else []
    try:
        with transaction.atomic():
            dataset = Dataset.objects.create(
                slug=slug, name=name or slug, open_world_topics=open_world_topics, **settings
            )
    except IntegrityError as exc:
        raise CurationError(f"dataset {slug!r}: a setting is out of range ({exc})") from None
    if topics:
        taxonomy_load(dataset=dataset, topics=topics)
    return dataset
