import subprocess
import sys
from pathlib import Path

import pytest
from supertest_runner.cli import load_settings, main

from supertest.phases import ExitCode


def test_flags_override_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SUPERTEST_RUN_ID", "from-env")
    monkeypatch.setenv("SUPERTEST_SCRIPTS_DIR", str(tmp_path))
    monkeypatch.setenv("MAX_CONCURRENT_TESTS", "4")
    settings = load_settings(["--run-id", "from-flag", "--workers", "1", "--timeout-seconds", "9", "--kind", "job"])
    assert settings.run_id == "from-flag"
    assert settings.max_concurrent_tests == 1
    assert settings.timeout_seconds == 9
    assert settings.run_kind == "job"
    assert settings.scripts_dir == tmp_path


def test_environment_alone(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SUPERTEST_RUN_ID", "r1")
    monkeypatch.setenv("SUPERTEST_SCRIPTS_DIR", str(tmp_path))
    settings = load_settings([])
    assert (settings.run_id, settings.run_kind, settings.timeout_seconds) == ("r1", "test", None)


@pytest.mark.parametrize("run_id", ["Bad_Id", "-x", "a" * 64])
def test_invalid_configuration_is_an_error_exit(
    run_id: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SUPERTEST_SCRIPTS_DIR", str(tmp_path))
    assert main([f"--run-id={run_id}"]) == ExitCode.ERROR
    assert "invalid configuration" in capsys.readouterr().err


def test_missing_run_id(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("SUPERTEST_RUN_ID", raising=False)
    monkeypatch.delenv("SUPERTEST_SCRIPTS_DIR", raising=False)
    assert main([]) == ExitCode.ERROR
    assert "SUPERTEST_RUN_ID" in capsys.readouterr().err


def test_help_lists_flags_and_exit_codes() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "supertest_runner", "--help"], capture_output=True, text=True, timeout=30, check=True
    ).stdout
    for flag in ("--run-id", "--scripts-dir", "--timeout-seconds", "--workers", "--kind"):
        assert flag in out
    assert "3 timed out" in out
