"""Leave no browser behind. Playwright starts Chromium in its own process group, and Chromium's crashpad
handlers detach further; if Playwright has to be killed, those would outlive the run. As a child subreaper
the runner inherits every such orphan, so after Playwright is gone it can end and reap them all (Linux)."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
from pathlib import Path

_PR_SET_CHILD_SUBREAPER = 36
_PROC = Path("/proc")


def become_subreaper() -> bool:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def _parent_of(pid: int) -> int | None:
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name may contain spaces and ')'; the fields after the last ')' are fixed.
    fields = stat.rsplit(")", 1)[-1].split()
    return int(fields[1]) if len(fields) > 1 else None


def descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in _PROC.iterdir():
        if entry.name.isdigit():
            parent = _parent_of(int(entry.name))
            if parent is not None:
                children.setdefault(parent, []).append(int(entry.name))
    found: list[int] = []
    stack = list(children.get(root, []))
    while stack:
        pid = stack.pop()
        found.append(pid)
        stack.extend(children.get(pid, []))
    return found


def end_leftovers() -> int:
    """SIGKILL every remaining descendant of this process and reap our direct children; return the count.
    Call only when no child is still owned by someone else (asyncio has reaped Playwright by then)."""
    me = os.getpid()
    pids = descendants(me)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    for pid in pids:
        if _parent_of(pid) == me:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)  # SIGKILLed (or already a zombie): returns at once
    return len(pids)
