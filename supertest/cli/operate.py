from __future__ import annotations

HELP = (
    "Run the Kubernetes operator: admits TestRuns and JobRuns into pods up to RUNNING_CAPACITY, serves the "
    "queued-capacity admission webhook, mirrors status into Postgres and applies TTL and retention. "
    "Configured by environment variables (see the README); invalid settings exit with code 2."
)


def operator() -> None:
    from supertest_operator.entry import run

    run()
