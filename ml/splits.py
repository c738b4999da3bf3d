"""Split assignment as a pure function: items → named subsets by ratios.

Rules (issue 6, USV's protocol):
- a publisher never spans two subsets, nor does a near-duplicate group: items linked by either
  form one block (connected components), and a block goes to one subset whole;
- stratified by topic: blocks are placed, largest first, where their topics are most missing;
- deterministic for a seed and independent of the input order (items are canonicalised by id);
- verified noise leaves the evaluation subsets (val/test) but stays, flagged, in train;
- a topic with too few items to reach every subset is reported and kept for training.
"""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

EXCLUDED = -1
RATIO_TOLERANCE = 1e-6


class SplitError(ValueError):
    """The split cannot be made as asked; the message says what to change."""


@dataclass(frozen=True)
class SmallTopic:
    topic: str
    items: int
    needed: int  # items needed for one in every subset at these ratios
    placed: dict[str, int]  # subset → items of this topic that landed there


@dataclass(frozen=True)
class SplitResult:
    names: tuple[str, ...]
    subset: np.ndarray  # (N,) index into names, EXCLUDED for noise kept out of an evaluation subset
    noise: np.ndarray  # (N,) bool, as given
    sizes: dict[str, int]
    excluded_noise: int
    small_topics: list[SmallTopic] = field(default_factory=list)
    blocks: int = 0
    largest_block: int = 0

    def of(self, index: int) -> str | None:
        code = int(self.subset[index])
        return None if code == EXCLUDED else self.names[code]


def check_ratios(ratios: Mapping[str, float]) -> tuple[tuple[str, ...], np.ndarray]:
    names = tuple(ratios)
    if len(names) < 2:
        raise SplitError("a split needs at least two subsets (e.g. train and test)")
    if any(not str(name).strip() for name in names):
        raise SplitError("every subset needs a name")
    values = np.array([float(ratios[name]) for name in names])
    bad = [f"{name}={value:g}" for name, value in zip(names, values, strict=True) if not value > 0]
    if bad:
        raise SplitError(f"ratios must be positive: {', '.join(bad)}")
    if abs(values.sum() - 1.0) > RATIO_TOLERANCE:
        raise SplitError(f"ratios must sum to 1, these sum to {values.sum():g}")
    return names, values


def _blocks(publisher: Sequence, duplicate_group: Sequence) -> np.ndarray:
    """Component id per item: items sharing a publisher or a duplicate group are connected."""
    # Imported here, not at the top: scipy costs every Django process ~0.7 s and 60 MB to import.
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = len(publisher)
    rows, cols, offset = [], [], n
    for keys in (publisher, duplicate_group):
        codes: dict = {}
        for i, key in enumerate(keys):
            if key is None or key == "":
                continue  # an unknown publisher or no duplicate links no one
            rows.append(i)
            cols.append(offset + codes.setdefault(key, len(codes)))
        offset += len(codes)
    graph = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(offset, offset))
    _, labels = connected_components(graph, directed=False)
    return labels[:n]


def assign_split(
    *,
    item_ids: Sequence[str],
    topics: Sequence[str],
    publishers: Sequence[str | None],
    duplicate_groups: Sequence[str | None] | None = None,
    noise: Sequence[bool] | None = None,
    ratios: Mapping[str, float],
    seed: int = 0,
    keep_noise_in: Sequence[str] = ("train",),
) -> SplitResult:
    """Assign every item to a subset. Ratios are met per topic as closely as whole blocks allow;
    they count all items, so evaluation subsets end smaller by the noise they drop (as in USV)."""
    names, weights = check_ratios(ratios)
    n = len(item_ids)
    duplicate_groups = [None] * n if duplicate_groups is None else duplicate_groups
    noise_flags = np.zeros(n, bool) if noise is None else np.asarray(noise, dtype=bool)
    if not (len(topics) == len(publishers) == len(duplicate_groups) == len(noise_flags) == n):
        raise SplitError(
            "item ids, topics, publishers, duplicate groups and noise flags must be equally long"
        )
    if n == 0:
        raise SplitError("there are no items to split")
    if len(set(item_ids)) != n:
        raise SplitError("item ids must be unique")
    unknown = set(keep_noise_in) - set(names)
    if unknown:
        raise SplitError(f"noise can only be kept in a named subset, not {sorted(unknown)}")

    canonical = np.array(sorted(range(n), key=lambda i: str(item_ids[i])))
    topic_codes: dict = {}
    topic = np.array([topic_codes.setdefault(topics[i], len(topic_codes)) for i in canonical])
    block = _blocks([publishers[i] for i in canonical], [duplicate_groups[i] for i in canonical])
    n_topics, n_blocks, n_subsets = len(topic_codes), int(block.max()) + 1, len(names)

    per_topic = np.bincount(topic, minlength=n_topics)
    needed = math.ceil(1 / weights.min() - 1e-9)
    stratifiable = per_topic >= needed
    target = weights[:, None] * per_topic[None, :]  # (S, T)
    filled = np.zeros((n_subsets, n_topics))

    # Large blocks first (they are the hard ones to fit); equal sizes in seeded random order.
    sizes = np.bincount(block, minlength=n_blocks)
    shuffle = np.random.default_rng(seed).permutation(n_blocks)
    order = np.lexsort((shuffle, -sizes))
    members = np.argsort(block, kind="stable")
    starts = np.r_[0, np.cumsum(sizes)]
    placed_block = np.empty(n_blocks, dtype=np.int64)
    fallback = int(np.argmax(weights))  # blocks of only small topics go to the largest subset (train)
    for b in order:
        rows = members[starts[b] : starts[b + 1]]
        block_topics, counts = np.unique(topic[rows], return_counts=True)
        useful = stratifiable[block_topics]
        if not useful.any():
            placed_block[b] = fallback
            filled[fallback, block_topics] += counts
            continue
        t, c = block_topics[useful], counts[useful]
        # Need: the share of each topic's target still missing, weighted by this block's items;
        # overshooting a target counts against a subset, so a big block goes where it fits.
        missing = (target[:, t] - filled[:, t] - c / 2) / per_topic[t]
        need = (missing * c).sum(axis=1)
        choice = int(np.argmax(need + 1e-9 * weights))
        placed_block[b] = choice
        filled[choice, block_topics] += counts

    subset = np.empty(n, dtype=np.int64)
    subset[canonical] = placed_block[block]
    keep = np.array([name in set(keep_noise_in) for name in names])
    dropped = noise_flags & ~keep[subset]
    subset[dropped] = EXCLUDED

    result_sizes = {name: int((subset == k).sum()) for k, name in enumerate(names)}
    empty = [name for name, size in result_sizes.items() if size == 0]
    if empty:
        raise SplitError(
            f"subset(s) {', '.join(empty)} would be empty: {n} items in {n_blocks} publisher/duplicate "
            f"block(s), the largest holding {int(sizes.max())}; add items or lower the number of subsets"
        )
    names_by_topic = list(topic_codes)
    small = []
    for t in np.flatnonzero(~stratifiable):
        where = subset[canonical][topic == t]
        placed = {names[k]: int((where == k).sum()) for k in range(n_subsets) if (where == k).any()}
        if (where == EXCLUDED).any():
            placed["excluded (noise)"] = int((where == EXCLUDED).sum())
        small.append(SmallTopic(str(names_by_topic[t]), int(per_topic[t]), needed, placed))
    return SplitResult(
        names, subset, noise_flags, result_sizes, int(dropped.sum()), small, n_blocks, int(sizes.max())
    )


@dataclass(frozen=True)
class SplitDiff:
    added: dict[str, int]  # subset → items only the new version has
    removed: dict[str, int]  # subset → items only the old version had
    moved: dict[tuple[str, str], int]  # (old subset, new subset) → items
    unchanged: int


def split_diff(old: Mapping[str, str | None], new: Mapping[str, str | None]) -> SplitDiff:
    """Compare two versions, each item id → subset name (None: excluded as noise)."""
    added: dict[str, int] = {}
    removed: dict[str, int] = {}
    moved: dict[tuple[str, str], int] = {}
    unchanged = 0
    for item, subset in new.items():
        label = subset or "excluded"
        if item not in old:
            added[label] = added.get(label, 0) + 1
        elif (old[item] or "excluded") == label:
            unchanged += 1
        else:
            key = (old[item] or "excluded", label)
            moved[key] = moved.get(key, 0) + 1
    for item, subset in old.items():
        if item not in new:
            label = subset or "excluded"
            removed[label] = removed.get(label, 0) + 1
    return SplitDiff(added, removed, moved, unchanged)
