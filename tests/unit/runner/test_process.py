"""The process group handling, with small Python children standing in for Playwright (no browser)."""

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import pytest
from supertest_runner import process
from supertest_runner.outcome import Stop
from supertest_runner.process import run_process


class Lines:
    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    async def __call__(self, line: str, stream: str) -> None:
        self.items.append((line, stream))


async def _run(code: str, tmp_path: Path, deadline: float = 10.0, cancel_after: float | None = None, grace=2.0):
    lines = Lines()
    cancel = asyncio.Event()
    if cancel_after is not None:
        asyncio.get_running_loop().call_later(cancel_after, cancel.set)
    start = time.monotonic()
    result = await run_process(
        [sys.executable, "-u", "-c", code],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin"},
        on_line=lines,
        timeout_seconds=deadline,
        cancel=cancel,
        interrupt_grace=grace,
    )
    return result, lines.items, time.monotonic() - start


async def test_streams_both_pipes_and_long_lines(tmp_path: Path) -> None:
    code = "import sys; print('out'); print('err', file=sys.stderr); print('x' * 200000); sys.stdout.write('tail')"
    result, lines, _ = await _run(code, tmp_path)
    assert result.returncode == 0
    assert result.stop is None
    assert ("out", "stdout") in lines
    assert ("err", "stderr") in lines
    assert ("x" * 200000, "stdout") in lines
    assert ("tail", "stdout") in lines


async def test_timeout_interrupts_and_the_child_can_finish_up(tmp_path: Path) -> None:
    code = (
        "import signal, sys, time\n"
        "def bye(*_):\n    print('writing reports'); sys.exit(130)\n"
        "signal.signal(signal.SIGINT, bye)\nprint('ready')\ntime.sleep(60)\n"
    )
    result, lines, elapsed = await _run(code, tmp_path, deadline=1.0)
    assert result.stop is Stop.TIMEOUT
    assert result.returncode == 130
    assert ("writing reports", "stdout") in lines
    assert elapsed < 5


async def test_sigkill_after_the_grace_when_sigint_is_ignored(tmp_path: Path) -> None:
    code = "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nprint('ready')\ntime.sleep(60)\n"
    result, _, elapsed = await _run(code, tmp_path, deadline=0.5, grace=1.0)
    assert result.stop is Stop.TIMEOUT
    assert result.returncode == -9
    assert elapsed < 5


async def test_cancel_stops_the_whole_group(tmp_path: Path) -> None:
    # A grandchild that keeps the pipes open must not keep the runner waiting.
    code = (
        "import subprocess, sys, time\n"
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        "print('ready')\ntime.sleep(60)\n"
    )
    result, _, elapsed = await _run(code, tmp_path, cancel_after=0.5)
    assert result.stop is Stop.CANCEL
    assert result.returncode is not None
    assert elapsed < 5


async def test_exited_parent_with_a_stray_child_holding_the_pipe(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(process, "DRAIN_SECONDS", 0.5)
    code = "import subprocess, sys\nsubprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
    result, _, elapsed = await _run(code, tmp_path)
    assert result.returncode == 0
    assert result.stop is None
    assert elapsed < 5


def test_reaper_ends_detached_orphans() -> None:
    # In a child interpreter: becoming a subreaper changes process-wide state.
    script = (
        "import subprocess, sys, time\n"
        "from supertest_runner import reaper\n"
        "assert reaper.become_subreaper()\n"
        # The middle process starts a grandchild in its own session (like Chromium's crashpad handler) and exits.
        'code = \'import subprocess, sys; subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],'
        " start_new_session=True)'\n"
        "subprocess.run([sys.executable, '-c', code], check=True)\n"
        "assert len(reaper.descendants(__import__('os').getpid())) == 1\n"
        "print(reaper.end_leftovers())\n"
        "print(len(reaper.descendants(__import__('os').getpid())))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30, check=True)
    assert out.stdout.split() == ["1", "0"], out.stderr


async def test_a_second_sigint_when_the_first_is_not_enough(tmp_path: Path) -> None:
    # Playwright interrupted while a worker launches the browser can stall until a second Ctrl-C.
    code = (
        "import signal, sys, time\n"
        "seen = []\n"
        "def on_int(*_):\n"
        "    seen.append(1)\n"
        "    if len(seen) == 2:\n"
        "        print('second interrupt'); sys.exit(130)\n"
        "signal.signal(signal.SIGINT, on_int)\nprint('ready')\n"
        "while True: time.sleep(0.05)\n"
    )
    result, lines, elapsed = await _run(code, tmp_path, deadline=0.5, grace=4.0)
    assert result.stop is Stop.TIMEOUT
    assert result.returncode == 130
    assert ("second interrupt", "stdout") in lines
    assert elapsed < 4
