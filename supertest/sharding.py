"""Sharded runs as pure functions: which files each shard runs, and what the shards add up to.

Playwright's own `--shard=i/N` splits by order, so one slow file makes one slow shard. Here the files are
bin-packed by their median durations from past runs (longest-processing-time first: each file, slowest first,
goes to the least-loaded shard, which is within 4/3 of the optimum). Files without history are spread round-robin
over the shards, least-loaded first, so a new suite still runs N ways at once.

Shared by the operator (one pod per shard) and local mode (one runner process per shard).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from supertest.events import Summary

MIN_SHARDS = 1
MAX_SHARDS = 32  # crds/*.yaml spec.shards.maximum (tests/unit/kube keeps them equal)


class DurationSource(Protocol):
    """Median duration in seconds of each known key (a test file); unknown keys are simply absent."""

    def __call__(self, keys: Sequence[str]) -> Mapping[str, float]: ...


def no_history(keys: Sequence[str]) -> Mapping[str, float]:
    """The default source until per-test results are stored: every file is new, so shards go round-robin."""
    return {}


@dataclass(frozen=True, slots=True)
class ShardPlan:
    """One shard: its 0-based index, its files (in the run's order) and the seconds its known files add up to."""

    index: int
    files: tuple[str, ...]
    expected_seconds: float


def shard_count(requested: int, files: int) -> int:
    """A shard without files would be an empty pod: never more shards than files (and at least one)."""
    return max(MIN_SHARDS, min(requested, MAX_SHARDS, files))


def plan_shards(files: Sequence[str], requested: int, durations: Mapping[str, float]) -> list[ShardPlan]:
    """Longest-processing-time bin-packing of `files` into `shard_count(requested, len(files))` shards.

    Deterministic for the same input (ties go by name, then the lower shard index), so a retried shard gets
    the same files as the attempt it replaces when the plan is computed again.
    """
    if len(set(files)) != len(files):
        raise ValueError("file names must be unique")
    count = shard_count(requested, len(files))
    loads = [0.0] * count
    members: list[list[str]] = [[] for _ in range(count)]
    known = [f for f in files if durations.get(f) is not None and durations[f] >= 0]
    unknown = [f for f in files if f not in set(known)]
    for name in sorted(known, key=lambda f: (-durations[f], f)):
        # Fewest files breaks load ties: zero-second files still land on empty shards first, so none stays empty.
        target = min(range(count), key=lambda i: (loads[i], len(members[i]), i))
        members[target].append(name)
        loads[target] += durations[name]
    # Round-robin from the least-loaded shard: with no history at all this is plain 0, 1, 2, ...
    order = sorted(range(count), key=lambda i: (loads[i], len(members[i]), i))
    for n, name in enumerate(unknown):
        members[order[n % count]].append(name)
    position = {f: i for i, f in enumerate(files)}
    return [
        ShardPlan(i, tuple(sorted(members[i], key=position.__getitem__)), loads[i]) for i in range(count) if members[i]
    ]


def makespan(plan: Iterable[ShardPlan]) -> float:
    """The slowest shard's expected seconds: the run's expected wall time."""
    return max((s.expected_seconds for s in plan), default=0.0)


def lower_bound(durations: Iterable[float], shards: int) -> float:
    """No split can beat this: the longest single file, or the total spread perfectly evenly."""
    values = list(durations)
    if not values:
        return 0.0
    return max(max(values), sum(values) / max(1, min(shards, len(values))))


def merged_summary(summaries: Iterable[Summary]) -> Summary:
    """The shards' counts added up; the duration is the slowest shard's (they run at the same time)."""
    out = Summary()
    for s in summaries:
        out.total += s.total
        out.passed += s.passed
        out.failed += s.failed
        out.flaky += s.flaky
        out.skipped += s.skipped
        out.duration_ms = max(out.duration_ms or 0, s.duration_ms or 0)
    return out


def progress(done: int, total: int) -> str:
    """The SHARDS printer column: `3/4`."""
    return f"{done}/{total}"
