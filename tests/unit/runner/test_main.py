import asyncio
from pathlib import Path

import pytest
from supertest_runner.main import Run, playwright_env, prepare_work_dir, report_url
from supertest_runner.masking import Masker
from supertest_runner.preflight import Toolchain

from supertest.events import EventType, RunEvent
from supertest.phases import ExitCode, Phase
from supertest.settings import RunnerSettings
from supertest.verdict import read as read_verdict


class ListSink:
    def __init__(self) -> None:
        self.events: list[RunEvent] = []

    async def publish(self, event: RunEvent) -> None:
        self.events.append(event)

    async def close(self) -> None:
        pass


def _settings(tmp_path: Path, **extra: object) -> RunnerSettings:
    scripts = tmp_path / "scripts"
    scripts.mkdir(exist_ok=True)
    (scripts / "a.spec.js").write_text("// test")
    values = {
        "SUPERTEST_RUN_ID": "unit-run",
        "SUPERTEST_SCRIPTS_DIR": scripts,
        "SUPERTEST_WORK_DIR": tmp_path / "work",
        "ARTIFACTS_DIR": tmp_path / "artifacts",
        **extra,
    }
    return RunnerSettings(**values)


def test_user_scripts_do_not_see_the_runners_secrets() -> None:
    toolchain = Toolchain(node="/usr/bin/node", playwright_dir=Path("/pw"), browsers_path=Path("/browsers"))
    base = {
        "PATH": "/usr/bin",
        "MY_APP_URL": "http://app",  # spec.env must reach the scripts
        "AWS_SECRET_ACCESS_KEY": "s",
        "AWS_ACCESS_KEY_ID": "k",
        "S3_ENDPOINT": "http://s3",
        "S3_BUCKET": "the-apps-own",
        "REDIS_URL": "redis://x",
        "SUPERTEST_RUN_ID": "r",
    }
    env = playwright_env(base, toolchain)
    assert env == {
        "PATH": "/usr/bin",
        "MY_APP_URL": "http://app",
        "S3_BUCKET": "the-apps-own",
        "PLAYWRIGHT_BROWSERS_PATH": "/browsers",
        "CI": "1",
        "FORCE_COLOR": "0",
    }


def test_report_url() -> None:
    assert report_url("r-1") == "/api/test-results/r-1/report/index.html"


def test_a_reused_work_dir_loses_old_outputs(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    work = tmp_path / "work"
    (work / "report").mkdir(parents=True)
    (work / "results.json").write_text("{}")
    (work / "keep.txt").write_text("x")
    assert prepare_work_dir(settings) == (work, False)
    assert not (work / "report").exists()
    assert not (work / "results.json").exists()
    assert (work / "keep.txt").exists()


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        ({"CHROMIUM_PATH": "/nonexistent"}, "Chromium not found at /nonexistent"),
        ({"SUPERTEST_BROWSERS": "firefox"}, "browser firefox requested, but only Chromium is available"),
    ],
)
async def test_preflight_failure_is_published_as_error_and_logs_are_stored(
    tmp_path: Path, extra: dict[str, str], needle: str
) -> None:
    settings = _settings(tmp_path, **extra)
    sink = ListSink()
    work, _ = prepare_work_dir(settings)
    code = await Run(settings, sink, work, asyncio.Event(), reap=False).execute()
    assert code == ExitCode.ERROR
    statuses = [e for e in sink.events if e.type is EventType.STATUS]
    assert [s.phase for s in statuses] == [Phase.RUNNING, Phase.ERROR]
    assert statuses[-1].message is not None
    assert statuses[-1].message.startswith(needle)
    [result] = [e for e in sink.events if e.type is EventType.RESULT]
    assert result.exit_code == ExitCode.ERROR
    assert result.report_url is None  # no report was produced
    logs = tmp_path / "artifacts" / "test" / "runs" / "unit-run" / "logs.txt"
    assert needle in logs.read_text()


async def test_the_verdict_is_written_for_the_supervisor_and_masked(tmp_path: Path) -> None:
    verdict_path = tmp_path / "termination-log"
    settings = _settings(tmp_path, CHROMIUM_PATH="/nonexistent/hunter2", SUPERTEST_VERDICT_PATH=verdict_path)
    work, _ = prepare_work_dir(settings)
    masker = Masker.from_env({"SUPERTEST_MASK_NAMES": "PW", "PW": "hunter2"})
    code = await Run(settings, ListSink(), work, asyncio.Event(), reap=False, masker=masker).execute()
    verdict = read_verdict(verdict_path)
    assert verdict is not None and verdict.phase is Phase.ERROR and verdict.exit_code == code == ExitCode.ERROR
    assert verdict.message.startswith("Chromium not found at") and "hunter2" not in verdict_path.read_text()
    assert verdict.report_key is None and verdict.summary.total == 0
