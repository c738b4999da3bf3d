"""Splits as named, versioned, freezable objects (issue 6; USV's protocol).

`split_make` reads every usable video of a dataset (its weak topic, publisher, near-duplicate
group and, when verdicts exist, whether it is verified noise), lets `ml.splits.assign_split`
place it, and stores one `SplitMember` per video. A frozen split never changes: the services
refuse, and on PostgreSQL a trigger refuses too (migration 0006). Videos that could not be read
(probe FAILED) are left out of every split and counted.
"""

import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict
from typing import TYPE_CHECKING

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from curation.errors import CurationError
from curation.models import (
    AggregationMethod,
    Dataset,
    Split,
    SplitMember,
    StageStatus,
    Video,
    VideoVerdict,
)
from curation.selectors_labels import aggregation_run_latest
from curation.sql.splits import members_copy

if TYPE_CHECKING:
    from ml.splits import SplitDiff

# `ml.splits` (numpy, scipy) is imported where it is used: the admin imports this module at every
# Django start-up, and numpy alone cost each `manage.py` command 0.12 s.
# Human verdict methods only: accepted model pre-labels (AggregationMethod.MODEL) never decide
# which videos are noise in a split, whose val/test measure the models.
METHODS = tuple(m for m in AggregationMethod.values if m != AggregationMethod.MODEL)

DEFAULT_NAMES = {2: ("train", "test"), 3: ("train", "val", "test")}
NAME_PATTERN = re.compile(r"^[-a-zA-Z0-9_]+$")
KEEP_NOISE_IN = ("train",)


class SplitRefused(CurationError):
    """The split cannot be made, changed or read as asked; the message says why and which."""


class SplitNotFound(SplitRefused):
    """The dataset has no split of that name."""


def ratios_parse(text: str) -> dict[str, float]:
    """'0.8,0.1,0.1' (train/val/test; two values: train/test) or 'train=0.7,dev=0.15,test=0.15'."""
    parts = [part.strip() for part in str(text).split(",") if part.strip()]
    if not parts:
        raise SplitRefused("ratios are missing: give e.g. 0.8,0.1,0.1 or train=0.8,val=0.1,test=0.1")
    named = [part.partition("=") for part in parts]
    if all(sep for _, sep, _ in named):
        pairs = [(name.strip(), value.strip()) for name, _, value in named]
    elif not any(sep for _, sep, _ in named):
        if len(parts) not in DEFAULT_NAMES:
            raise SplitRefused(
                f"{len(parts)} unnamed ratios: name the subsets, e.g. train=0.7,val=0.1,test=0.1,extra=0.1"
            )
        pairs = list(zip(DEFAULT_NAMES[len(parts)], parts, strict=True))
    else:
        raise SplitRefused(f"ratios {text!r} mix named and unnamed values; name all or none")
    return ratios_check(pairs)


def ratios_check(pairs: Iterable[tuple[str, object]]) -> dict[str, float]:
    """Subset name → share, checked: names usable as file names, numbers, positive, summing to 1."""
    ratios: dict[str, float] = {}
    for name, value in pairs:
        if name in ratios:
            raise SplitRefused(f"subset {name!r} is named twice in the ratios")
        if not NAME_PATTERN.match(name):
            raise SplitRefused(f"subset name {name!r} may only hold letters, digits, '-' and '_'")
        try:
            ratios[name] = float(value)
        except (TypeError, ValueError):
            raise SplitRefused(f"ratio {value!r} of subset {name!r} is not a number") from None
    from ml.splits import SplitError, check_ratios

    try:
        check_ratios(ratios)
    except SplitError as exc:
        raise SplitRefused(str(exc)) from None
    return ratios


def ratios_achieved(*, sizes: Mapping[str, int], ratios: Mapping[str, float]) -> dict[str, float]:
    """Each subset's share of the videos placed (3 decimals)."""
    placed = sum(sizes.get(name, 0) for name in ratios)
    return {name: round(sizes.get(name, 0) / placed, 3) if placed else 0.0 for name in ratios}


def ratios_far(*, achieved: Mapping[str, float], ratios: Mapping[str, float]) -> bool:
    """Whether some subset is off its asked share by more than 5 points or by half the share (a
    10 % val subset that came out at 4 %): worth a warning, not a refusal, since groups (publishers,
    near-duplicates) are indivisible and a small dataset cannot always do better."""
    return any(abs(achieved.get(name, 0.0) - share) > min(0.05, share / 2) for name, share in ratios.items())


def split_get(*, dataset: Dataset, name: str) -> Split:
    split = Split.objects.filter(dataset=dataset, name=name).first()
    if split is None:
        known = ", ".join(Split.objects.filter(dataset=dataset).values_list("name", flat=True)) or "none yet"
        raise SplitNotFound(f"dataset {dataset.slug} has no split named {name!r} (splits: {known})")
    return split


def verdict_method_default(*, dataset: Dataset) -> str | None:
    """The method of the dataset's latest aggregation run, whose verdicts decide noise."""
    run = aggregation_run_latest(dataset=dataset)
    return run.method if run else None


def _items(dataset: Dataset, method: str | None) -> tuple[list[tuple], int]:
    readable = ~Q(probe_status=StageStatus.FAILED)
    rows = list(
        Video.objects.filter(Q(dataset=dataset) & readable)
        .order_by("id")
        .values_list("id", "external_id", "weak_topic__name", "publisher_id", "duplicate_group_id")
    )
    unreadable = Video.objects.filter(dataset=dataset, probe_status=StageStatus.FAILED).count()
    noise: set[int] = set()
    if method:
        noise = set(
            VideoVerdict.objects.filter(dataset=dataset, method=method, label="noise").values_list(
                "video_id", flat=True
            )
        )
    return [(*row, row[0] in noise) for row in rows], unreadable


def split_make(
    *,
    dataset: Dataset,
    name: str,
    ratios: Mapping[str, float] | str,
    seed: int = 0,
    freeze: bool = False,
    replace: bool = False,
    verdict_method: str | None = None,
    user=None,
) -> Split:
    """Make (or, with `replace`, remake an unfrozen) split version `name` of the dataset."""
    from ml.splits import SplitError, assign_split

    if not name or not NAME_PATTERN.match(name):
        raise SplitRefused(f"split name {name!r} may only hold letters, digits, '-' and '_'")
    ratios = ratios_parse(ratios) if isinstance(ratios, str) else ratios_check(ratios.items())
    if verdict_method == AggregationMethod.MODEL:
        raise SplitRefused(
            f"split {name} of dataset {dataset.slug}: verdict method 'model' is refused: accepted model "
            f"pre-labels never decide a split's noise, humans do (use one of {', '.join(METHODS)})"
        )
    if verdict_method and verdict_method not in METHODS:
        raise SplitRefused(f"unknown verdict method {verdict_method!r} (use one of {', '.join(METHODS)})")
    method = verdict_method or verdict_method_default(dataset=dataset)
    items, unreadable = _items(dataset, method)
    if not items:
        raise SplitRefused(f"dataset {dataset.slug} has no readable videos to split")
    try:
        result = assign_split(
            item_ids=[row[1] for row in items],
            topics=[row[2] or "" for row in items],
            publishers=[row[3] for row in items],
            duplicate_groups=[row[4] for row in items],
            noise=[row[5] for row in items],
            ratios=ratios,
            seed=seed,
            keep_noise_in=KEEP_NOISE_IN,
        )
    except SplitError as exc:
        raise SplitRefused(f"split {name} of dataset {dataset.slug}: {exc}") from None
    stats = {
        "videos": len(items),
        "unreadable_left_out": unreadable,
        "excluded_noise": result.excluded_noise,
        "noise_kept_in_train": int(sum(row[5] for row in items)) - result.excluded_noise,
        "blocks": result.blocks,
        "largest_block": result.largest_block,
        "small_topics": [asdict(small) for small in result.small_topics],
        "achieved_ratios": ratios_achieved(sizes=result.sizes, ratios=ratios),
    }
    with transaction.atomic():
        existing = Split.objects.select_for_update().filter(dataset=dataset, name=name).first()
        if existing is not None:
            if existing.is_frozen:
                raise SplitRefused(
                    f"split {name} of dataset {dataset.slug} is frozen and never changes; make a new version"
                )
            if not replace:
                raise SplitRefused(
                    f"split {name} of dataset {dataset.slug} already exists: choose another name or --replace"
                )
            existing.delete()
        try:
            with transaction.atomic():
                split = Split.objects.create(
                    dataset=dataset,
                    name=name,
                    ratios=dict(ratios),
                    seed=seed,
                    verdict_method=method or "",
                    sizes=result.sizes,
                    stats=stats,
                    created_by=user,
                )
        except IntegrityError:
            raise SplitRefused(
                f"split {name} of dataset {dataset.slug} was just made by someone else"
            ) from None
        members_copy(
            split_id=split.id, members=[(row[0], result.of(i) or "", row[5]) for i, row in enumerate(items)]
        )
        if freeze:
            split.frozen_at = timezone.now()
            split.save(update_fields=["frozen_at"])
    return split


def split_freeze(*, split: Split) -> Split:
    """Freeze a split: from now on it never changes, and exports may be made of it."""
    if split.sizes and any(size == 0 for size in split.sizes.values()):
        empty = ", ".join(name for name, size in split.sizes.items() if size == 0)
        raise SplitRefused(f"split {split.name} has an empty subset ({empty}); it cannot be frozen")
    now = timezone.now()
    updated = Split.objects.filter(id=split.id, frozen_at__isnull=True).update(frozen_at=now)
    split.refresh_from_db()
    if not updated:
        raise SplitRefused(f"split {split.name} of dataset {split.dataset.slug} is already frozen")
    return split


def split_assignments(*, split: Split) -> dict[str, str | None]:
    """External video id → subset (None: verified noise kept out of val/test)."""
    rows = SplitMember.objects.filter(split=split).values_list("video__external_id", "subset")
    return {external_id: subset or None for external_id, subset in rows.iterator(chunk_size=10_000)}


def split_compare(*, old: Split, new: Split) -> "SplitDiff":
    from ml.splits import split_diff

    if old.dataset_id != new.dataset_id:
        raise SplitRefused(f"splits {old.name} and {new.name} belong to different datasets")
    return split_diff(split_assignments(split=old), split_assignments(split=new))


def split_diff_text(diff: "SplitDiff") -> list[str]:
    lines = [f"unchanged: {diff.unchanged}"]
    lines += [f"added to {subset}: {count}" for subset, count in sorted(diff.added.items())]
    lines += [f"removed from {subset}: {count}" for subset, count in sorted(diff.removed.items())]
    lines += [f"moved {a} → {b}: {count}" for (a, b), count in sorted(diff.moved.items())]
    return lines
