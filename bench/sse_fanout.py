"""SSE fan-out: many viewers of one run on one API process, with the in-process bus and with Redis.

The API runs in a process of its own (uvicorn, as `supertest api` serves it) with one Running run in SQLite.
Viewers are bare asyncio protocols on uvloop in separate client processes, timestamping each chunk as it is
read, so the client side never shares the API's event loop and adds as little as it can to what is measured.
Once every viewer has its first event, a publisher sends the run's output: RATE log lines a second and a
status event a second, each carrying its send time, then the terminal status. Every viewer records when each
line and each status reached it; the benchmark prints p50/p99 of both, client errors and the API's peak RSS,
side by side with the targets of issue #15 (status p99 <= 50 ms, log p99 <= 250 ms, RSS <= 250 MiB) and, with
--baseline-code, with the same run against another checkout of the code (e.g. main's, for before/after).

On a shared machine the latencies follow the load (printed, with how long the API waited for a CPU); the API's
CPU per event delivered to one viewer ("us/delivery") is the figure that does not, and the one to compare.

With the in-process bus the publisher runs inside the API process (as local mode's dispatcher does); with Redis
it runs in this process and writes to the stream as a runner pod would.

    .venv/bin/python bench/sse_fanout.py [--quick] [--clients 1000] [--seconds 20] [--bus memory,redis]
        [--baseline-code DIR]   # a tree with supertest/ and api/ (e.g. `git archive main | tar -x -C DIR`)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import proc_stats  # noqa: E402

TARGET_STATUS_P99_MS = 50.0
TARGET_LOG_P99_MS = 250.0
TARGET_RSS_MIB = 250.0
STATUS_EVERY_SECONDS = 1.0
# Latency is sampled on every tenth line (sequence numbers ending in 0), so the viewers' own parsing stays small
# next to the API's work on a shared machine; every line is still counted.
LINE_SAMPLE = re.compile(rb'"line":"bench (\d*0) (\d+\.\d+)"')
LINE_COUNT = b'"line":"bench '

STATUS_MARK = re.compile(rb'"message":"bench-status (\d+\.\d+)"')
TERMINAL_MARK = b'"phase":"Passed"'


# -- the API process ------------------------------------------------------------------------------------------


class _NoLauncher:
    """Nothing is submitted in this benchmark: the run is a row the API streams, moved by the publisher."""

    async def submit(self, request: Any) -> Any:
        raise NotImplementedError

    async def cancel(self, run_id: str) -> Any:
        raise NotImplementedError

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None


async def publish_run(bus: Any, run_id: str, rate: int, seconds: float) -> int:
    """RATE lines a second and a status a second for SECONDS, then Passed; returns the lines sent."""
    from supertest.events import log_event, status_event
    from supertest.phases import Phase

    loop = asyncio.get_running_loop()
    start = loop.time()
    sent = 0
    next_status = start
    while True:
        now = loop.time()
        if now - start >= seconds:
            break
        if now >= next_status:
            await bus.publish(status_event(run_id, Phase.RUNNING, f"bench-status {time.time():.6f}"))
            next_status += STATUS_EVERY_SECONDS
        due = int((now - start) * rate) + 1
        while sent < due:
            await bus.publish(log_event(run_id, f"bench {sent} {time.time():.6f}"))
            sent += 1
        await asyncio.sleep(max(0.0, start + due / rate - loop.time()))
    await bus.publish(status_event(run_id, Phase.PASSED, f"bench-status {time.time():.6f}"))
    return sent


def _event_loop_runner() -> Any:
    """uvloop when installed, as `uvicorn.run` (and so `supertest api`) picks it; the viewers use it too."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run
    return uvloop.run


def serve(args: argparse.Namespace) -> None:
    """The API process: prints `ready <port> <run_id> <key>`, publishes on `go` (memory bus), exits on stdin EOF."""
    import uvicorn
    from supertest_api.app import create_app

    from supertest.bus.memory import MemoryEventBus
    from supertest.db import apikeys
    from supertest.db import migrate as db_migrate
    from supertest.db.engine import make_engine, make_session_factory, session_scope
    from supertest.db.models import RunRecord
    from supertest.events import status_event
    from supertest.phases import Phase
    from supertest.settings import ApiSettings

    home = Path(args.home)
    url = f"sqlite:///{home / 'supertest.db'}"
    db_migrate.upgrade(url)
    factory = make_session_factory(make_engine(url))
    run_id = "tr-bench0000001"
    with session_scope(factory) as session:
        session.add(RunRecord(id=run_id, kind="test", phase=Phase.RUNNING.value, title="bench"))
        _, key = apikeys.create_key(session, "bench")
    settings = ApiSettings(
        SUPERTEST_HOME=home,
        RUN_BACKEND="local",
        DATABASE_URL=url,
        REDIS_URL=args.redis_url or None,
        S3_ENDPOINT=None,
        LOG_LEVEL="WARNING",
    )
    bus = None if args.redis_url else MemoryEventBus(maxlen=settings.event_stream_maxlen)
    app = create_app(settings, _NoLauncher(), bus=bus)  # type: ignore[arg-type]
    config = uvicorn.Config(app, host="127.0.0.1", port=args.port, log_config=None, access_log=False)
    server = uvicorn.Server(config)

    async def main() -> None:
        serving = asyncio.create_task(server.serve())
        while not server.started:  # noqa: ASYNC110 - uvicorn's Server exposes a flag, not an event
            await asyncio.sleep(0.01)
        if bus is not None:
            await bus.publish(status_event(run_id, Phase.RUNNING, "started"))
        print(f"ready {args.port} {run_id} {key}", flush=True)
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while line := await reader.readline():
            if line.strip() == b"go" and bus is not None:
                sent = await publish_run(bus, run_id, args.rate, args.seconds)
                print(f"published {sent}", flush=True)
        server.should_exit = True
        await serving

    run = _event_loop_runner()
    profile_to = os.environ.get("SSE_BENCH_PROFILE")  # a file for cProfile stats of the API process
    if not profile_to:
        run(main())
        return
    import cProfile

    with cProfile.Profile() as profiler:
        run(main())
    profiler.dump_stats(profile_to)


# -- the viewers ----------------------------------------------------------------------------------------------


@dataclass
class Viewer:
    lines: int = 0
    statuses: int = 0
    ended: bool = False
    error: str | None = None


class ViewerProtocol(asyncio.Protocol):
    """One viewer as a bare protocol: each chunk is timestamped in `data_received`, the moment the loop reads it.

    A StreamReader per viewer (the first version) added a task wake-up and a buffer copy per chunk on the client
    side, about 40 us on 500 sockets a process: tens of milliseconds of the clients' own queueing counted as the
    API's latency. Browsers read natively; the load generator should add as little as it can.
    """

    def __init__(self, request: bytes, out: Viewer, lat: Any, on_first: Any, done: asyncio.Future[None]) -> None:
        self.request, self.out, self.lat, self.on_first, self.done = request, out, lat, on_first, done
        self.head: bytes | None = b""
        self.carry = b""
        self.transport: Any = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # uvloop's TCPTransport: not a subclass of asyncio.Transport, but one in use
        transport.write(self.request)  # type: ignore[attr-defined]

    def data_received(self, chunk: bytes) -> None:
        now = time.time()
        if self.head is not None:  # still reading the response head
            self.head += chunk
            cut = self.head.find(b"\r\n\r\n")
            if cut < 0:
                return
            head, chunk, self.head = self.head[:cut], self.head[cut + 4 :], None
            if not head.startswith(b"HTTP/1.1 200"):
                self._end(head.split(b"\r\n", 1)[0].decode())
                return
        data = self.carry + chunk
        cut = data.rfind(b"\r\n\r\n")
        if cut < 0:
            self.carry = data
            return
        self.carry, data = data[cut + 4 :], data[: cut + 4]
        if self.on_first is not None:
            self.on_first()
            self.on_first = None
        log_lat, status_lat = self.lat
        self.out.lines += data.count(LINE_COUNT)
        for match in LINE_SAMPLE.finditer(data):
            log_lat.append(now - float(match.group(2)))
        for match in STATUS_MARK.finditer(data):
            status_lat.append(now - float(match.group(1)))
            self.out.statuses += 1
        if TERMINAL_MARK in data:
            self.out.ended = True
            self._end(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.out.ended and self.out.error is None:
            self.out.error = repr(exc) if exc else "stream ended before the terminal status (dropped?)"
        self._end(None)

    def _end(self, error: str | None) -> None:
        if error and self.out.error is None:
            self.out.error = error
        if self.on_first is not None:  # never got an event: it still counts as arrived, with its error
            self.on_first()
            self.on_first = None
        if not self.done.done():
            self.done.set_result(None)
        if self.transport is not None:
            self.transport.close()


async def view(
    port: int, path: str, key: str, connected: asyncio.Event, counter: list[int], total: int, out: Viewer, lat: Any
) -> None:
    def arrived() -> None:
        counter[0] += 1
        if counter[0] == total:
            connected.set()

    request = (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\nAccept: text/event-stream\r\n\r\n"
    ).encode()
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()
    try:
        await loop.create_connection(lambda: ViewerProtocol(request, out, lat, arrived, done), "127.0.0.1", port)
    except OSError as exc:
        out.error = f"connect: {exc!r}"
        arrived()
        return
    await done


def clients(args: argparse.Namespace) -> None:
    """A client process: prints `connected` once each viewer has its first event, then the results as JSON."""

    async def main() -> None:
        connected = asyncio.Event()
        counter = [0]
        log_lat, status_lat = array("d"), array("d")
        viewers = [Viewer() for _ in range(args.n)]
        tasks = []
        for v in viewers:
            tasks.append(
                asyncio.create_task(
                    view(args.port, args.path, args.key, connected, counter, args.n, v, (log_lat, status_lat))
                )
            )
            await asyncio.sleep(0)  # spread the connects a little, as real viewers arrive
        await connected.wait()
        print("connected", flush=True)
        cpu_start, wall_start = time.process_time(), time.monotonic()
        await asyncio.wait(tasks, timeout=args.timeout)
        cpu = (time.process_time() - cpu_start) / (time.monotonic() - wall_start) * 100
        for task in tasks:
            task.cancel()
        errors = [v.error or "timed out" for v in viewers if v.error or not v.ended]
        result = {
            "log": log_lat.tolist(),
            "status": status_lat.tolist(),
            "lines": [v.lines for v in viewers],
            "statuses": sum(v.statuses for v in viewers),
            "errors": errors[:5],
            "error_count": len(errors),
            "cpu": cpu,
        }
        print("result " + json.dumps(result), flush=True)

    _event_loop_runner()(main())


# -- the driver -----------------------------------------------------------------------------------------------


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def _runqueue_seconds(pid: int) -> float:
    """Time the process's threads spent runnable but waiting for a CPU (the machine's contention, not our work)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError, IndexError, ValueError):
            total += int((task / "schedstat").read_text().split()[1])
    return total / 1e9


def _expect(proc: subprocess.Popen[str], prefix: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise SystemExit(f"process ended before {prefix!r} (exit {proc.wait()})")
        if line.startswith(prefix):
            return line[len(prefix) :].strip()
    raise SystemExit(f"no {prefix!r} within {timeout} s")


def scenario(bus: str, code: Path, n_clients: int, seconds: float, rate: int, client_procs: int) -> dict[str, Any]:
    from tests.services.procs import free_port
    from tests.services.redis_server import RedisServer

    stack = contextlib.ExitStack()
    with stack:
        redis_url = ""
        if bus == "redis":
            redis_url = stack.enter_context(RedisServer.start()).url
        home = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="supertest-sse-bench-")))
        port = free_port()
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(code), str(code / "api"), str(REPO)])}
        server = subprocess.Popen(
            [
                *(sys.executable, __file__, "--serve", "--home", str(home), "--port", str(port)),
                *("--redis-url", redis_url, "--rate", str(rate), "--seconds", str(seconds)),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=home,
        )
        stack.callback(server.kill)
        _, run_id, key = _expect(server, "ready ", 60).split()
        path = f"/api/test-status/sse/{run_id}"
        shares = [n_clients // client_procs + (1 if i < n_clients % client_procs else 0) for i in range(client_procs)]
        procs = [
            subprocess.Popen(
                [
                    *(sys.executable, __file__, "--clients-proc", "--port", str(port), "--path", path, "--key", key),
                    *("--n", str(share), "--timeout", str(seconds + 60)),
                ],
                stdout=subprocess.PIPE,
                text=True,
            )
            for share in shares
            if share
        ]
        for proc in procs:
            stack.callback(proc.kill)
        for proc in procs:
            _expect(proc, "connected", 120)
        rss_connected = proc_stats.peak_rss_mib(server.pid)
        load = os.getloadavg()[0]
        cpu_before, wall_before = proc_stats.cpu_seconds(server.pid), time.monotonic()
        waited_before = _runqueue_seconds(server.pid)
        if bus == "redis":
            sent = asyncio.run(_publish_redis(redis_url, run_id, rate, seconds))
        else:
            assert server.stdin is not None
            server.stdin.write("go\n")
            server.stdin.flush()
            sent = int(_expect(server, "published ", seconds + 120))
        results = [json.loads(_expect(proc, "result ", seconds + 120)) for proc in procs]
        rss = proc_stats.peak_rss_mib(server.pid)
        # The API's CPU per second of the run: what the fan-out costs, whatever else the machine is doing.
        wall = time.monotonic() - wall_before
        cpu_seconds = proc_stats.cpu_seconds(server.pid) - cpu_before
        cpu = cpu_seconds / wall
        waited = (_runqueue_seconds(server.pid) - waited_before) / wall
        assert server.stdin is not None
        server.stdin.close()  # the API process stops on EOF (and writes its profile, if asked)
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.wait(timeout=30)
    log_lat = [x for r in results for x in r["log"]]
    status_lat = [x for r in results for x in r["status"]]
    lines = [n for r in results for n in r["lines"]]
    return {
        "bus": bus,
        "clients": n_clients,
        "status_p50": _pct(status_lat, 0.5),
        "status_p99": _pct(status_lat, 0.99),
        "log_p50": _pct(log_lat, 0.5),
        "log_p99": _pct(log_lat, 0.99),
        "sent": sent,
        "missing": sent - min(lines) if lines else sent,
        "errors": sum(r["error_count"] for r in results),
        "error_samples": [e for r in results for e in r["errors"]][:3],
        "rss_connected": rss_connected,
        "rss_peak": rss,
        "load": load,
        "cpu": cpu * 100,
        "clients_cpu": sum(r["cpu"] for r in results),
        # API CPU per event delivered to one viewer: the fan-out's cost, whatever the machine's load.
        "us_per_delivery": cpu_seconds * 1e6 / max(1, sum(lines) + sum(r["statuses"] for r in results)),
        "waited": waited * 100,
    }


async def _publish_redis(url: str, run_id: str, rate: int, seconds: float) -> int:
    from supertest.bus.redis import RedisEventBus

    bus = RedisEventBus(url)
    try:
        return await publish_run(bus, run_id, rate, seconds)
    finally:
        await bus.close()


def _row(label: str, r: dict[str, Any], base: dict[str, Any] | None) -> str:
    def ratio(key: str, target: float) -> str:
        against = base[key] if base else target
        return f"{r[key]:8.1f} ({r[key] / against:.3g}x)" if against else f"{r[key]:8.1f}"

    return (
        f"{label:<10} {r['bus']:<7} {r['clients']:>6} | status p50 {r['status_p50']:7.1f} p99 "
        f"{ratio('status_p99', TARGET_STATUS_P99_MS)} | log p50 {r['log_p50']:7.1f} p99 "
        f"{ratio('log_p99', TARGET_LOG_P99_MS)} | errors {r['errors']:>4} | lines {r['sent']} sent, "
        f"{r['missing']} missing | "
        f"RSS MiB {ratio('rss_peak', TARGET_RSS_MIB)} (connected {r['rss_connected']:.0f}) | API CPU us/delivery "
        f"{r['us_per_delivery']:.2f}"
        + (f" ({r['us_per_delivery'] / base['us_per_delivery']:.3g}x)" if base else "")
        + f" | API CPU % {r['cpu']:5.1f}"
        + (f" ({r['cpu'] / base['cpu']:.3g}x)" if base else "")
        + f" | waiting for a CPU % {r['waited']:5.1f} | viewers' CPU % {r['clients_cpu']:5.1f} | load {r['load']:.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="200 clients for 10 s per bus (under 2 minutes)")
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rate", type=int, default=200, help="log lines per second")
    parser.add_argument("--bus", default="memory,redis")
    parser.add_argument("--client-procs", type=int, default=2)
    parser.add_argument("--baseline-code", type=Path, help="another checkout to run the same scenario against")
    # Internal modes: the API process and the client processes.
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--clients-proc", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--home", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--redis-url", default="", help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    parser.add_argument("--key", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--timeout", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args)
        return
    if args.clients_proc:
        clients(args)
        return
    if args.quick:
        args.clients, args.seconds = 200, 10.0
    if shutil.which("redis-server") is None and "redis" in args.bus:
        raise SystemExit("redis-server not found on PATH: run scripts/install-system-deps.sh or pass --bus memory")
    print(
        f"{args.clients} viewers, {args.rate} lines/s + 1 status/s for {args.seconds:.0f} s; ratios against "
        + ("the baseline code" if args.baseline_code else "the targets (status p99 50 ms, log p99 250 ms, 250 MiB)")
    )
    for bus in args.bus.split(","):
        base = None
        if args.baseline_code:
            base = scenario(bus, args.baseline_code.resolve(), args.clients, args.seconds, args.rate, args.client_procs)
            print(_row("baseline", base, None), flush=True)
        now = scenario(bus, REPO, args.clients, args.seconds, args.rate, args.client_procs)
        print(_row("this code", now, base), flush=True)
        if now["error_samples"]:
            print(f"  client errors, e.g.: {now['error_samples']}")


if __name__ == "__main__":
    main()
