"""How fast does `POST /api/test` decide, on Postgres, with the queued-capacity check on?

A throwaway Postgres (tests/services), migrated, and the API served by uvicorn in a subprocess exactly as
`supertest api` serves it (one process, production logging), with the local-mode launcher whose admission loop is
not started: every accepted run stays Queued, so the queue only grows and the capacity is what decides. That is the
local-mode submit path (row under the queued capacity, Queued event on the bus); no Kubernetes resource is created.

Per round, on a fresh database and server (QUEUED_CAPACITY = accepted + fill):
  1. `--requests` submissions with `--in-flight` concurrent clients: all fit, so all are accepted decisions
     (decisions/s, p50/p99 latency);
  2. the fill: `--fill-burst` more at the same concurrency against `--fill` free slots: exactly `--fill` must be
     accepted, the rest answered 429.
The same round with 1 in flight is the baseline (the ratio says what concurrency buys); with `--baseline-src DIR`
(another checkout, e.g. the previous commit) the server also runs from that code and the ratio is new/old.
Each line shows the API's CPU per request and the load generator's own (`client`): the client is a minimal
keep-alive HTTP/1.1 writer, so on a small machine it is the server, not the client, that sets the rate.

    .venv/bin/python bench/submit.py [--quick] [--baseline-src /path/to/old/checkout]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO)]

from bench.proc_stats import cpu_seconds  # noqa: E402
from tests.services.postgres import PostgresServer  # noqa: E402
from tests.services.procs import free_port, wait_for  # noqa: E402

SCRIPT = "import { test, expect } from '@playwright/test';\ntest('ok', async () => { expect(1).toBe(1); });\n"


def serve(port: int) -> None:
    """The server side (run in a subprocess, from the checkout under test): `supertest api` with admission off."""
    import uvicorn
    from supertest_api import backends
    from supertest_api.app import create_app

    from supertest.local.dispatcher import LocalDispatcher
    from supertest.logs import configure_logging
    from supertest.settings import ApiSettings, RunBackend

    class QueueOnly(LocalDispatcher):
        async def start(self) -> None:  # no admission loop: accepted runs stay Queued
            return None

    backends.BACKENDS[RunBackend.local] = lambda settings, factory, bus: QueueOnly(settings, factory, bus)
    settings = ApiSettings()
    configure_logging(settings.log_format, settings.log_level)
    # A long keep-alive: with 50 clients on a loaded machine a connection can sit idle past uvicorn's 5 s default,
    # and a request racing that close fails on the client (a transport error the bench would have to count).
    uvicorn.run(
        create_app(settings), host="127.0.0.1", port=port, log_config=None, proxy_headers=False, timeout_keep_alive=120
    )


@dataclass
class Phase:
    codes: list[int]
    latencies: list[float]
    seconds: float
    cpu_ms: float = 0.0  # the API process's CPU time (user + system) per request: what a busy machine cannot skew
    client_cpu_ms: float = 0.0  # this process's (the load generator's): near 1000 / rate, the client is the limit

    @property
    def rate(self) -> float:
        return len(self.codes) / self.seconds

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


@dataclass
class Round:
    label: str
    in_flight: int
    accepted: Phase
    fill: Phase
    fill_slots: int


class Connection:
    """One keep-alive HTTP/1.1 connection that POSTs one fixed body: the load generator.

    Hand-written on asyncio streams because httpx spent more CPU per request than the API under test (5-9 ms on
    this machine): on 2 cores the client, not the server, set the rate. The API answers every submit with a
    Content-Length, and the bench checks the status of each.
    """

    def __init__(self, url: str, key: str) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        body = json.dumps({"script": SCRIPT, "title": "bench"}).encode()
        head = (
            f"POST /api/test HTTP/1.1\r\nHost: {parts.netloc}\r\nAuthorization: Bearer {key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        self.request = head.encode() + body
        self.streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def post(self) -> tuple[int, bytes]:
        if self.streams is None:
            self.streams = await asyncio.open_connection(self.host, self.port)
        reader, writer = self.streams
        writer.write(self.request)
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = dict(line.split(":", 1) for line in lines[1:] if ":" in line)
        length = next((int(v) for k, v in headers.items() if k.strip().lower() == "content-length"), None)
        if length is None:
            raise SystemExit(f"response without Content-Length: {head!r}")
        body = await reader.readexactly(length)
        if any(k.strip().lower() == "connection" and v.strip().lower() == "close" for k, v in headers.items()):
            await self.close()
        return status, body

    async def close(self) -> None:
        if self.streams is not None:
            self.streams[1].close()
            self.streams = None


async def burst(url: str, key: str, total: int, in_flight: int) -> Phase:
    """`total` POST /api/test, `in_flight` at a time (each worker on its own connection)."""
    codes: list[int] = []
    latencies: list[float] = []
    todo = iter(range(total))
    connections = [Connection(url, key) for _ in range(in_flight)]

    async def worker(connection: Connection) -> None:
        for _ in todo:
            start = time.perf_counter()
            status, body = await asyncio.wait_for(connection.post(), timeout=60)
            latencies.append(time.perf_counter() - start)
            codes.append(status)
            if status not in (202, 429):
                raise SystemExit(f"unexpected {status}: {body[:500]!r}")

    start = time.perf_counter()
    try:
        await asyncio.gather(*(worker(c) for c in connections))
    finally:
        for connection in connections:
            await connection.close()
    return Phase(codes, latencies, time.perf_counter() - start)


@contextmanager
def api_server(src: Path, database_url: str, capacity: int, log_path: Path) -> Iterator[tuple[str, int]]:
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(src), str(src / "api"), str(src / "runner-image")]),
        "DATABASE_URL": database_url,
        "QUEUED_CAPACITY": str(capacity),
        "SUPERTEST_HOME": str(log_path.parent / "home"),
        "LOG_LEVEL": "INFO",
        "LOG_FORMAT": "json",
    }
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--serve", str(port)],
            cwd=src,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        if process.poll() is not None:
            raise SystemExit(f"API exited with {process.returncode}:\n{log_path.read_text()[-3000:]}")
        try:
            return httpx.get(url + "/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for(ready, what="the API to become ready", timeout=60)
        yield url, process.pid
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def fresh_database(pg: PostgresServer) -> tuple[str, str]:
    """A migrated database and an API key on it."""
    from supertest.db import apikeys
    from supertest.db.engine import make_engine, make_session_factory, session_scope
    from supertest.db.migrate import upgrade
    from supertest.settings import normalise_database_url

    url = normalise_database_url(pg.create_database())
    upgrade(url)
    engine = make_engine(url)
    with session_scope(make_session_factory(engine)) as session:
        _, key = apikeys.create_key(session, "bench")
    engine.dispose()
    return url, key


def run_round(pg: PostgresServer, src: Path, label: str, args: argparse.Namespace, in_flight: int, tmp: Path) -> Round:
    url, key = fresh_database(pg)
    requests = args.requests if in_flight > 1 else max(50, args.requests // 4)
    with api_server(src, url, requests + args.fill, tmp / f"api-{label}-{in_flight}.log") as (api, pid):
        asyncio.run(burst(api, key, 20, 1))  # warm: connections, imports, first-request paths
        cpu, client_cpu = cpu_seconds(pid), own_cpu_seconds()
        accepted = asyncio.run(burst(api, key, requests - 20, in_flight))
        accepted.cpu_ms = (cpu_seconds(pid) - cpu) * 1000 / len(accepted.codes)
        accepted.client_cpu_ms = (own_cpu_seconds() - client_cpu) * 1000 / len(accepted.codes)
        fill = asyncio.run(burst(api, key, args.fill_burst, in_flight))
    result = Round(label, in_flight, accepted, fill, args.fill)
    print(
        f"  {label:<9} {in_flight:>3} in flight: {accepted.rate:7.1f} decisions/s, p50 {accepted.pct(0.5):6.1f} ms, "
        f"p99 {accepted.pct(0.99):6.1f} ms, API CPU {accepted.cpu_ms:.2f} ms/request "
        f"(client {accepted.client_cpu_ms:.2f}); "
        f"fill: {fill.codes.count(202)}/{args.fill} accepted, "
        f"{fill.codes.count(429)} x 429 ({fill.rate:.0f}/s)",
        flush=True,
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true", help="fewer requests and rounds (< 2 min)")
    parser.add_argument("--requests", type=int, default=None, help="accepted submissions per round (default 3000)")
    parser.add_argument("--in-flight", type=int, default=50)
    parser.add_argument("--fill", type=int, default=50, help="free queue slots left for the fill phase")
    parser.add_argument("--fill-burst", type=int, default=500, help="submissions racing for those slots")
    parser.add_argument("--rounds", type=int, default=None, help="rounds at --in-flight (median; default 3)")
    parser.add_argument("--baseline-src", type=Path, help="another checkout to run the same rounds against")
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    args.requests = args.requests or (800 if args.quick else 3000)
    rounds = args.rounds or (1 if args.quick else 3)
    sources = [("this", REPO)] + ([("baseline", args.baseline_src.resolve())] if args.baseline_src else [])
    results: dict[str, list[Round]] = {}
    serial: dict[str, Round] = {}
    failures = []
    load = os.getloadavg()[0]
    tmp = tempfile.mkdtemp(prefix="supertest-bench-submit-")  # kept: the servers' logs, for a failed round
    print(f"server logs in {tmp}", flush=True)
    with PostgresServer.start() as pg:
        for label, src in sources:
            serial[label] = run_round(pg, src, label, args, 1, Path(tmp))
        for _ in range(rounds):  # interleaved, so drift on a busy machine hits every side alike
            for label, src in sources:
                results.setdefault(label, []).append(run_round(pg, src, label, args, args.in_flight, Path(tmp)))
    for label, rs in results.items():
        for r in [serial[label], *rs]:
            if r.fill.codes.count(202) != r.fill_slots:
                failures.append(f"{label}: {r.fill.codes.count(202)} accepted for {r.fill_slots} free slots")
    print(f"\nPOST /api/test on Postgres, QueueOnly local launcher (median of {rounds}; load avg {load:.1f} at start)")
    print(
        f"{'code':<9} {'in flight':>9} {'decisions/s':>11} {'p50 ms':>7} {'p99 ms':>7} {'CPU ms/req':>10} "
        f"{'vs 1 in flight':>15}"
    )
    cpu: dict[str, float] = {}
    medians: dict[str, float] = {}
    for label, rs in results.items():
        rate = statistics.median(r.accepted.rate for r in rs)
        p50 = statistics.median(r.accepted.pct(0.5) for r in rs)
        p99 = statistics.median(r.accepted.pct(0.99) for r in rs)
        cpu[label] = statistics.median(r.accepted.cpu_ms for r in rs)
        medians[label] = rate
        one = serial[label].accepted
        print(
            f"{label:<9} {1:>9} {one.rate:>11.1f} {one.pct(0.5):>7.1f} {one.pct(0.99):>7.1f} {one.cpu_ms:>10.2f} "
            f"{1.0:>15.2f}"
        )
        print(
            f"{label:<9} {args.in_flight:>9} {rate:>11.1f} {p50:>7.1f} {p99:>7.1f} {cpu[label]:>10.2f} "
            f"{rate / one.rate:>15.2f}"
        )
    if "baseline" in medians:
        print(
            f"\nthis / baseline at {args.in_flight} in flight: {medians['this'] / medians['baseline']:.2f}x "
            f"decisions/s, {cpu['this'] / cpu['baseline']:.2f}x API CPU per request"
        )
    if failures:
        raise SystemExit("capacity not exact: " + "; ".join(failures))
    print("capacity exact: every fill accepted exactly its free slots, the rest got 429")


if __name__ == "__main__":
    main()
