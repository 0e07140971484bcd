"""Pure policy of a sharded run in Kubernetes: its status lines, the pods it still needs, and what comes next.

A sharded run (spec.shards > 1) has one pod per shard, each one execution against RUNNING_CAPACITY, then one
merge pod. Its `status.shards` holds a line per shard; a line goes Queued -> Starting -> Running -> Passed |
Failed, and a shard lost to an infrastructure error goes back to Queued alone (its attempts counted), so the
admission pass creates only that shard's pod again. No I/O here: admission and the pod handler call these.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from supertest.events import Summary
from supertest.kube.models import ShardStatus
from supertest.phases import Phase
from supertest.sharding import ShardPlan, merged_summary, progress

# A shard line in one of these has a blob report for the merge step.
MERGEABLE = frozenset({Phase.PASSED, Phase.FAILED})
# A shard line in one of these holds a running slot (its pod exists or is being created).
HOLDING = frozenset({Phase.STARTING, Phase.RUNNING})


def initial_lines(plan: Sequence[ShardPlan]) -> list[ShardStatus]:
    """Every shard waits for a slot; the files are kept so a retry runs exactly the files of the lost attempt."""
    return [ShardStatus(index=s.index, phase=Phase.QUEUED, files=list(s.files)) for s in plan]


def executions_needed(lines: Sequence[ShardStatus] | None) -> int:
    """How many pods admission still has to start for the run: 1 for an unsharded (or not yet planned) run,
    else its Queued shards. A run admitted in part keeps its place in the queue for the rest."""
    if not lines:
        return 1
    return sum(1 for line in lines if line.phase is Phase.QUEUED)


def executions_held(lines: Sequence[ShardStatus] | None, merging: bool) -> int:
    """Running slots the run holds: its Starting/Running shards, or its merge pod."""
    if merging:
        return 1
    if not lines:
        return 0
    return sum(1 for line in lines if line.phase in HOLDING)


def admit(lines: Sequence[ShardStatus], count: int, pod_name: str) -> list[ShardStatus]:
    """The first `count` Queued shards become Starting, each with its pod's name (`pod_name` is a template with
    `{index}` and `{attempt}`), so a crash between status and pod creation recreates the same pods."""
    out: list[ShardStatus] = []
    for line in lines:
        if count > 0 and line.phase is Phase.QUEUED:
            attempt = line.attempts + 1
            name = pod_name.format(index=line.index, attempt=attempt)
            line = line.model_copy(update={"phase": Phase.STARTING, "pod_name": name, "attempts": attempt})
            count -= 1
        out.append(line)
    return out


def on_shard_pod(
    lines: Sequence[ShardStatus],
    pod_name: str,
    phase: Phase,
    message: str,
    summary: Summary | None = None,
    retryable: bool = False,
    retries: int = 0,
) -> list[ShardStatus]:
    """A shard pod's outcome on its line. A retryable Error (pod deleted, evicted, upload failed) with retries
    left sends the shard alone back to Queued; the other shards are untouched. Only the pod named on the line
    speaks for it: a late event from a replaced attempt's pod changes nothing."""
    out: list[ShardStatus] = []
    for line in lines:
        # A Queued line's pod name is its lost attempt's: that pod's late events must not revive the line.
        if line.pod_name == pod_name and line.phase in HOLDING:
            update: dict[str, object] = {"phase": phase, "message": message}
            if summary is not None:
                update.update(passed=summary.passed + summary.flaky, failed=summary.failed)
            if phase is Phase.ERROR and retryable and line.attempts <= retries:
                update.update(phase=Phase.QUEUED, message=f"{message}; running this shard again")
            line = line.model_copy(update=update)
        out.append(line)
    return out


@dataclass(frozen=True, slots=True)
class Next:
    """What the run does after a shard line changed."""

    action: Literal["wait", "merge", "finish"]
    phase: Phase | None = None  # for finish: the run's phase (no merge is possible)
    message: str = ""


def next_step(lines: Sequence[ShardStatus]) -> Next:
    """Merge once every shard has a report; finish without a merge once one shard ended unmergeable for good."""
    ended = [line for line in lines if line.phase is not None and line.phase.is_terminal]
    if len(ended) < len(lines):
        return Next("wait")
    bad = [line for line in ended if line.phase not in MERGEABLE]
    if not bad:
        return Next("merge")
    phases = {line.phase for line in bad}
    phase = next(p for p in (Phase.TIMED_OUT, Phase.ERROR, Phase.CANCELLED) if p in phases)
    what = "; ".join(f"shard {line.index + 1}: {line.message or line.phase}" for line in bad)
    return Next("finish", phase, what)


def shards_done(lines: Sequence[ShardStatus]) -> str:
    """The SHARDS printer column."""
    return progress(sum(1 for line in lines if line.phase is not None and line.phase.is_terminal), len(lines))


def running_summary(lines: Sequence[ShardStatus]) -> Summary:
    """The run's counts while its shards finish (the merge step's results.json replaces them at the end)."""
    return merged_summary(
        Summary(total=line.passed + line.failed, passed=line.passed, failed=line.failed) for line in lines
    )


def pods_to_stop(lines: Sequence[ShardStatus] | None, merge_pod: str | None) -> list[str]:
    """Every pod a sharded run may still have running when it is cancelled, times out or is deleted: the pods of
    its unfinished shard lines and its merge pod. A Queued line's pod name is a lost attempt's, already gone."""
    names = [line.pod_name for line in lines or () if line.pod_name and line.phase in HOLDING]
    if merge_pod:
        names.append(merge_pod)
    return names


def stop_lines(lines: Sequence[ShardStatus], phase: Phase, message: str) -> list[ShardStatus]:
    """The run ended from above (cancel, deadline): every unfinished shard line ends with it, so no line claims
    to be Running or Queued under a finished run. Finished lines keep their own outcome."""
    return [
        line
        if line.phase is not None and line.phase.is_terminal
        else line.model_copy(update={"phase": phase, "message": message})
        for line in lines
    ]


def lines_field(lines: Sequence[ShardStatus]) -> list[dict[str, object]]:
    """Status lines as the resource's status holds them."""
    return [line.model_dump(by_alias=True, exclude_none=True, mode="json") for line in lines]


def on_node_lost(
    lines: Sequence[ShardStatus], pod_name: str, message: str, retries: int
) -> tuple[list[ShardStatus], Next]:
    """A shard pod on a lost node: that shard alone is run again while it has retries left (spec.retries per
    shard), else it ends Error and, once the others have ended, so does the run (no merge without its report)."""
    lines = on_shard_pod(lines, pod_name, Phase.ERROR, message, retryable=True, retries=retries)
    return lines, next_step(lines)
