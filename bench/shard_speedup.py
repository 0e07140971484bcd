"""How much faster does a suite finish in shards? A 40-test job at shards 1, 2 and 4 under RUNNING_CAPACITY=4.

Local mode (`supertest dev`): each shard is a runner process, then one merge process (`playwright merge-reports`).
Every test waits 1.5 s without a browser, like a test waiting on the app under test: on a 2-core machine this
measures what sharding buys in orchestration and waiting, not Chromium's CPU (which 2 cores cap at about 2x).
Each run has one Playwright worker per shard (MAX_CONCURRENT_TESTS=1), so shards are the only parallelism.

Merge overhead: the merge step run again alone on the 4-shard run's stored blobs (download, merge-reports,
upload), timed as a process, next to the 4-shard run's wall time.

    .venv/bin/python bench/shard_speedup.py [--quick] [--repeats N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "runner-image")]

from tests.support.local_server import LocalServer, local_server  # noqa: E402

TEST = """\
const {{ test, expect }} = require('@playwright/test');
test('waits {i}', async () => {{
  await new Promise((r) => setTimeout(r, {ms}));
  expect({i}).toBe({i});
}});
"""
CAPACITY = 4


def time_run(server: LocalServer, tests: list[dict[str, str]], shards: int) -> tuple[float, str]:
    with server.client() as client:
        start = time.perf_counter()
        response = client.post("/api/jobs/run", json={"tests": tests, "shards": shards})
        if response.status_code != 202:
            raise SystemExit(f"submit failed: {response.status_code} {response.text}")
        run_id = response.json()["runId"]
        row = server.wait_terminal(client, run_id, timeout=900)
        elapsed = time.perf_counter() - start
    if row["phase"] != "Passed" or row["summary"]["total"] != len(tests):
        raise SystemExit(f"run {run_id} ended {row['phase']} with {row['summary']}:\n{server.log_tail()}")
    return elapsed, run_id


def time_merge(server: LocalServer, run_id: str, shards: int, root: Path) -> float:
    """The merge step alone, as local mode runs it: a runner process over the stored blobs."""
    env = {
        **os.environ,
        "SUPERTEST_RUN_ID": run_id,
        "SUPERTEST_RUN_KIND": "job",
        "SUPERTEST_SCRIPTS_DIR": str(server.home / "runs" / run_id / "scripts"),
        "SUPERTEST_WORK_DIR": str(root / f"merge-{run_id}"),
        "ARTIFACTS_DIR": str(server.home / "artifacts"),
        "SUPERTEST_EVENTS_STDOUT": "1",
        "SUPERTEST_SHARD_MERGE": "1",
        "SUPERTEST_SHARD_TOTAL": str(shards),
    }
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "supertest_runner"], env=env, capture_output=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"merge failed ({done.returncode}):\n{done.stdout.decode()[-3000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="12 tests of 0.5 s, once each (under 2 minutes)")
    parser.add_argument("--repeats", type=int, default=1, help="runs per shard count; the median is shown")
    args = parser.parse_args()
    count, ms = (12, 500) if args.quick else (40, 1500)
    tests = [{"name": f"t{i:02d}", "script": TEST.format(i=i, ms=ms)} for i in range(count)]
    walls: dict[int, list[float]] = {1: [], 2: [], 4: []}
    merges: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        env = {
            "RUNNING_CAPACITY": str(CAPACITY),
            "QUEUED_CAPACITY": "20",
            "MAX_CONCURRENT_TESTS": "1",
            "PW_VIDEO": "off",
            "PW_TRACE": "off",
            "PW_SCREENSHOT": "off",
        }
        with local_server(root / "home", env) as server:
            time_run(server, tests[:2], 1)  # warm-up: page cache, first node start
            for repeat in range(args.repeats):
                for shards in walls:
                    wall, run_id = time_run(server, tests, shards)
                    walls[shards].append(wall)
                    print(f"  repeat {repeat + 1}: shards {shards}: {wall:.2f}s ({run_id})", flush=True)
                    if shards == 4:
                        merges.append(time_merge(server, run_id, shards, root))
    base = statistics.median(walls[1])
    print(f"\nshard speed-up: {count} tests x {ms} ms, capacity {CAPACITY}, median of {args.repeats}")
    print(f"{'shards':>6}  {'wall':>8}  {'speed-up vs 1 shard':>19}  {'ideal':>5}")
    for shards, values in walls.items():
        wall = statistics.median(values)
        print(f"{shards:>6}  {wall:>7.2f}s  {base / wall:>18.2f}x  {shards:>4}x")
    merge = statistics.median(merges)
    four = statistics.median(walls[4])
    print(f"merge step alone (4 blobs): {merge:.2f}s = {merge / four:.0%} of the 4-shard wall time")


if __name__ == "__main__":
    main()
