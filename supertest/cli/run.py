from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import httpx
import typer
from httpx_sse import connect_sse
from rich.console import Console

from supertest.artifacts.layout import report_url, results_url
from supertest.cli.junit import junit_xml
from supertest.phases import ExitCode, Phase, exit_code_for_phase

HELP = (
    "Submit Playwright spec files to a Supertest server, follow the run live, print the summary and "
    "the report URL. Several files run as one job with one combined report. Exits 0 when all passed, "
    "1 when tests failed, 2 on an error (bad script, rejected submission), 3 on timeout, 4 when cancelled. "
    "`--job NAME --junit out.xml` is the CI gate: it runs a stored job and writes JUnit XML."
)
console = Console(stderr=True)


def run(
    files: list[Path] = typer.Argument(
        None, exists=True, dir_okay=False, readable=True, help="Spec files (.js/.ts); or use --job."
    ),
    job: str | None = typer.Option(None, "--job", "-j", help="Run this stored job (name or id) instead of files."),
    wait: bool = typer.Option(True, "--wait/--no-wait", help="Follow the run to its end (the default)."),
    junit: Path | None = typer.Option(None, "--junit", dir_okay=False, help="Write the results as JUnit XML here."),
    server: str = typer.Option("http://127.0.0.1:8000", envvar="SUPERTEST_SERVER", help="Server URL."),
    api_key: str | None = typer.Option(None, envvar="SUPERTEST_API_KEY", help="API key (default: local dev key)."),
    timeout_seconds: int | None = typer.Option(None, help="Run timeout in seconds."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Only print the summary."),
) -> None:
    files = list(files or [])
    if bool(files) == bool(job):
        console.print("[red]give spec files or --job NAME[/] (not both)")
        raise typer.Exit(ExitCode.ERROR)
    if junit is not None and not wait:
        console.print("[red]--junit needs --wait[/]: the results exist only once the run has ended")
        raise typer.Exit(ExitCode.ERROR)
    key = api_key or _local_dev_key()
    if not key:
        console.print("[red]no API key[/]: pass --api-key or set SUPERTEST_API_KEY")
        raise typer.Exit(ExitCode.ERROR)
    headers = {"Authorization": f"Bearer {key}", "X-Supertest-Trigger": "cli"}
    base = server.rstrip("/")
    with httpx.Client(base_url=base, headers=headers, timeout=httpx.Timeout(30, read=None)) as client:
        if job:
            submitted = _submit_job(client, job, timeout_seconds)
            kind = "job"
        else:
            submitted = _submit(client, files, timeout_seconds)
            kind = "job" if len(files) > 1 else "test"
        run_id = submitted["runId"]
        console.print(f"[bold]{run_id}[/] queued")
        if not wait:
            typer.echo(run_id)
            raise typer.Exit(0)
        final = _follow(client, run_id, kind, quiet)
        _print_summary(final, base, run_id)
        if junit is not None:
            _write_junit(client, run_id, junit)
    raise typer.Exit(exit_code_for_phase(final.get("phase", Phase.ERROR)))


def _submit_job(client: httpx.Client, name: str, timeout_seconds: int | None) -> dict[str, Any]:
    """A stored job by id or exact name (a CI trigger key sees its own job only)."""
    listed = client.get("/api/jobs", params={"q": name})
    if listed.status_code >= 400:
        console.print(f"[red]could not look up job {name!r} ({listed.status_code})[/]: {_message(listed)}")
        raise typer.Exit(ExitCode.ERROR)
    items = listed.json().get("items", [])
    matches = [j for j in items if j.get("id") == name] or [j for j in items if j.get("name") == name]
    if len(matches) != 1:
        found = "no job" if not matches else f"{len(matches)} jobs"
        console.print(f"[red]{found} named {name!r}[/]; give the job's id instead")
        raise typer.Exit(ExitCode.ERROR)
    body: dict[str, Any] = {"timeoutSeconds": timeout_seconds} if timeout_seconds else {}
    response = client.post(f"/api/jobs/{matches[0]['id']}/run", json=body or None)
    if response.status_code >= 400:
        console.print(f"[red]rejected ({response.status_code})[/]: {_message(response)}")
        raise typer.Exit(ExitCode.ERROR)
    result: dict[str, Any] = response.json()
    return result


def _write_junit(client: httpx.Client, run_id: str, path: Path) -> None:
    run_body = client.get(f"/api/runs/{run_id}")
    run_doc: dict[str, Any] = run_body.json() if run_body.status_code == 200 else {"runId": run_id, "phase": "Error"}
    results: dict[str, Any] | None = None
    response = client.get(results_url(run_id, "results.json"), follow_redirects=True)
    if response.status_code == 200:
        try:
            results = response.json()
        except ValueError:
            results = None
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(junit_xml(run_doc, results), encoding="utf-8")
    console.print(f"JUnit XML: {path}")


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
