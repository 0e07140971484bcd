"""Orchestration: preflight, workspace, Playwright, results, upload, events; returns the exit code."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sys
import tempfile
import traceback
from collections import deque
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from supertest.artifacts import ArtifactNotFound, ArtifactStore, create_store, report_key, report_url
from supertest.events import RunEvent, Summary, log_event, result_event, status_event, truncate_line
from supertest.phases import Phase
from supertest.rerun import build_test_list
from supertest.settings import RunnerSettings
from supertest.verdict import FailedTest, Verdict
from supertest.verdict import write as write_verdict
from supertest_runner import config, reaper, workspace
from supertest_runner.masking import Masker
from supertest_runner.outcome import Outcome, decide, with_upload_error
from supertest_runner.preflight import PreflightError, Toolchain, preflight
from supertest_runner.process import ProcessResult, run_process
from supertest_runner.publish import EventSink, create_sink
from supertest_runner.results import ParsedResults, load_results, quarantined_ids, test_ids_of
from supertest_runner.upload import (
    UPLOAD_DEADLINE_SECONDS,
    Uploaded,
    download_blobs,
    in_daemon_thread,
    upload_run,
    upload_shard,
    with_retries,
)

LOGS_FILE = "logs.txt"
MERGE_INPUT_DIR = "all-blobs"
# Never handed to user scripts: they run arbitrary code, and only the runner needs these. Exact names, so a
# spec.env variable of the user's own (say S3_BUCKET for the app under test) still gets through.
_PRIVATE_ENV = frozenset(
    {
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "REDIS_URL",
        "DATABASE_URL",
        "SESSION_SECRET",
        "S3_ENDPOINT",
        "S3_TEST_BUCKET_NAME",
        "S3_JOB_BUCKET_NAME",
    }
)
_PRIVATE_PREFIX = "SUPERTEST_"


def playwright_env(base: Mapping[str, str], toolchain: Toolchain) -> dict[str, str]:
    env = {k: v for k, v in base.items() if k not in _PRIVATE_ENV and not k.startswith(_PRIVATE_PREFIX)}
    env.update(
        # Where Playwright looks for ffmpeg (linked to Debian's by scripts/setup-playwright.sh).
        PLAYWRIGHT_BROWSERS_PATH=str(toolchain.browsers_path),
        CI="1",
        FORCE_COLOR="0",
    )
    return env


class MaskingSink:
    """Every event leaves the runner through here: log lines, status messages and failures are masked."""

    def __init__(self, inner: EventSink, masker: Masker) -> None:
        self._inner = inner
        self._masker = masker

    async def publish(self, event: RunEvent) -> None:
        if self._masker:
            m = self._masker.mask
            update: dict[str, object] = {}
            if event.line is not None:
                update["line"] = m(event.line)
            if event.message is not None:
                update["message"] = m(event.message)
            if event.failures:
                update["failures"] = [{k: m(v) for k, v in f.items()} for f in event.failures]
            event = event.model_copy(update=update)
        await self._inner.publish(event)

    async def close(self) -> None:
        await self._inner.close()


class Run:
    def __init__(
        self,
        settings: RunnerSettings,
        sink: EventSink,
        work_dir: Path,
        cancel: asyncio.Event,
        reap: bool,
        masker: Masker | None = None,
    ) -> None:
        self.settings = settings
        self.reap = reap
        self.masker = masker or Masker(())
        self.sink: EventSink = MaskingSink(sink, self.masker)
        self.work_dir = work_dir
        self.cancel = cancel
        self.timeout_seconds = settings.timeout_seconds or settings.default_timeout_seconds
        self._logs: TextIO = (work_dir / LOGS_FILE).open("a", encoding="utf-8")
        self._tail: deque[str] = deque(maxlen=50)

    async def log(self, line: str, stream: str) -> None:
        # Absolute work-dir paths mean nothing to the user and differ per run; one huge line must not reach the
        # bus (or logs.txt) whole.
        line = truncate_line(self.masker.mask(line.replace(f"{self.work_dir}/", "")), self.settings.log_line_max_bytes)
        if not self._logs.closed:
            self._logs.write(line + "\n")
        if line.strip():
            self._tail.append(line)
        await self.sink.publish(log_event(self.settings.run_id, line, stream))

    async def say(self, text: str) -> None:
        await self.log(f"[supertest] {text}", "runner")

    def last_error_line(self) -> str:
        return next((ln for ln in reversed(self._tail) if "Error" in ln), self._tail[-1] if self._tail else "")

    async def execute(self) -> int:
        run_id = self.settings.run_id
        await self.sink.publish(status_event(run_id, Phase.RUNNING, "starting Playwright"))
        results: ParsedResults | None = None
        try:
            outcome, results = await self._test()
        except (PreflightError, workspace.WorkspaceError) as exc:
            outcome = Outcome(Phase.ERROR, str(exc))
        except Exception as exc:
            # A bug or an OS failure in the runner: still an Error with a reason, never an exit 1 (Failed).
            await self.say("internal error:\n" + traceback.format_exc())
            outcome = Outcome(Phase.ERROR, f"runner error: {type(exc).__name__}: {exc}")
        await self.say(f"{outcome.phase}: {outcome.message}")
        uploaded, upload_error = await self._upload()
        outcome = with_upload_error(outcome, upload_error)
        summary = results.summary if results else Summary()
        url = report_url(run_id) if uploaded and uploaded.report else None
        failures = results.failures if results else []
        await self.sink.publish(result_event(run_id, summary, url, outcome.exit_code, failures))
        await self.sink.publish(status_event(run_id, outcome.phase, outcome.message, exit_code=outcome.exit_code))
        self._write_verdict(outcome, summary, uploaded, failures)
        return outcome.exit_code

    def _write_verdict(
        self, outcome: Outcome, summary: Summary, uploaded: Uploaded | None, failures: list[dict[str, str]]
    ) -> None:
        """The one result the supervisor trusts (the termination message, or local mode's file): masked like every
        event, and written last, after the upload decided the phase."""
        path = self.settings.verdict_path
        if path is None:
            return
        m = self.masker.mask
        failed = [FailedTest(test=m(f.get("test", "")), error=m(f.get("error", ""))) for f in failures]
        first_error = next((f.error for f in failed if f.error), "")
        if not first_error and outcome.phase is not Phase.PASSED:
            first_error = m(self.last_error_line()) if outcome.phase is Phase.ERROR else ""
        verdict = Verdict(
            phase=outcome.phase,
            exit_code=outcome.exit_code,
            reason=outcome.reason,
            message=m(outcome.message),
            summary=summary,
            report_key=report_key(self.settings.run_id) if uploaded and uploaded.report else None,
            failures=failed,
            first_error=first_error,
        )
        try:
            write_verdict(path, verdict)
        except OSError as exc:
            print(f"supertest-runner: could not write the verdict to {path}: {exc!r}", file=sys.stderr, flush=True)

    async def _test(self) -> tuple[Outcome, ParsedResults | None]:
        toolchain = preflight(self.settings)
        s = self.settings
        specs = workspace.materialise(s.scripts_dir, self.work_dir, s.max_script_bytes, s.shard_file_names)
        await self.say(f"scripts: {', '.join(s.target for s in specs)}")
        (self.work_dir / config.CONFIG_FILE).write_text(config.render_config(self._config()), encoding="utf-8")
        workspace.link_node_modules(self.work_dir, toolchain.playwright_dir)
        if self.cancel.is_set():
            return Outcome(Phase.CANCELLED, "cancelled before Playwright started"), None
        argv = [toolchain.node, str(toolchain.cli), "test", "-c", config.CONFIG_FILE]
        only = test_ids_of(self.settings.only_tests)
        if only:  # re-run failed: exactly these tests (supertest.rerun says why a test list)
            (self.work_dir / config.TEST_LIST_FILE).write_text(build_test_list(only), encoding="utf-8")
            argv += ["--test-list", config.TEST_LIST_FILE]
            await self.say(f"re-running {len(only)} failed test(s) only")
        proc: ProcessResult = await run_process(
            argv,
            cwd=self.work_dir,
            env=playwright_env(os.environ, toolchain),
            on_line=self.log,
            timeout_seconds=self.timeout_seconds,
            cancel=self.cancel,
        )
        if self.reap and proc.returncode is not None:
            leftovers = reaper.end_leftovers()
            if leftovers:
                await self.say(f"stopped {leftovers} leftover browser processes")
        results = load_results(self.work_dir / config.RESULTS_FILE, quarantined_ids(self.settings.quarantined_tests))
        outcome = decide(
            returncode=proc.returncode,
            stop=proc.stop,
            timeout_seconds=self.timeout_seconds,
            results=results,
            last_output=self.last_error_line(),
        )
        return Outcome(outcome.phase, outcome.message.replace(f"{self.work_dir}/", "")), results

    def _config(self) -> config.PlaywrightConfig:
        s = self.settings
        return config.PlaywrightConfig(
            chromium_path=str(s.chromium_path),
            workers=s.max_concurrent_tests,
            retries=s.playwright_retries,
            trace=s.trace,
            screenshot=s.screenshot,
            video=s.video,
            blob=s.shard_index is not None,
        )

    async def _upload(self) -> tuple[Uploaded | None, str | None]:
        s = self.settings
        await self.say(f"uploading artifacts (up to {s.upload_attempts} attempts)")
        self._logs.close()  # logs.txt is complete from here on; later lines are events only
        store = artifact_store(s)
        wd = self.work_dir

        # results.json carries the tests' stdout and errors: masked before it leaves the pod.
        self.masker.mask_file(wd / config.RESULTS_FILE)
        self.masker.mask_file(wd / config.JUNIT_FILE)  # carries the same errors and output

        def attempt() -> Uploaded:
            report, results, logs = wd / config.REPORT_DIR, wd / config.RESULTS_FILE, wd / LOGS_FILE
            if s.shard_index is not None:
                return upload_shard(store, s.run_id, s.shard_index, wd / config.BLOB_DIR, results, logs)
            return upload_run(store, s.run_id, report, results, logs, wd / config.JUNIT_FILE)

        try:
            uploaded = await in_daemon_thread(
                lambda: with_retries(attempt, s.upload_attempts), UPLOAD_DEADLINE_SECONDS + 30
            )
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            await self.sink.publish(log_event(s.run_id, f"[supertest] upload failed: {reason}", "runner"))
            return None, reason
        await self.sink.publish(log_event(s.run_id, f"[supertest] uploaded {uploaded.files} files", "runner"))
        return uploaded, None


class ShardSink:
    """A shard speaks for part of the run: its log lines go out (marked with the shard), but the run's phase and
    result are the supervisor's and the merge step's to publish, never one shard's."""

    def __init__(self, inner: EventSink, index: int) -> None:
        self._inner = inner
        self._mark = f"[shard {index + 1}] "

    async def publish(self, event: RunEvent) -> None:
        if event.type != "log":
            return
        await self._inner.publish(event.model_copy(update={"line": self._mark + (event.line or "")}))

    async def close(self) -> None:
        await self._inner.close()


class MergeRun(Run):
    """The last step of a sharded run: `playwright merge-reports` over every shard's blob writes the run's one HTML
    report and results.json, which the usual upload stores under the run's usual keys."""

    async def _test(self) -> tuple[Outcome, ParsedResults | None]:
        s, wd = self.settings, self.work_dir
        toolchain = preflight(s)
        store = artifact_store(s)
        total = s.shard_total or 0
        try:
            blobs = await in_daemon_thread(
                lambda: with_retries(lambda: download_blobs(store, s.run_id, total, wd / MERGE_INPUT_DIR), 3),
                UPLOAD_DEADLINE_SECONDS + 30,
            )
        except ArtifactNotFound as exc:
            return Outcome(Phase.ERROR, f"cannot merge the shards' reports: {exc.args[0]}"), None
        await self.say(f"merging {len(blobs)} shard reports")
        (wd / config.MERGE_CONFIG_FILE).write_text(config.render_merge_config(), encoding="utf-8")
        workspace.link_node_modules(wd, toolchain.playwright_dir)
        argv = [toolchain.node, str(toolchain.cli), "merge-reports", "-c", config.MERGE_CONFIG_FILE, MERGE_INPUT_DIR]
        proc = await run_process(
            argv,
            cwd=wd,
            env=playwright_env(os.environ, toolchain),
            on_line=self.log,
            timeout_seconds=self.timeout_seconds,
            cancel=self.cancel,
        )
        results = load_results(wd / config.RESULTS_FILE)
        outcome = decide(
            returncode=proc.returncode,
            stop=proc.stop,
            timeout_seconds=self.timeout_seconds,
            results=results,
            last_output=self.last_error_line(),
        )
        return outcome, results


def artifact_store(settings: RunnerSettings) -> ArtifactStore:
    """A run pod uploads through the API with its run token; local mode and a developer's runner write directly."""
    if settings.ingest_url:
        from supertest_runner.ingest import IngestArtifactStore, IngestTarget

        return IngestArtifactStore(IngestTarget(settings))
    return create_store(settings, settings.run_kind)


def prepare_work_dir(settings: RunnerSettings) -> tuple[Path, bool]:
    """(work dir, whether we created it and so remove it). A reused dir (pod restart) loses old outputs."""
    if settings.work_dir is None:
        return Path(tempfile.mkdtemp(prefix=f"supertest-{settings.run_id}-")), True
    work_dir = settings.work_dir.resolve()
    work_dir.mkdir(parents=True, exist_ok=True)
    for name in (config.TESTS_DIR, config.REPORT_DIR, config.OUTPUT_DIR, config.BLOB_DIR, MERGE_INPUT_DIR):
        shutil.rmtree(work_dir / name, ignore_errors=True)
    for name in (config.RESULTS_FILE, config.JUNIT_FILE, LOGS_FILE, config.CONFIG_FILE, config.TEST_LIST_FILE):
        (work_dir / name).unlink(missing_ok=True)
    return work_dir, False


async def run(settings: RunnerSettings, own_process: bool = False) -> int:
    """`own_process`: the runner is its process's only job (the CLI), so it may adopt and end orphans."""
    cancel = asyncio.Event()
    loop = asyncio.get_running_loop()
    # Pod deletion sends SIGTERM, Ctrl-C SIGINT: both mean cancel, with the same orderly teardown.
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, cancel.set)
    reap = own_process and reaper.become_subreaper()
    sink: EventSink = create_sink(settings)
    if settings.shard_index is not None:
        sink = ShardSink(sink, settings.shard_index)
    work_dir, owned = prepare_work_dir(settings)
    kind = MergeRun if settings.shard_merge else Run
    try:
        return await kind(settings, sink, work_dir, cancel, reap, Masker.from_env(os.environ)).execute()
    finally:
        await sink.close()
        if owned:
            shutil.rmtree(work_dir, ignore_errors=True)
