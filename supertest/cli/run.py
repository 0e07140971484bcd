from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import httpx
import typer
from httpx_sse import connect_sse
from rich.console import Console

from supertest.artifacts.layout import report_url
from supertest.phases import ExitCode, Phase, exit_code_for_phase

HELP = (
    "Submit Playwright spec files to a Supertest server, follow the run live, print the summary and "
    "the report URL. Several files run as one job with one combined report. Exits 0 when all passed, "
    "1 when tests failed, 2 on an error (bad script, rejected submission), 3 on timeout, 4 when cancelled."
)
console = Console(stderr=True)


def run(
    files: list[Path] = typer.Argument(..., exists=True, dir_okay=False, readable=True, help="Spec files (.js/.ts)."),
    server: str = typer.Option("http://127.0.0.1:8000", envvar="SUPERTEST_SERVER", help="Server URL."),
    api_key: str | None = typer.Option(None, envvar="SUPERTEST_API_KEY", help="API key (default: local dev key)."),
    timeout_seconds: int | None = typer.Option(None, help="Run timeout in seconds."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Only print the summary."),
) -> None:
    key = api_key or _local_dev_key()
    if not key:
        console.print("[red]no API key[/]: pass --api-key or set SUPERTEST_API_KEY")
        raise typer.Exit(ExitCode.ERROR)
    headers = {"Authorization": f"Bearer {key}"}
    base = server.rstrip("/")
    with httpx.Client(base_url=base, headers=headers, timeout=httpx.Timeout(30, read=None)) as client:
        submitted = _submit(client, files, timeout_seconds)
        run_id = submitted["runId"]
        kind = "job" if len(files) > 1 else "test"
        console.print(f"[bold]{run_id}[/] queued")
        final = _follow(client, run_id, kind, quiet)
        _print_summary(final, base, run_id)
    raise typer.Exit(exit_code_for_phase(final.get("phase", Phase.ERROR)))


def _submit(client: httpx.Client, files: list[Path], timeout_seconds: int | None) -> dict[str, Any]:
    tests = [{"name": f.stem.removesuffix(".spec"), "script": f.read_text(), "language": _language(f)} for f in files]
    if len(tests) == 1:
        body: dict[str, Any] = {
            "script": tests[0]["script"],
            "language": tests[0]["language"],
            "title": tests[0]["name"],
        }
        path = "/api/test"
    else:
        body = {"tests": tests}
        path = "/api/jobs/run"
    if timeout_seconds:
        body["timeoutSeconds"] = timeout_seconds
    response = client.post(path, json=body)
    if response.status_code >= 400:
        console.print(f"[red]rejected ({response.status_code})[/]: {_message(response)}")
        raise typer.Exit(ExitCode.ERROR)
    result: dict[str, Any] = response.json()
    return result


def _follow(client: httpx.Client, run_id: str, kind: str, quiet: bool) -> dict[str, Any]:
    final: dict[str, Any] = {}
    last_id: str | None = None
    # Reconnect with Last-Event-ID if the stream drops before the run ends.
    for _attempt in range(20):
        headers = {"Last-Event-ID": last_id} if last_id else {}
        try:
            with connect_sse(client, "GET", f"/api/{kind}-status/sse/{run_id}", headers=headers) as source:
                for sse in source.iter_sse():
                    last_id = sse.id or last_id
                    if not sse.data:
                        continue
                    event = json.loads(sse.data)
                    if sse.event == "log" and not quiet:
                        console.print(event.get("line", ""), markup=False, highlight=False)
                    elif sse.event == "status":
                        console.print(f"[bold]{event.get('phase')}[/] {event.get('message') or ''}")
                        final.update(phase=event.get("phase"), message=event.get("message"))
                        if Phase(event["phase"]).is_terminal:
                            return final
                    elif sse.event == "result":
                        final.update(summary=event.get("summary"), reportUrl=event.get("reportUrl"))
        except httpx.TransportError as exc:
            console.print(f"[yellow]stream interrupted ({exc}); reconnecting[/]")
    return final


def _print_summary(final: dict[str, Any], base: str, run_id: str) -> None:
    summary = final.get("summary") or {}
    phase = final.get("phase", "unknown")
    colour = "green" if phase == Phase.PASSED else "red"
    console.print(
        f"[{colour} bold]{phase}[/]  total {summary.get('total', 0)}, passed {summary.get('passed', 0)}, "
        f"failed {summary.get('failed', 0)}, flaky {summary.get('flaky', 0)}, skipped {summary.get('skipped', 0)}, "
        f"{summary.get('durationMs', 0) / 1000:.1f}s"
    )
    report = final.get("reportUrl") or report_url(run_id)
    typer.echo(f"report: {base}{report}")


def _language(path: Path) -> str:
    return "typescript" if path.suffix in (".ts", ".mts") else "javascript"


def _message(response: httpx.Response) -> str:
    try:
        return str(response.json().get("message") or response.text)
    except ValueError:
        return response.text


def _local_dev_key() -> str | None:
    home = Path(os.environ.get("SUPERTEST_HOME", ".supertest"))
    path = home / "dev-api-key"
    return path.read_text().strip() if path.exists() else None
