"""Local-mode backend: admits Queued rows by the shared policy and runs each as a runner subprocess.

The runner is launched as a process, never imported, with a scrubbed environment (runner_env.py). It
reports live events as prefixed lines on its stdout, which the dispatcher relays to the bus; the run's result
comes only from the runner's exit code and the verdict file it writes (supertest/verdict.py), so a lost, cut or
forged line cannot change an outcome. The row is the truth: every publish is best-effort (publish_or_warn), so
an unreachable Redis never fails a committed submit, never leaves a run stuck in Starting, and never kills a
relay (which would orphan its runner).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import signal
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import structlog
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from supertest import variables
from supertest.admission import allot_executions
from supertest.artifacts import layout
from supertest.auto_quarantine import AutoQuarantineRule
from supertest.bus.base import EventBus, publish_or_warn
from supertest.crypto import load_secret_box
from supertest.db import runs as run_repo
from supertest.db import test_results
from supertest.db.engine import AsyncConnections, in_session
from supertest.db.ids import new_run_id
from supertest.db.models import RunRecord
from supertest.events import EventType, RunEvent, decode_stdout_event, log_event, status_event, truncate_line
from supertest.launch import LaunchedRun, RunAlreadyFinished, RunRequest, scripts_from_spec
from supertest.local.lines import read_line
from supertest.local.orphan_runners import stop_orphan_runners
from supertest.local.runner_env import run_dir_of, runner_env
from supertest.local.workspace import write_scripts
from supertest.phases import ExitCode, IllegalTransition, Phase, phase_for_exit_code
from supertest.results_recorder import ResultsReader
from supertest.results_recorder import record as record_results
from supertest.settings import CoreSettings
from supertest.sharding import DurationSource, ShardPlan, plan_shards, shard_count
from supertest.verdict import Verdict
from supertest.verdict import read as read_verdict

log = structlog.get_logger("supertest.dispatcher")
T = TypeVar("T")

# Beyond the runner's own timeout, how long before the dispatcher stops trusting it.
WATCHDOG_GRACE_SECONDS = 60
# The longest runner stdout line read whole (an event with a long result); longer ones are cut (local/lines.py).
RELAY_READ_LIMIT = 1 << 20
# A restarted dispatcher requeues orphaned runs this many times before calling them Error.
MAX_RECOVERY_ATTEMPTS = 3
VERDICT_FILE = "verdict.json"


@dataclass(frozen=True, slots=True)
class _ShardEnd:
    phase: Phase
    message: str
    lost: bool = False  # an infrastructure loss (killed, upload failed): the shard is run again alone


# A shard in one of these phases has a blob report the merge step can use.
_MERGEABLE = (Phase.PASSED, Phase.FAILED)


@dataclass
class _ActiveRun:
    run_id: str
    process: asyncio.subprocess.Process
    terminal: Phase | None = None
    cancel_requested: bool = False
    relay: asyncio.Task[None] | None = field(default=None, repr=False)


class LocalDispatcher:
    def __init__(
        self,
        settings: CoreSettings,
        session_factory: sessionmaker[Session],
        bus: EventBus,
        runner_command: Sequence[str] | None = None,
        tick_seconds: float = 2.0,
        durations: DurationSource | None = None,
    ) -> None:
        self._settings = settings
        self._sessions = session_factory
        self._bus = bus
        self._runner_command = list(runner_command or [sys.executable, "-m", "supertest_runner"])
        self._secrets = load_secret_box(settings)
        self._results = ResultsReader(settings)
        self._auto_quarantine = AutoQuarantineRule.from_settings(settings)
        self._tick = tick_seconds
        self._wake = asyncio.Event()
        self._active: dict[str, _ActiveRun] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop_task: asyncio.Task[None] | None = None
        self._stopping = False
        # Sharded runs (supertest/sharding.py): each shard process holds a running slot. `_held` counts a run's
        # granted slots, `_wanted` the shards still waiting for one (a run admitted in part), `_grants` hands
        # a granted slot to the run's waiting shard.
        # Past durations from test_results unless a test hands its own (None: read this database).
        self._durations = durations
        self._held: dict[str, int] = {}
        self._wanted: dict[str, int] = {}
        self._grants: dict[str, asyncio.Semaphore] = {}
        self._shard_procs: dict[str, set[asyncio.subprocess.Process]] = {}
        self._unfinished: dict[str, int] = {}
        # On Postgres the enqueue runs on the event loop (no worker thread per submission); SQLite keeps the
        # session path, whose BEGIN IMMEDIATE is what serialises its writers.
        engine = session_factory.kw.get("bind")
        self._enqueue_conns = (
            AsyncConnections(engine) if isinstance(engine, Engine) and engine.dialect.name == "postgresql" else None
        )

    # -- RunLauncher -------------------------------------------------------------------------

    async def start(self) -> None:
        await self._db(self._recover_orphans)
        self._loop_task = asyncio.create_task(self._admission_loop(), name="supertest-dispatcher")

    async def stop(self) -> None:
        self._stopping = True
        if self._loop_task:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
        for active in list(self._active.values()):
            _signal_group(active.process, signal.SIGTERM)
        for procs in self._shard_procs.values():
            for proc in procs:
                _signal_group(proc, signal.SIGTERM)
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=30)
        if self._enqueue_conns is not None:
            await self._enqueue_conns.close()

    async def submit(self, request: RunRequest) -> LaunchedRun:
        def enqueue(session: Session) -> LaunchedRun:
            record = run_repo.queued_record(new_run_id(request.kind), request)
            return run_repo.launched(run_repo.enqueue(session, record, self._settings.queued_capacity))

        if self._enqueue_conns is not None:
            row = run_repo.queued_record(new_run_id(request.kind), request)
            async with self._enqueue_conns.connection() as conn:
                record = run_repo.launched(await run_repo.enqueue_async(conn, row, self._settings.queued_capacity))
        else:
            record = await self._db(enqueue)
        await publish_or_warn(self._bus, status_event(record.id, Phase.QUEUED, "waiting for a running slot"))
        self._wake.set()
        return record

    async def cancel(self, run_id: str) -> LaunchedRun:
        def mark(session: Session) -> tuple[LaunchedRun, bool]:
            record = run_repo.get(session, run_id)
            phase = Phase(record.phase)
            if phase.is_terminal:
                raise RunAlreadyFinished(run_id, phase.value)
            if phase is Phase.QUEUED:
                run_repo.apply_phase(session, run_id, run_repo.PhaseUpdate(Phase.CANCELLED, "cancelled while queued"))
                return run_repo.launched(record), True
            run_repo.request_cancel(session, run_id)
            return run_repo.launched(record), False

        record, finished = await self._db(mark)
        if finished:
            await publish_or_warn(self._bus, status_event(run_id, Phase.CANCELLED, "cancelled while queued"))
            return record
        active = self._active.get(run_id)
        if active is not None:
            active.cancel_requested = True
            _signal_group(active.process, signal.SIGTERM)
        for proc in self._shard_procs.get(run_id, ()):
            _signal_group(proc, signal.SIGTERM)
        return record

    # -- admission ---------------------------------------------------------------------------

    def wake(self) -> None:
        self._wake.set()

    @property
    def running_count(self) -> int:
        """Running executions: a sharded run counts one per shard process it holds a slot for."""
        return len(set(self._active) - set(self._held)) + sum(self._held.values())

    async def _admission_loop(self) -> None:
        while not self._stopping:
            try:
                # Snapshots: the pass runs on a DB thread while shard tasks may free slots (never take them).
                batch = functools.partial(self._admit_batch, held=dict(self._held), wanted=dict(self._wanted))
                grants, admitted = await self._db(batch)
                for run_id, n in grants.items():
                    self._grant(run_id, n)
                for record, n in admitted:
                    self._spawn(record, n)
            except Exception:  # a bad row or a DB hiccup must not kill admission for everyone
                log.exception("admission_failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._tick)
            self._wake.clear()

    def _admit_batch(
        self, session: Session, held: dict[str, int], wanted: dict[str, int]
    ) -> tuple[dict[str, int], list[tuple[RunRecord, int]]]:
        """(slots granted to partly admitted runs, runs admitted with their first slots). Counts executions: a
        sharded run holds one slot per shard process, and its waiting shards come before any queued run."""
        capacity = self._settings.running_capacity
        # A slot is held until the runner process has exited, not only until its row says it finished: a runner
        # reports its end and then still exits (the fault tier's process sampler saw one over the capacity).
        others = ({r.id for r in run_repo.active_runs(session)} | set(self._active)) - set(held)
        running = len(others) + sum(held.values())
        grants: dict[str, int] = {}
        for run_id, n in wanted.items():  # admitted in part earlier: they keep their place at the head
            take = min(n, capacity - running)
            if take > 0:
                grants[run_id] = take
                running += take
        needs = [(c, self._executions(session, c.run_id)) for c in run_repo.queued_candidates(session, capacity)]
        chosen = allot_executions(needs, running, capacity)
        admitted = [
            (
                run_repo.apply_phase(session, a.run.run_id, run_repo.PhaseUpdate(Phase.STARTING, "admitted")),
                a.executions,
            )
            for a in chosen
        ]
        return grants, admitted

    @staticmethod
    def _executions(session: Session, run_id: str) -> int:
        spec = run_repo.get(session, run_id).spec
        return shard_count(int(spec.get("shards") or 1), len(scripts_from_spec(spec)))

    def _grant(self, run_id: str, n: int) -> None:
        grants = self._grants.get(run_id)
        if grants is None:
            return  # the run ended meanwhile
        self._wanted[run_id] -= n
        if self._wanted[run_id] <= 0:
            del self._wanted[run_id]
        self._held[run_id] += n
        for _ in range(n):
            grants.release()

    def _recover_orphans(self, session: Session) -> None:
        active = run_repo.active_runs(session)
        stop_orphan_runners(self._settings.home, [r.id for r in active])
        for record in active:
            if record.attempts < MAX_RECOVERY_ATTEMPTS:
                change = run_repo.PhaseUpdate(Phase.QUEUED, "requeued: the dispatcher restarted while it ran")
            else:
                change = run_repo.PhaseUpdate(Phase.ERROR, "the dispatcher restarted too often while it ran")
            run_repo.apply_phase(session, record.id, change)

    # -- one run -----------------------------------------------------------------------------

    def _spawn(self, record: RunRecord, executions: int = 1) -> None:
        total = self._executions_of(record)
        if total > 1:
            # Registered before the task starts, so the next admission pass counts these slots.
            self._held[record.id] = executions
            if total > executions:
                self._wanted[record.id] = total - executions
            self._grants[record.id] = asyncio.Semaphore(executions)
            task = asyncio.create_task(self._run_sharded(record, total), name=f"run-{record.id}")
        else:
            task = asyncio.create_task(self._run(record), name=f"run-{record.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, record: RunRecord) -> None:
        run_id = record.id
        await publish_or_warn(self._bus, status_event(run_id, Phase.STARTING, "admitted; starting the runner"))
        try:
            process = await self._launch(record)
        except Exception as exc:
            log.exception("runner_launch_failed", run_id=run_id)
            await self._finish(run_id, Phase.ERROR, f"could not start the runner: {exc}")
            return
        active = self._active[run_id] = _ActiveRun(run_id=run_id, process=process)
        timeout = _timeout_of(record, self._settings) + WATCHDOG_GRACE_SECONDS
        try:
            await asyncio.wait_for(self._relay(active), timeout=timeout)
            exit_code = await process.wait()
        except TimeoutError:
            await _terminate(process)
            await self._finish(run_id, Phase.TIMED_OUT, "the runner did not stop at its timeout and was stopped")
            return
        except Exception as exc:  # a relay that dies must not leave the run Running with its slot held
            log.exception("relay_failed", run_id=run_id)
            await _terminate(process)
            await self._finish(run_id, Phase.ERROR, f"the dispatcher lost the runner's output: {exc!r}")
            return
        finally:
            self._active.pop(run_id, None)
            self._wake.set()
        verdict = await asyncio.to_thread(read_verdict, self._run_dir(run_id) / VERDICT_FILE)
        if verdict is not None and verdict.exit_code != exit_code:
            verdict = None  # not this exit's verdict (a leftover, or a runner killed after writing it)
        await self._conclude(active, exit_code, verdict)

    async def _conclude(self, active: _ActiveRun, exit_code: int, verdict: Verdict | None) -> None:
        """The result from the exit code and the verdict file alone; the relayed stream only said it live."""
        run_id = active.run_id
        if verdict is None:
            phase = phase_for_exit_code(exit_code)
            if active.cancel_requested and phase is Phase.ERROR:
                phase = Phase.CANCELLED
            await self._finish(run_id, phase, f"runner exited with code {exit_code} before reporting a result")
            return
        report_key = verdict.report_key
        change = run_repo.PhaseUpdate(
            verdict.phase,
            verdict.message,
            summary=verdict.summary,
            report_url=layout.report_url(run_id) if report_key else None,
            report_key=report_key,
            exit_code=exit_code,
            failures=verdict.failure_dicts(),
        )
        await self._db_update(run_id, change)
        if report_key:
            await self._record_results(run_id)
        if active.terminal is not verdict.phase:  # the live view has not said it yet
            await publish_or_warn(self._bus, status_event(run_id, verdict.phase, verdict.message))

    async def _past_durations(self, files: list[str]) -> dict[str, float]:
        """Median durations of these files over their recent runs; none (round-robin) if they cannot be read."""
        source = self._durations
        try:
            if source is not None:
                return dict(await asyncio.to_thread(source, files))
            return await self._db(lambda s: test_results.median_durations(s, files, by="file"))
        except Exception:
            log.exception("durations_unavailable")
            return {}

    async def _record_results(self, run_id: str) -> None:
        """Per-test rows from the stored results.json; best-effort: the run's own row is already final."""
        try:
            kind = await self._db(lambda s: run_repo.get(s, run_id).kind)
            document = await asyncio.to_thread(self._results.read, run_id, kind)
            await self._db(lambda s: record_results(s, run_id, document, self._auto_quarantine))
        except Exception:
            log.exception("test_results_not_recorded", run_id=run_id)

    @staticmethod
    def _executions_of(record: RunRecord) -> int:
        return shard_count(int(record.spec.get("shards") or 1), len(scripts_from_spec(record.spec)))

    # -- one sharded run ---------------------------------------------------------------------

    async def _run_sharded(self, record: RunRecord, total: int) -> None:
        """Each shard is a runner process on its own slot (granted as capacity frees up); a shard lost to an
        infrastructure error is run again alone; when every shard has its result, the merge step writes the run's
        report and results.json and, like an unsharded runner, says the run's result."""
        run_id = record.id
        try:
            await publish_or_warn(self._bus, status_event(run_id, Phase.STARTING, f"admitted; {total} shards"))
            scripts = scripts_from_spec(record.spec)
            written = await asyncio.to_thread(write_scripts, self._run_dir(run_id) / "scripts", scripts)
            names = [p.name for p in written]
            plan = plan_shards(names, total, await self._past_durations(names))
            self._shard_procs[run_id] = set()
            self._unfinished[run_id] = len(plan)
            ends = await asyncio.gather(*(self._shard(record, shard, len(plan)) for shard in plan))
            cancelled = await self._db(lambda s: run_repo.get(s, run_id).cancel_requested)
            bad = [(shard, end) for shard, end in zip(plan, ends, strict=True) if end.phase not in _MERGEABLE]
            if cancelled:
                await self._finish(run_id, Phase.CANCELLED, "cancelled")
            elif bad:
                what = "; ".join(f"shard {shard.index + 1}: {end.message}" for shard, end in bad)
                await self._finish(run_id, _worst(end.phase for _, end in bad), what)
            else:
                await self._merge(record, len(plan))
        except Exception as exc:
            log.exception("sharded_run_failed", run_id=run_id)
            with contextlib.suppress(Exception):
                await self._finish(run_id, Phase.ERROR, f"the sharded run failed: {exc!r}")
        finally:
            self._grants.pop(run_id, None)
            self._wanted.pop(run_id, None)
            self._held.pop(run_id, None)
            self._shard_procs.pop(run_id, None)
            self._unfinished.pop(run_id, None)
            self._active.pop(run_id, None)
            self._wake.set()

    async def _shard(self, record: RunRecord, shard: ShardPlan, total: int) -> _ShardEnd:
        run_id = record.id
        await self._grants[run_id].acquire()
        retries = int(record.spec.get("retries") or 0)
        try:
            for attempt in range(retries + 1):
                end = await self._shard_attempt(record, shard, total)
                if not end.lost or attempt == retries:
                    return end
                line = f"[supertest] shard {shard.index + 1} lost ({end.message}); running it again alone"
                await publish_or_warn(self._bus, log_event(run_id, line, "runner"))
            raise AssertionError("unreachable")  # the loop always returns on its last attempt
        finally:
            # The last shard to end keeps its slot for the merge step; the others free theirs now (the admission
            # pass hands it to this run's waiting shards first).
            self._unfinished[run_id] -= 1
            if self._unfinished[run_id] > 0 and run_id in self._held:
                self._held[run_id] -= 1
                self._wake.set()

    async def _shard_attempt(self, record: RunRecord, shard: ShardPlan, total: int) -> _ShardEnd:
        run_id = record.id
        verdict_path = self._run_dir(run_id) / f"shard-{shard.index}-{VERDICT_FILE}"
        extra = {
            "SUPERTEST_SHARD_INDEX": str(shard.index),
            "SUPERTEST_SHARD_TOTAL": str(total),
            "SUPERTEST_SHARD_FILES": ",".join(shard.files),
            "SUPERTEST_WORK_DIR": str(self._run_dir(run_id) / f"work-{shard.index}"),
        }
        process = await self._launch(record, extra=extra, verdict_path=verdict_path)
        procs = self._shard_procs[run_id]
        procs.add(process)
        if len(procs) == 1:
            message = f"running {total} shards"
            await self._db_update(run_id, run_repo.PhaseUpdate(Phase.RUNNING, message))
            await publish_or_warn(self._bus, status_event(run_id, Phase.RUNNING, message))
        relay = _ActiveRun(run_id=run_id, process=process)
        try:
            await asyncio.wait_for(
                self._relay(relay), timeout=_timeout_of(record, self._settings) + WATCHDOG_GRACE_SECONDS
            )
            exit_code = await process.wait()
        except TimeoutError:
            await _terminate(process)
            return _ShardEnd(Phase.TIMED_OUT, "did not stop at its timeout")
        finally:
            procs.discard(process)
        verdict = await asyncio.to_thread(read_verdict, verdict_path)
        if verdict is not None and verdict.exit_code == exit_code:
            lost = verdict.exit_code == ExitCode.UPLOAD_FAILED
            return _ShardEnd(verdict.phase, verdict.message, lost)
        # No verdict: the runner was killed (or crashed) before it could say anything; an infrastructure loss.
        phase = phase_for_exit_code(exit_code)
        return _ShardEnd(phase, f"runner exited with code {exit_code} without a result", phase is Phase.ERROR)

    async def _merge(self, record: RunRecord, total: int) -> None:
        run_id = record.id
        extra = {
            "SUPERTEST_SHARD_MERGE": "1",
            "SUPERTEST_SHARD_TOTAL": str(total),
            "SUPERTEST_WORK_DIR": str(self._run_dir(run_id) / "work-merge"),
        }
        verdict_path = self._run_dir(run_id) / VERDICT_FILE
        verdict_path.unlink(missing_ok=True)
        process = await self._launch(record, extra=extra, verdict_path=verdict_path)
        active = self._active[run_id] = _ActiveRun(run_id=run_id, process=process)
        try:
            await asyncio.wait_for(
                self._relay(active), timeout=_timeout_of(record, self._settings) + WATCHDOG_GRACE_SECONDS
            )
            exit_code = await process.wait()
        except TimeoutError:
            await _terminate(process)
            await self._finish(run_id, Phase.TIMED_OUT, "the merge step did not stop at its timeout and was stopped")
            return
        verdict = await asyncio.to_thread(read_verdict, verdict_path)
        if verdict is not None and verdict.exit_code != exit_code:
            verdict = None
        await self._conclude(active, exit_code, verdict)

    def _run_dir(self, run_id: str) -> Path:
        return run_dir_of(self._settings.home, run_id)

    async def _launch(
        self, record: RunRecord, extra: dict[str, str] | None = None, verdict_path: Path | None = None
    ) -> asyncio.subprocess.Process:
        """`extra`: a shard's or the merge step's settings; their scripts are written once, by the sharded run."""
        run_dir = self._run_dir(record.id)
        verdict_path = verdict_path or run_dir / VERDICT_FILE
        if extra is None:
            await asyncio.to_thread(write_scripts, run_dir / "scripts", scripts_from_spec(record.spec))
        verdict_path.unlink(missing_ok=True)  # a re-run after a restart must not read the old one
        # Variables and secrets are read at launch (never stored with the run); the run's own env wins.
        resolved = await self._db(lambda s: variables.local_env(variables.for_run(s, record.job_id), self._secrets))
        quarantined = await self._db(test_results.quarantined_ids)
        env = runner_env(
            self._settings,
            os.environ,
            record,
            run_dir,
            timeout_seconds=_timeout_of(record, self._settings),
            variables=resolved.env,
            secret_names=resolved.secret_names,
            quarantined=sorted(quarantined),
            verdict_path=verdict_path,
        )
        env.update(extra or {})
        return await asyncio.create_subprocess_exec(
            *self._runner_command,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=env,
            start_new_session=True,  # its own process group; the runner itself tears down Playwright's
            limit=RELAY_READ_LIMIT,
        )

    async def _relay(self, active: _ActiveRun) -> None:
        stream = active.process.stdout
        assert stream is not None
        max_bytes = self._settings.log_line_max_bytes
        while True:
            raw = await read_line(stream, keep=max_bytes)
            if raw.eof:
                return
            line = raw.data.decode("utf-8", errors="replace")
            event = decode_stdout_event(line) if not raw.dropped else None
            if event is None:
                # The runner's own diagnostics (e.g. a traceback), or an event line too long to read whole: both
                # still belong in the run log, cut to size.
                text = truncate_line(line, max_bytes, raw.dropped)
                await publish_or_warn(self._bus, log_event(active.run_id, text, stream="runner"))
                continue
            if event.run_id != active.run_id:
                continue
            if event.type is EventType.LOG and event.line is not None:
                event = event.model_copy(update={"line": truncate_line(event.line, max_bytes)})
            await publish_or_warn(self._bus, event)
            await self._mirror(active, event)

    async def _mirror(self, active: _ActiveRun, event: RunEvent) -> None:
        """Only the live phase (Running) reaches the row from the stream; the result waits for the exit."""
        if event.type is not EventType.STATUS or event.phase is None:
            return
        if event.phase.is_terminal:
            active.terminal = event.phase  # said live; _conclude need not say it again
        elif event.phase is Phase.RUNNING:
            await self._db_update(active.run_id, run_repo.PhaseUpdate(event.phase, event.message, at=event.ts))

    async def _finish(self, run_id: str, phase: Phase, message: str) -> None:
        await self._db_update(run_id, run_repo.PhaseUpdate(phase, message))
        await publish_or_warn(self._bus, status_event(run_id, phase, message))

    async def _db_update(self, run_id: str, change: run_repo.PhaseUpdate) -> None:
        def apply(session: Session) -> None:
            run_repo.apply_phase(session, run_id, change)

        try:
            await self._db(apply)
        except IllegalTransition as exc:
            log.warning("phase_update_ignored", run_id=run_id, reason=str(exc))

    async def _db(self, fn: Callable[[Session], T]) -> T:
        return await in_session(self._sessions, fn)


def _worst(phases: Iterable[Phase]) -> Phase:
    """A sharded run that could not merge takes its worst shard's phase: TimedOut over Error over Cancelled."""
    found = set(phases)
    return next((p for p in (Phase.TIMED_OUT, Phase.ERROR, Phase.CANCELLED) if p in found), Phase.ERROR)


def _timeout_of(record: RunRecord, settings: CoreSettings) -> int:
    value = record.spec.get("timeoutSeconds")
    return int(value) if value else settings.default_timeout_seconds


async def _terminate(process: asyncio.subprocess.Process, grace: float = 15) -> None:
    """SIGTERM lets the runner stop Playwright and Chromium itself; SIGKILL only if it does not."""
    _signal_group(process, signal.SIGTERM)
    try:
        await asyncio.wait_for(process.wait(), timeout=grace)
    except TimeoutError:
        _signal_group(process, signal.SIGKILL)
        await process.wait()


def _signal_group(process: asyncio.subprocess.Process, sig: signal.Signals) -> None:
    if process.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)
