from __future__ import annotations

import typer

from supertest.cli import apikey, dev, migrate, operate, run, serve

app = typer.Typer(
    name="supertest",
    help="Supertest: run Playwright browser tests locally or on Kubernetes.",
    no_args_is_help=True,
    add_completion=False,
)
app.command("dev", help=dev.HELP)(dev.dev)
app.command("api", help=serve.API_HELP)(serve.api)
app.command("artifacts", help=serve.ARTIFACTS_HELP)(serve.artifacts)
app.command("operator", help=operate.HELP)(operate.operator)
app.command("migrate", help=migrate.HELP)(migrate.migrate)
app.command("run", help=run.HELP)(run.run)
app.add_typer(apikey.app, name="apikey", help=apikey.HELP)

if __name__ == "__main__":
    app()
