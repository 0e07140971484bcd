"""Deadline-based polling for tests: the only sanctioned way to wait for an eventually-true condition."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class WaitTimeout(AssertionError):
    """A condition did not become true before its deadline (an AssertionError, so pytest reports it well)."""


def wait_for(
    predicate: Callable[[], T | None],
    timeout: float = 30.0,
    interval: float = 0.1,
    message: str | Callable[[], str] = "condition",
) -> T:
    """Call `predicate` until it returns a truthy value and return that value.

    Exceptions raised by the predicate propagate immediately (a broken check must not look like a slow one).
    `message` may be a callable so that the failure text can show the last observed state.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            text = message() if callable(message) else message
            raise WaitTimeout(f"timed out after {timeout:.1f}s waiting for {text}")
        time.sleep(min(interval, remaining))
