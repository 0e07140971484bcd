"""Run Playwright in its own process group, stream its lines, and stop it on timeout or cancel."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from supertest_runner.outcome import Stop

LineHandler = Callable[[str, str], Awaitable[None]]  # (line, stream name)

# After SIGINT Playwright finishes its reporters (results.json, the HTML report) and exits, well under a second
# when idle. Interrupted while a worker is still launching the browser it can stall; a second SIGINT (a second
# Ctrl-C) then makes it exit, still writing its reports. SIGKILL only after the whole grace.
SECOND_INTERRUPT_SECONDS = 3.0
INTERRUPT_GRACE_SECONDS = 10.0
KILL_WAIT_SECONDS = 5.0
DRAIN_SECONDS = 5.0
EXIT_POLL_SECONDS = 0.05
_CHUNK = 65536


@dataclass(frozen=True, slots=True)
class ProcessResult:
    returncode: int | None  # None only if the process could not be reaped at all
    stop: Stop | None


async def _pump(stream: asyncio.StreamReader, name: str, on_line: LineHandler) -> None:
    """Own line splitting: StreamReader.readline fails on very long lines; '\r' redraws become lines too."""
    pending = b""
    while chunk := await stream.read(_CHUNK):
        pending += chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        *lines, pending = pending.split(b"\n")
        for raw in lines:
            await _deliver(on_line, raw, name)
    if pending:
        await _deliver(on_line, pending, name)


async def _deliver(on_line: LineHandler, raw: bytes, name: str) -> None:
    # A failing handler must not stop the reading: a full pipe would block Playwright itself.
    with contextlib.suppress(Exception):
        await on_line(raw.decode("utf-8", errors="replace"), name)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


async def _exit_code(proc: asyncio.subprocess.Process) -> int:
    """Process.wait() also waits for the pipes to close, so a stray grandchild holding them would look like a
    hang; the return code itself is known as soon as the child is reaped."""
    while proc.returncode is None:  # noqa: ASYNC110 - asyncio exposes no exit-only event
        await asyncio.sleep(EXIT_POLL_SECONDS)
    return proc.returncode


async def _wait(task: asyncio.Future[Any], seconds: float) -> bool:
    """Wait for a task without cancelling it on timeout; True if it finished."""
    done, _ = await asyncio.wait({task}, timeout=seconds)
    return bool(done)


async def run_process(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    on_line: LineHandler,
    timeout_seconds: float,
    cancel: asyncio.Event,
    interrupt_grace: float = INTERRUPT_GRACE_SECONDS,
) -> ProcessResult:
    proc = await asyncio.create_subprocess_exec(
        *argv,
        cwd=cwd,
        env=dict(env),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,  # its own process group: one signal reaches Playwright and its workers
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    pgid = proc.pid
    pumps = asyncio.gather(_pump(proc.stdout, "stdout", on_line), _pump(proc.stderr, "stderr", on_line))
    exited: asyncio.Task[int] = asyncio.create_task(_exit_code(proc))
    cancelled = asyncio.create_task(cancel.wait())
    stop: Stop | None = None
    try:
        done, _ = await asyncio.wait({exited, cancelled}, timeout=timeout_seconds, return_when=asyncio.FIRST_COMPLETED)
        if exited not in done:
            stop = Stop.CANCEL if cancelled in done else Stop.TIMEOUT
            # SIGINT first, like Ctrl-C: Playwright still writes results.json and the HTML report.
            _signal_group(pgid, signal.SIGINT)
            first = min(SECOND_INTERRUPT_SECONDS, interrupt_grace / 2)
            if not await _wait(exited, first):
                _signal_group(pgid, signal.SIGINT)
                if not await _wait(exited, interrupt_grace - first):
                    _signal_group(pgid, signal.SIGKILL)
                    await _wait(exited, KILL_WAIT_SECONDS)
        if not await _wait(pumps, DRAIN_SECONDS):
            # Someone left in the group still holds the pipes (a stray worker): end it, then stop reading.
            _signal_group(pgid, signal.SIGKILL)
            if not await _wait(pumps, DRAIN_SECONDS):
                pumps.cancel()
    finally:
        cancelled.cancel()
        if not exited.done():
            _signal_group(pgid, signal.SIGKILL)
            exited.cancel()
        if not pumps.done():
            pumps.cancel()  # only on an error path: never wait on pipes without a deadline
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await pumps
    return ProcessResult(returncode=exited.result() if exited.done() and not exited.cancelled() else None, stop=stop)
