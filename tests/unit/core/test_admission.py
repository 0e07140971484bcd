from datetime import UTC, datetime, timedelta

import pytest

from supertest.admission import QueuedRun, QueueFull, admission_order, check_queue_capacity, select_to_admit

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def run(run_id: str, seconds: int, priority: int = 0) -> QueuedRun:
    return QueuedRun(run_id=run_id, queued_at=T0 + timedelta(seconds=seconds), priority=priority)


def test_fifo_within_a_priority():
    runs = [run("c", 3), run("a", 1), run("b", 2)]
    assert [r.run_id for r in admission_order(runs)] == ["a", "b", "c"]


def test_higher_priority_goes_first_even_if_later():
    runs = [run("early", 1), run("urgent", 9, priority=10), run("mid", 5, priority=1)]
    assert [r.run_id for r in admission_order(runs)] == ["urgent", "mid", "early"]


def test_ties_are_broken_stably_by_id():
    runs = [run("b", 1), run("a", 1)]
    assert [r.run_id for r in admission_order(runs)] == ["a", "b"]


@pytest.mark.parametrize(("running", "capacity", "expected"), [(0, 2, 2), (1, 2, 1), (2, 2, 0), (5, 2, 0), (0, 10, 4)])
def test_never_admits_above_capacity(running, capacity, expected):
    runs = [run(str(i), i) for i in range(4)]
    chosen = select_to_admit(runs, running, capacity)
    assert len(chosen) == expected
    assert running + len(chosen) <= max(capacity, running)


def test_queue_capacity_message_names_the_limit():
    check_queue_capacity(19, 20)
    with pytest.raises(QueueFull, match="QUEUED_CAPACITY is 20"):
        check_queue_capacity(20, 20)
    with pytest.raises(QueueFull):
        check_queue_capacity(0, 0)
