"""A sharded run through the real runner: each shard runs only its files and stores a blob report; the merge step
(`playwright merge-reports`) writes the run's one report and results.json under the usual keys."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from supertest_api.app import create_app

from supertest.bus.memory import MemoryEventBus
from supertest.events import EventType, decode_stdout_event
from supertest.phases import ExitCode
from supertest.run_token import RunClaims, mint
from supertest.sharding import plan_shards
from supertest.verdict import decode
from tests.support.api_thread import serving
from tests.unit.api.conftest import FakeLauncher, bus, home, make_settings, migrated_template

from .conftest import _SCRUBBED

__all__ = ["bus", "home", "migrated_template"]  # the API unit fixtures: migrated SQLite and a memory bus
KEY = "k" * 40

# No page fixture: Playwright starts no browser, so the test is about sharding and merging, not Chromium.
SCRIPT = """
const {{ test, expect }} = require('@playwright/test');
test('{name} one', async () => {{ expect(1 + 1).toBe(2); }});
test('{name} two', async () => {{ expect({ok}).toBe(true); }});
"""


def _runner(env: dict[str, str], timeout: float = 180) -> tuple[int, list[str], str, Path]:
    verdict = Path(env["SUPERTEST_WORK_DIR"]) / "verdict.json"
    env = {**env, "SUPERTEST_VERDICT_PATH": str(verdict)}
    argv = [sys.executable, "-m", "supertest_runner"]
    out = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    events = [e for e in (decode_stdout_event(ln) for ln in out.stdout.splitlines()) if e is not None]
    types = [e.type.value for e in events]
    lines = "\n".join(e.line or "" for e in events if e.type is EventType.LOG)
    assert verdict.is_file(), out.stderr
    return out.returncode, types, lines + out.stderr, verdict


def test_two_shards_and_a_merge_make_one_report(tmp_path: Path, playwright_env: dict[str, str]) -> None:
    # File 03 fails one test: the merged run is Failed with exactly that one.
    files = {f"{i:02d}-t{i}.spec.js": SCRIPT.format(name=f"t{i}", ok=str(i != 3).lower()) for i in range(1, 5)}
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    for name, text in files.items():
        (scripts / name).write_text(text)
    plan = plan_shards(list(files), 2, {})
    assert len(plan) == 2
    base = {k: v for k, v in os.environ.items() if k not in _SCRUBBED}
    base.update(playwright_env)
    base.update(
        SUPERTEST_RUN_ID="sharded-run",
        SUPERTEST_RUN_KIND="job",
        SUPERTEST_SCRIPTS_DIR=str(scripts),
        ARTIFACTS_DIR=str(tmp_path / "artifacts"),
        SUPERTEST_EVENTS_STDOUT="1",
        MAX_CONCURRENT_TESTS="1",
        PW_VIDEO="off",
        PW_TRACE="off",
        PW_SCREENSHOT="off",
        SUPERTEST_SHARD_TOTAL="2",
    )
    stored = tmp_path / "artifacts" / "job" / "runs" / "sharded-run"
    for shard in plan:
        env = {
            **base,
            "SUPERTEST_WORK_DIR": str(tmp_path / f"w{shard.index}"),
            "SUPERTEST_SHARD_INDEX": str(shard.index),
            "SUPERTEST_SHARD_FILES": ",".join(shard.files),
        }
        code, types, text, verdict_path = _runner(env)
        has_failing = "03-t3.spec.js" in shard.files
        assert code == (ExitCode.FAILED if has_failing else ExitCode.PASSED), text
        # A shard never speaks for the run: only log lines leave it, each marked with its shard.
        assert set(types) == {"log"}, types
        assert f"[shard {shard.index + 1}]" in text
        verdict = decode(verdict_path.read_text())
        assert verdict is not None and verdict.summary.total == 2 * len(shard.files)
        assert verdict.report_key is None  # the run's report is the merge step's
        assert (stored / "shards" / str(shard.index) / "blob.zip").is_file()
        assert not (stored / "report").exists()
        # Only its own files ran.
        ran = json.loads((stored / "shards" / str(shard.index) / "results.json").read_text())
        assert sorted(s["file"] for s in ran["suites"]) == sorted(shard.files)

    merge_env = {**base, "SUPERTEST_WORK_DIR": str(tmp_path / "merge"), "SUPERTEST_SHARD_MERGE": "1"}
    code, types, text, verdict_path = _runner(merge_env)
    assert code == ExitCode.FAILED, text
    assert types[-2:] == ["result", "status"]  # the merge step publishes the run's result
    verdict = decode(verdict_path.read_text())
    assert verdict is not None
    assert (verdict.summary.total, verdict.summary.passed, verdict.summary.failed) == (8, 7, 1)
    assert verdict.report_key == "runs/sharded-run/report/index.html"
    assert (stored / "report" / "index.html").is_file()
    merged = json.loads((stored / "results.json").read_text())
    assert sorted(s["file"] for s in merged["suites"]) == sorted(files)


def test_the_merge_step_refuses_a_missing_shard(tmp_path: Path, playwright_env: dict[str, str]) -> None:
    base = {k: v for k, v in os.environ.items() if k not in _SCRUBBED}
    base.update(playwright_env)
    (tmp_path / "scripts").mkdir()
    base.update(
        SUPERTEST_RUN_ID="half-run",
        SUPERTEST_RUN_KIND="job",
        SUPERTEST_SCRIPTS_DIR=str(tmp_path / "scripts"),
        SUPERTEST_WORK_DIR=str(tmp_path / "merge"),
        ARTIFACTS_DIR=str(tmp_path / "artifacts"),
        SUPERTEST_EVENTS_STDOUT="1",
        SUPERTEST_SHARD_TOTAL="2",
        SUPERTEST_SHARD_MERGE="1",
    )
    code, _, text, verdict_path = _runner(base, timeout=120)
    assert code == ExitCode.ERROR, text
    verdict = decode(verdict_path.read_text())
    assert verdict is not None and "shard(s) 0, 1" in verdict.message


def test_shards_and_merge_through_the_ingest_api(
    home: Path, bus: MemoryEventBus, tmp_path: Path, playwright_env: dict[str, str]
) -> None:
    """The chart's default: no store credentials in the pods. Shards PUT their blobs to the API's ingest endpoint
    and the merge step GETs them back with the same run token; the API's own store ends with the merged report."""
    files = {f"{i:02d}-t{i}.spec.js": SCRIPT.format(name=f"t{i}", ok="true") for i in range(1, 5)}
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    for name, text in files.items():
        (scripts / name).write_text(text)
    plan = plan_shards(list(files), 2, {})
    settings = make_settings(home, RUN_TOKEN_KEY=KEY)
    claims = RunClaims("team-a", "ingest-run", "job", int(time.time()) + 600)
    base = {k: v for k, v in os.environ.items() if k not in _SCRUBBED}
    base.update(playwright_env)
    base.update(
        SUPERTEST_RUN_ID="ingest-run",
        SUPERTEST_RUN_KIND="job",
        SUPERTEST_SCRIPTS_DIR=str(scripts),
        SUPERTEST_RUN_TOKEN=mint(KEY.encode(), claims),
        SUPERTEST_RUN_NAMESPACE="team-a",
        MAX_CONCURRENT_TESTS="1",
        PW_VIDEO="off",
        PW_TRACE="off",
        PW_SCREENSHOT="off",
        SUPERTEST_SHARD_TOTAL="2",
    )
    stored = home / "artifacts" / "job" / "runs" / "ingest-run"
    with serving(create_app(settings, FakeLauncher(settings, bus), bus=bus)) as url:
        base["SUPERTEST_INGEST_URL"] = url
        for shard in plan:
            env = {
                **base,
                "SUPERTEST_WORK_DIR": str(tmp_path / f"w{shard.index}"),
                "SUPERTEST_SHARD_INDEX": str(shard.index),
                "SUPERTEST_SHARD_FILES": ",".join(shard.files),
            }
            code, verdict = _ingest_runner(env)
            assert code == ExitCode.PASSED, verdict
            assert (stored / "shards" / str(shard.index) / "blob.zip").is_file()
        merge_env = {**base, "SUPERTEST_WORK_DIR": str(tmp_path / "merge"), "SUPERTEST_SHARD_MERGE": "1"}
        code, verdict = _ingest_runner(merge_env)
    assert code == ExitCode.PASSED, verdict
    decoded = decode(verdict)
    assert decoded is not None and (decoded.summary.total, decoded.summary.passed) == (8, 8)
    assert decoded.report_key == "runs/ingest-run/report/index.html"
    assert (stored / "report" / "index.html").is_file()
    merged = json.loads((stored / "results.json").read_text())
    assert sorted(s["file"] for s in merged["suites"]) == sorted(files)


def _ingest_runner(env: dict[str, str]) -> tuple[int, str]:
    verdict = Path(env["SUPERTEST_WORK_DIR"]) / "verdict.json"
    env = {**env, "SUPERTEST_VERDICT_PATH": str(verdict)}
    argv = [sys.executable, "-m", "supertest_runner"]
    out = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=180, check=False)
    assert verdict.is_file(), out.stderr
    return out.returncode, verdict.read_text() + out.stderr[-2000:]
