import pytest

from supertest.phases import (
    ACTIVE_PHASES,
    TERMINAL_PHASES,
    ExitCode,
    IllegalTransition,
    Phase,
    exit_code_for_phase,
    phase_for_exit_code,
    transition,
)


def test_happy_path_moves_through_every_stage():
    phase = Phase.QUEUED
    for target in (Phase.STARTING, Phase.RUNNING, Phase.PASSED):
        phase = transition(phase, target)
    assert phase is Phase.PASSED


@pytest.mark.parametrize("terminal", sorted(TERMINAL_PHASES - {Phase.ERROR}))
def test_terminal_phases_are_final(terminal):
    for target in Phase:
        if target is terminal:
            continue
        with pytest.raises(IllegalTransition):
            transition(terminal, target)


def test_error_can_be_requeued_for_a_retry_but_not_restarted_directly():
    assert transition(Phase.ERROR, Phase.QUEUED) is Phase.QUEUED
    with pytest.raises(IllegalTransition, match="Error -> Running"):
        transition(Phase.ERROR, Phase.RUNNING)


def test_queued_cannot_skip_to_a_result():
    with pytest.raises(IllegalTransition, match="Queued -> Passed"):
        transition(Phase.QUEUED, Phase.PASSED)


def test_same_phase_is_a_no_op():
    assert transition(Phase.RUNNING, Phase.RUNNING) is Phase.RUNNING


def test_active_and_terminal_sets_are_disjoint_and_cover_all_but_queued():
    assert not (ACTIVE_PHASES & TERMINAL_PHASES)
    assert set(Phase) - ACTIVE_PHASES - TERMINAL_PHASES == {Phase.QUEUED}


@pytest.mark.parametrize(
    ("code", "phase"),
    [
        (ExitCode.PASSED, Phase.PASSED),
        (ExitCode.FAILED, Phase.FAILED),
        (ExitCode.ERROR, Phase.ERROR),
        (ExitCode.TIMED_OUT, Phase.TIMED_OUT),
        (ExitCode.CANCELLED, Phase.CANCELLED),
    ],
)
def test_exit_codes_round_trip(code, phase):
    assert phase_for_exit_code(code) is phase
    assert exit_code_for_phase(phase) == code


def test_unknown_exit_codes_are_errors():
    assert phase_for_exit_code(137) is Phase.ERROR
    assert phase_for_exit_code(-9) is Phase.ERROR
