"""Upload the report, results.json and logs.txt, retrying with exponential backoff."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from tenacity import Retrying, stop_after_attempt, stop_after_delay, wait_exponential

from supertest.artifacts import ArtifactNotFound, ArtifactStore, logs_key, report_prefix, results_key
from supertest.artifacts.layout import junit_key, shard_blob_key, shard_prefix
from supertest_runner.config import BLOB_FILE

T = TypeVar("T")
# Overall bound: with a blackholed endpoint each attempt can take a while (connect timeouts, SDK retries).
UPLOAD_DEADLINE_SECONDS = 120.0


@dataclass(frozen=True, slots=True)
class Uploaded:
    files: int
    report: bool  # whether report/index.html was stored, so the report URL is worth publishing


def upload_run(
    store: ArtifactStore, run_id: str, report_dir: Path, results: Path, logs: Path, junit: Path | None = None
) -> Uploaded:
    """Blocking; idempotent, so a retry re-sends everything (keys are overwritten)."""
    store.ensure_ready()
    files = 0
    has_report = (report_dir / "index.html").is_file()
    if report_dir.is_dir():
        files += store.upload_dir(report_prefix(run_id), report_dir)
    if results.is_file():
        store.put_file(results_key(run_id), results, "application/json")
        files += 1
    if junit is not None and junit.is_file():
        store.put_file(junit_key(run_id), junit, "application/xml")
        files += 1
    if logs.is_file():
        store.put_file(logs_key(run_id), logs, "text/plain; charset=utf-8")
        files += 1
    return Uploaded(files=files, report=has_report)


def with_retries(fn: Callable[[], T], attempts: int, deadline: float = UPLOAD_DEADLINE_SECONDS) -> T:
    retrying = Retrying(
        stop=stop_after_attempt(attempts) | stop_after_delay(deadline),
        wait=wait_exponential(multiplier=0.5, max=10),
        reraise=True,
    )
    return retrying(fn)


async def in_daemon_thread(fn: Callable[[], T], deadline: float) -> T:
    """Run blocking I/O off the loop. A daemon thread, not the default executor: at exit asyncio.run would
    join the executor and hang on a stuck socket; an abandoned daemon thread cannot keep the process alive."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def succeed(value: T) -> None:
        if not future.done():
            future.set_result(value)

    def fail(exc: BaseException) -> None:
        if not future.done():
            future.set_exception(exc)

    def target() -> None:
        try:
            result = fn()
        except BaseException as exc:
            _post(loop, fail, exc)
        else:
            _post(loop, succeed, result)

    threading.Thread(target=target, name="supertest-upload", daemon=True).start()
    return await asyncio.wait_for(future, deadline)


def _post(loop: asyncio.AbstractEventLoop, callback: Callable[[Any], None], value: Any) -> None:
    # The loop may be gone if the caller gave up waiting and the runner exited meanwhile.
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(callback, value)


def upload_shard(store: ArtifactStore, run_id: str, index: int, blob_dir: Path, results: Path, logs: Path) -> Uploaded:
    """A shard stores its blob report, results.json and logs under its own prefix for the merge step; the run's
    report keys are the merge step's to write. Blocking and idempotent, like upload_run."""
    store.ensure_ready()
    files = 0
    blob = blob_dir / BLOB_FILE
    if blob.is_file():
        store.put_file(shard_blob_key(run_id, index), blob, "application/zip")
        files += 1
    if results.is_file():
        store.put_file(shard_prefix(run_id, index) + "results.json", results, "application/json")
        files += 1
    if logs.is_file():
        store.put_file(shard_prefix(run_id, index) + "logs.txt", logs, "text/plain; charset=utf-8")
        files += 1
    return Uploaded(files=files, report=False)


def download_blobs(store: ArtifactStore, run_id: str, total: int, into: Path) -> list[Path]:
    """The merge step's input: every shard's blob, or an error naming the shards whose blob is missing."""
    store.ensure_ready()
    into.mkdir(parents=True, exist_ok=True)
    missing: list[int] = []
    paths: list[Path] = []
    for index in range(total):
        try:
            chunks = store.open_range(shard_blob_key(run_id, index))
        except ArtifactNotFound:
            missing.append(index)
            continue
        path = into / f"shard-{index}.zip"
        with path.open("wb") as out:  # streamed: a blob with traces and videos can be large
            for chunk in chunks:
                out.write(chunk)
        paths.append(path)
    if missing:
        raise ArtifactNotFound(f"no blob report from shard(s) {', '.join(map(str, missing))}")
    return paths
