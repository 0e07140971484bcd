"""A sharded run's pure operator policy: shard pods, status lines, retries of one shard, the merge decision."""

from __future__ import annotations

from supertest_operator.builders import ShardRole, build_pod, script_files, shard_pod_name
from supertest_operator.handlers.cancel import cancel_update
from supertest_operator.handlers.timeout import _unless_moved
from supertest_operator.run import RunRef, RunView
from supertest_operator.settings import OperatorSettings
from supertest_operator.shards import (
    admit,
    executions_held,
    executions_needed,
    initial_lines,
    lines_field,
    next_step,
    on_node_lost,
    on_shard_pod,
    pods_to_stop,
    running_summary,
    shards_done,
    stop_lines,
)
from supertest_operator.transitions import Update

from supertest.events import Summary
from supertest.kube.models import JobRunSpec, parse_status
from supertest.kube.names import JOBRUN, LABEL_SHARD
from supertest.phases import Phase
from supertest.sharding import plan_shards
from tests.unit.operator.conftest import run_body

REF = RunRef(JOBRUN, "ns", "big", "uid-1")
SPEC = JobRunSpec.model_validate(
    {"shards": 2, "tests": [{"name": f"t{i}", "script": "x"} for i in range(3)], "retries": 1}
)
FILES = [f.file_name for f in script_files(SPEC)]
PLAN = plan_shards(FILES, SPEC.shards, {})
TEMPLATE = "big-s{index}-a{attempt}"


def _env(pod: dict) -> dict[str, str]:  # type: ignore[type-arg]
    return {e["name"]: e.get("value", "") for e in pod["spec"]["containers"][0]["env"]}


def test_a_shard_pod_runs_only_its_files_and_the_merge_pod_merges(settings: OperatorSettings) -> None:
    shard = build_pod(REF, SPEC, script_files(SPEC), 1, settings, shard=ShardRole(2, PLAN[1]))
    assert shard["metadata"]["name"] == "big-s1-a1" == TEMPLATE.format(index=1, attempt=1)
    assert shard["metadata"]["labels"][LABEL_SHARD] == "1"
    env = _env(shard)
    assert (env["SUPERTEST_SHARD_INDEX"], env["SUPERTEST_SHARD_TOTAL"]) == ("1", "2")
    assert env["SUPERTEST_SHARD_FILES"] == ",".join(PLAN[1].files)
    assert "SUPERTEST_SHARD_MERGE" not in env
    merge = build_pod(REF, SPEC, script_files(SPEC), 1, settings, shard=ShardRole(2))
    assert merge["metadata"]["name"] == "big-merge-a1"
    assert merge["metadata"]["labels"][LABEL_SHARD] == "merge"
    assert _env(merge)["SUPERTEST_SHARD_MERGE"] == "1" and "SUPERTEST_SHARD_INDEX" not in _env(merge)
    plain = build_pod(REF, SPEC, script_files(SPEC), 1, settings)
    assert plain["metadata"]["name"] == "big-a1" and LABEL_SHARD not in plain["metadata"]["labels"]
    assert len(shard_pod_name("x" * 52, ShardRole(32, plan_shards([f"{i}" for i in range(32)], 32, {})[31]), 10)) <= 63


def test_admission_counts_shard_pods_and_admits_in_part() -> None:
    lines = initial_lines(PLAN)
    assert executions_needed(None) == 1 and executions_needed(lines) == 2
    assert executions_held(lines, merging=False) == 0
    lines = admit(lines, 1, TEMPLATE)  # one free slot: one shard now, the other later
    assert [(line.phase, line.pod_name) for line in lines] == [(Phase.STARTING, "big-s0-a1"), (Phase.QUEUED, None)]
    assert executions_needed(lines) == 1 and executions_held(lines, merging=False) == 1
    lines = admit(lines, 5, TEMPLATE)
    assert executions_needed(lines) == 0 and executions_held(lines, merging=False) == 2
    assert executions_held(lines, merging=True) == 1


def test_a_lost_shard_is_retried_alone_then_the_run_merges() -> None:
    lines = admit(initial_lines(PLAN), 2, TEMPLATE)
    lines = on_shard_pod(lines, "big-s0-a1", Phase.PASSED, "2 passed", Summary(total=2, passed=2))
    lines = on_shard_pod(lines, "big-s1-a1", Phase.ERROR, "the pod was deleted", retryable=True, retries=1)
    assert [line.phase for line in lines] == [Phase.PASSED, Phase.QUEUED]
    assert shards_done(lines) == "1/2" and next_step(lines).action == "wait"
    assert executions_needed(lines) == 1
    lines = admit(lines, 1, TEMPLATE)
    assert lines[1].pod_name == "big-s1-a2" and lines[1].attempts == 2
    # A late event from the replaced pod changes nothing.
    assert on_shard_pod(lines, "big-s1-a1", Phase.FAILED, "late") == lines
    lines = on_shard_pod(lines, "big-s1-a2", Phase.FAILED, "1 failed", Summary(total=1, failed=1))
    assert shards_done(lines) == "2/2"
    assert next_step(lines).action == "merge"
    summary = running_summary(lines)
    assert (summary.total, summary.passed, summary.failed) == (3, 2, 1)


def test_a_shard_out_of_retries_ends_the_run_without_a_merge() -> None:
    lines = admit(initial_lines(PLAN), 2, TEMPLATE)
    lines = on_shard_pod(lines, "big-s0-a1", Phase.PASSED, "ok", Summary(total=2, passed=2))
    lines = on_shard_pod(lines, "big-s1-a1", Phase.ERROR, "evicted", retryable=True, retries=0)
    step = next_step(lines)
    assert (step.action, step.phase) == ("finish", Phase.ERROR)
    assert "shard 2: evicted" in step.message


def test_status_lines_round_trip_through_the_run_status() -> None:
    lines = admit(initial_lines(PLAN), 1, TEMPLATE)
    status = parse_status({"shards": [line.model_dump(by_alias=True, mode="json") for line in lines]})
    assert status.shards == lines
    assert status.to_patch()["shards"][0]["podName"] == "big-s0-a1"


THREE = plan_shards([f"{i:02d}.spec.js" for i in range(3)], 3, {})


def test_cancel_and_timeout_stop_every_unfinished_shard_pod_and_the_merge_pod() -> None:
    lines = admit(initial_lines(THREE), 2, TEMPLATE)  # shards 1 and 2 started, shard 3 waits for a slot
    lines = on_shard_pod(lines, "big-s0-a1", Phase.PASSED, "ok", Summary(total=1, passed=1))
    # The finished shard's pod has ended; the waiting shard has none.
    assert pods_to_stop(lines, None) == ["big-s1-a1"]
    assert pods_to_stop(lines, "big-merge-a1") == ["big-s1-a1", "big-merge-a1"]
    assert pods_to_stop(None, "plain-a1") == ["plain-a1"] and pods_to_stop(None, None) == []
    stopped = stop_lines(lines, Phase.TIMED_OUT, "the run exceeded its timeout")
    assert [line.phase for line in stopped] == [Phase.PASSED, Phase.TIMED_OUT, Phase.TIMED_OUT]
    assert stopped[0].message == "ok" and stopped[2].message == "the run exceeded its timeout"
    assert pods_to_stop(stopped, None) == []


def test_cancelling_a_sharded_run_ends_its_unfinished_shard_lines_cancelled() -> None:
    lines = admit(initial_lines(THREE), 3, TEMPLATE)
    body = run_body(
        kind="JobRun",
        spec={"shards": 3, "cancel": True},
        status={"phase": "Running", "shards": lines_field(lines)},
    )
    update = cancel_update(RunView.from_body(body))
    assert update is not None and update.phase is Phase.CANCELLED
    assert [line["phase"] for line in update.fields["shards"]] == ["Cancelled"] * 3
    plain = cancel_update(RunView.from_body(run_body(spec={"cancel": True}, status={"phase": "Running"})))
    assert plain is not None and "shards" not in plain.fields


def test_a_shard_on_a_lost_node_is_queued_again_alone_and_its_old_pod_cannot_revive_it() -> None:
    lines = admit(initial_lines(THREE), 3, TEMPLATE)
    lines = on_shard_pod(lines, "big-s0-a1", Phase.RUNNING, "running")
    lost, step = on_node_lost(lines, "big-s1-a1", "node n1 was lost", retries=1)
    assert [line.phase for line in lost] == [Phase.RUNNING, Phase.QUEUED, Phase.STARTING]
    assert "node n1 was lost" in (lost[1].message or "") and step.action == "wait"
    assert executions_needed(lost) == 1
    # The force-deleted pod's late events (still Running, or deleted) leave the Queued line alone.
    assert on_shard_pod(lost, "big-s1-a1", Phase.RUNNING, "late") == lost
    assert on_shard_pod(lost, "big-s1-a1", Phase.ERROR, "deleted", retryable=True, retries=1) == lost
    assert admit(lost, 1, TEMPLATE)[1].pod_name == "big-s1-a2"


def test_a_shard_on_a_lost_node_without_retries_errors_the_run_once_the_others_end() -> None:
    lines = admit(initial_lines(THREE), 3, TEMPLATE)
    lines = on_shard_pod(lines, "big-s0-a1", Phase.PASSED, "ok", Summary(total=1, passed=1))
    lost, step = on_node_lost(lines, "big-s1-a1", "node n1 was lost", retries=0)
    assert lost[1].phase is Phase.ERROR and step.action == "wait"  # shard 3 still runs
    lines = on_shard_pod(lost, "big-s2-a1", Phase.PASSED, "ok", Summary(total=1, passed=1))
    step = next_step(lines)
    assert (step.action, step.phase) == ("finish", Phase.ERROR)
    assert "shard 2: node n1 was lost" in step.message
    # A pod that is not one of the run's live shard pods changes nothing.
    assert on_node_lost(lines, "someone-else", "lost", retries=1)[0] == lines


def test_the_run_deadline_ends_the_shard_lines_as_they_are_when_it_is_applied() -> None:
    lines = admit(initial_lines(THREE), 2, TEMPLATE)
    lines = on_shard_pod(lines, "big-s0-a1", Phase.PASSED, "ok", Summary(total=1, passed=1))
    body = run_body(kind="JobRun", spec={"shards": 3}, status={"phase": "Running", "shards": lines_field(lines)})
    update = Update(Phase.TIMED_OUT, "DeadlineExceeded", "the run exceeded its timeout", warning=True)
    decided = _unless_moved(update, Phase.RUNNING)(RunView.from_body(body))
    assert decided is not None and decided.phase is Phase.TIMED_OUT
    assert [line["phase"] for line in decided.fields["shards"]] == ["Passed", "TimedOut", "TimedOut"]
    # A run that moved on since the decision (e.g. it finished) is left alone.
    moved = run_body(kind="JobRun", spec={"shards": 3}, status={"phase": "Passed", "shards": lines_field(lines)})
    assert _unless_moved(update, Phase.RUNNING)(RunView.from_body(moved)) is None
