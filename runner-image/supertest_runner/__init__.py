"""The per-run pod entrypoint: materialise scripts, run Playwright, upload artifacts, publish events, exit."""
