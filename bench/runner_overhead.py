"""What does Supertest add on top of Playwright? Same specs, side by side, in one process.

For a 1-test and a 20-test spec, each pair runs the spec once through `supertest run` against a local-mode
server (submit, queue, runner subprocess, upload, events over SSE) and once through bare `npx playwright test`
with the same generated config. Pairs alternate their order so drift on a noisy machine hits both sides.

    .venv/bin/python bench/runner_overhead.py [--pairs 5] [--quick]
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

from supertest_runner.config import PlaywrightConfig, render_config  # noqa: E402
from supertest_runner.paths import default_browsers_path, default_playwright_dir  # noqa: E402

from tests.support.local_server import local_server  # noqa: E402
from tests.support.scripts import many_tests  # noqa: E402

# Local mode's defaults: trace, screenshot and video on, two Playwright workers.
ARTIFACTS = {"trace": "on", "screenshot": "on", "video": "on"}
WORKERS = 2


def bare_workspace(root: Path, spec: str) -> Path:
    playwright_dir = Path(os.environ.get("SUPERTEST_PLAYWRIGHT_DIR") or default_playwright_dir() or "")
    work = root / "bare"
    (work / "tests").mkdir(parents=True)
    (work / "tests" / "bench.spec.js").write_text(spec)
    cfg = PlaywrightConfig(chromium_path="/usr/bin/chromium", workers=WORKERS, **ARTIFACTS)
    (work / "playwright.config.js").write_text(render_config(cfg))
    (work / "node_modules").symlink_to(playwright_dir / "node_modules")
    return work


def time_bare(work: Path) -> float:
    for leftover in ("report", "test-results", "results.json"):
        subprocess.run(["rm", "-rf", str(work / leftover)], check=True)
    start = time.perf_counter()
    done = subprocess.run(
        ["npx", "--no-install", "playwright", "test", "-c", "playwright.config.js"],
        cwd=work,
        capture_output=True,
        # Where setup-playwright.sh linked Debian's ffmpeg, so bare Playwright can record video too.
        env={**os.environ, "CI": "1", "PLAYWRIGHT_BROWSERS_PATH": str(default_browsers_path())},
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"bare playwright failed:\n{done.stdout.decode()[-2000:]}{done.stderr.decode()[-2000:]}")
    return elapsed


def time_supertest(spec_file: Path, url: str, key: str) -> float:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "supertest.cli.main", "run", str(spec_file), "--server", url, "-q"],
        capture_output=True,
        env={**os.environ, "SUPERTEST_API_KEY": key},
        cwd=REPO,
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"supertest run failed ({done.returncode}):\n{done.stderr.decode()[-3000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=5, help="pairs per spec size (>= 5 for the README figure)")
    parser.add_argument("--quick", action="store_true", help="one pair per spec size: a smoke run, not a figure")
    args = parser.parse_args()
    if args.quick:
        args.pairs = 1
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        env = {"RUNNING_CAPACITY": "1", "MAX_CONCURRENT_TESTS": str(WORKERS)}
        env.update({f"PW_{k.upper()}": v for k, v in ARTIFACTS.items()})
        with local_server(root / "home", env) as server:
            for count in (1, 20):
                spec = many_tests(count)
                spec_file = root / f"bench{count}.spec.js"
                spec_file.write_text(spec)
                work = bare_workspace(root / f"w{count}", spec)
                time_bare(work)  # warm the page cache for both sides
                ours, bare = [], []
                for pair in range(args.pairs):
                    order = [("s", 0), ("b", 0)] if pair % 2 == 0 else [("b", 0), ("s", 0)]
                    for side, _ in order:
                        if side == "s":
                            ours.append(time_supertest(spec_file, server.url, server.api_key))
                        else:
                            bare.append(time_bare(work))
                    print(
                        f"  {count:>2} tests, pair {pair + 1}: supertest {ours[-1]:.2f}s, bare {bare[-1]:.2f}s",
                        flush=True,
                    )
                ratios = [o / b for o, b in zip(ours, bare, strict=True)]
                rows.append((count, statistics.median(ours), statistics.median(bare), statistics.median(ratios)))
    print(f"\nrunner overhead (median of {args.pairs} pairs)")
    print(f"{'tests':>5}  {'supertest run':>13}  {'npx playwright':>14}  {'ratio':>6}")
    for count, ours_s, bare_s, ratio in rows:
        print(f"{count:>5}  {ours_s:>12.2f}s  {bare_s:>13.2f}s  {ratio:>6.2f}")


if __name__ == "__main__":
    main()
