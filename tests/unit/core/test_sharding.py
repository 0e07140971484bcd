"""The shard planner (longest-processing-time bin-packing) and the execution-counting admission policy."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta

import pytest

from supertest.admission import QueuedRun, allot_executions
from supertest.events import Summary
from supertest.sharding import (
    MAX_SHARDS,
    lower_bound,
    makespan,
    merged_summary,
    no_history,
    plan_shards,
    progress,
    shard_count,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
# The uneven suite: 12 files, two of them long, the rest a spread of short ones (seconds).
UNEVEN = dict(
    zip(
        [f"{i:02d}-t.spec.js" for i in range(1, 13)],
        [40.0, 5.0, 3.0, 30.0, 2.0, 8.0, 1.0, 12.0, 6.0, 4.0, 9.0, 10.0],
        strict=True,
    )
)


def optimum(durations: list[float], shards: int) -> float:
    """Brute force over every assignment: the best makespan any split can reach."""
    best = float("inf")
    for assignment in itertools.product(range(shards), repeat=len(durations)):
        loads = [0.0] * shards
        for d, s in zip(durations, assignment, strict=True):
            loads[s] += d
        best = min(best, max(loads))
    return best


def by_order(files: list[str], shards: int) -> list[list[str]]:
    """What Playwright's `--shard=i/N` does with files: contiguous groups of (almost) equal count."""
    size, extra = divmod(len(files), shards)
    out, start = [], 0
    for i in range(shards):
        end = start + size + (1 if i < extra else 0)
        out.append(files[start:end])
        start = end
    return out


def test_every_file_runs_exactly_once_and_keeps_the_run_order():
    files = list(UNEVEN)
    plan = plan_shards(files, 4, UNEVEN)
    assert len(plan) == 4
    assert sorted(f for s in plan for f in s.files) == sorted(files)
    for shard in plan:
        assert list(shard.files) == sorted(shard.files)  # 01-, 02- order inside each shard
        assert shard.expected_seconds == pytest.approx(sum(UNEVEN[f] for f in shard.files))


def test_uneven_history_is_balanced_within_a_quarter_of_the_optimum_and_beats_the_order_split():
    files = list(UNEVEN)
    plan = plan_shards(files, 4, UNEVEN)
    bound = lower_bound(UNEVEN.values(), 4)  # 40 s: the longest file alone
    assert makespan(plan) <= 1.25 * bound
    ordered = max(sum(UNEVEN[f] for f in group) for group in by_order(files, 4))
    assert ordered > makespan(plan)  # 48 s (the first three files) against 40 s


@pytest.mark.parametrize("seed", range(25))
def test_lpt_is_within_its_bound_of_the_true_optimum(seed: int):
    rng = random.Random(seed)
    shards = rng.choice([2, 3])
    durations = [round(rng.paretovariate(1.2), 2) for _ in range(rng.randint(shards, 9))]
    files = [f"f{i}.spec.js" for i in range(len(durations))]
    plan = plan_shards(files, shards, dict(zip(files, durations, strict=True)))
    best = optimum(durations, shards)
    # Graham's bound for LPT: (4/3 - 1/(3m)) times the optimum.
    assert makespan(plan) <= (4 / 3 - 1 / (3 * shards)) * best + 1e-9


def test_files_without_history_go_round_robin():
    files = [f"{i}.spec.js" for i in range(7)]
    plan = plan_shards(files, 3, no_history(files))
    assert [s.files for s in plan] == [
        ("0.spec.js", "3.spec.js", "6.spec.js"),
        ("1.spec.js", "4.spec.js"),
        ("2.spec.js", "5.spec.js"),
    ]


def test_new_files_fill_the_lightest_shards_first():
    files = ["slow.spec.js", "quick.spec.js", "new-a.spec.js", "new-b.spec.js"]
    plan = plan_shards(files, 3, {"slow.spec.js": 60.0, "quick.spec.js": 1.0})
    where = {f: s.index for s in plan for f in s.files}
    assert where["new-a.spec.js"] == 2  # the empty shard first
    assert where["new-b.spec.js"] == 1  # then the 1 s one, never the 60 s one
    assert where["slow.spec.js"] == 0


def test_never_more_shards_than_files_and_never_empty_shards():
    assert shard_count(4, 2) == 2
    assert shard_count(1, 0) == 1
    assert shard_count(99, 99) == MAX_SHARDS
    plan = plan_shards(["a.spec.js", "b.spec.js"], 8, {})
    assert [len(s.files) for s in plan] == [1, 1]
    # Zero-second history must not leave a shard empty (the run counts one slot per planned shard).
    zero = plan_shards(["a.spec.js", "b.spec.js", "c.spec.js"], 3, dict.fromkeys(["a.spec.js", "b.spec.js"], 0.0))
    assert [len(s.files) for s in zero] == [1, 1, 1]


def test_the_plan_is_deterministic():
    files = list(UNEVEN)
    # The same files and history in another mapping order: a retried shard is planned exactly as before.
    assert plan_shards(files, 4, UNEVEN) == plan_shards(files, 4, dict(reversed(list(UNEVEN.items()))))


def test_duplicate_files_are_refused():
    with pytest.raises(ValueError, match="unique"):
        plan_shards(["a.spec.js", "a.spec.js"], 2, {})


def test_merged_summary_adds_counts_and_takes_the_slowest_duration():
    merged = merged_summary(
        [
            Summary(total=3, passed=2, failed=1, durationMs=900),
            Summary(total=4, passed=3, flaky=1, skipped=0, durationMs=1500),
        ]
    )
    assert (merged.total, merged.passed, merged.failed, merged.flaky, merged.duration_ms) == (7, 5, 1, 1, 1500)
    assert progress(3, 4) == "3/4"


def q(name: str, seconds: int, priority: int = 0) -> QueuedRun:
    return QueuedRun(run_id=name, queued_at=T0 + timedelta(seconds=seconds), priority=priority)


def test_capacity_counts_shard_pods_and_never_overshoots():
    needs = [(q("sharded", 1), 4), (q("plain", 2), 1)]
    allotted = allot_executions(needs, running_executions=0, running_capacity=2)
    assert [(a.run.run_id, a.executions) for a in allotted] == [("sharded", 2)]
    assert sum(a.executions for a in allotted) == 2


def test_a_partly_admitted_run_gets_the_next_slots_first():
    # Two of its four shards run; it still needs two, and it is older than the plain run behind it.
    needs = [(q("plain", 2), 1), (q("sharded", 1), 2)]
    allotted = allot_executions(needs, running_executions=2, running_capacity=3)
    assert [(a.run.run_id, a.executions) for a in allotted] == [("sharded", 1)]
    allotted = allot_executions(needs, running_executions=1, running_capacity=4)
    assert [(a.run.run_id, a.executions) for a in allotted] == [("sharded", 2), ("plain", 1)]


@pytest.mark.parametrize("seed", range(20))
def test_allotment_never_exceeds_free_slots(seed: int):
    rng = random.Random(seed)
    needs = [(q(f"r{i}", rng.randint(0, 50), rng.choice([0, 0, 5])), rng.randint(0, 6)) for i in range(8)]
    capacity, running = rng.randint(1, 10), rng.randint(0, 10)
    allotted = allot_executions(needs, running, capacity)
    assert sum(a.executions for a in allotted) <= max(0, capacity - running)
    need = {r.run_id: n for r, n in needs}
    assert all(0 < a.executions <= need[a.run.run_id] for a in allotted)
    # Only the last run admitted may be admitted in part, and only because the slots ran out.
    for a in allotted[:-1]:
        assert a.executions == need[a.run.run_id]
