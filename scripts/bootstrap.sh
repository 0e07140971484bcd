#!/usr/bin/env bash
# Sets up everything Supertest needs on a fresh Debian machine; safe to re-run (each step is cached).
# Sourced by dev.sh and test.sh so that the exports below reach them.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export SUPERTEST_CACHE="${SUPERTEST_CACHE:-$HOME/.cache/supertest}"

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "system packages (postgresql, redis, chromium, ffmpeg)"
bash "$ROOT/scripts/install-system-deps.sh"

step "python environment (.venv)"
if [ ! -x "$ROOT/.venv/bin/python" ]; then
  python3 -m venv "$ROOT/.venv"
fi
# The stamp keys the install on pyproject.toml, so an unchanged tree skips pip entirely.
stamp="$ROOT/.venv/.installed-$(sha256sum "$ROOT/pyproject.toml" | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  "$ROOT/.venv/bin/pip" install -q --upgrade pip
  "$ROOT/.venv/bin/pip" install -q -e "$ROOT[dev]"
  touch "$stamp"
else
  echo "up to date"
fi

step "playwright (pinned @playwright/test, Debian chromium, ffmpeg for video)"
eval "$(bash "$ROOT/scripts/setup-playwright.sh" | tee /dev/stderr | grep -E '^(SUPERTEST_PLAYWRIGHT_DIR|PLAYWRIGHT_BROWSERS_PATH)=' | sed 's/^/export /')"

step "web UI (Vite build of ui/, cached by source hash)"
bash "$ROOT/scripts/build-ui.sh"
