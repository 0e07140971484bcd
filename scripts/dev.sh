#!/usr/bin/env bash
# The newcomer's first command: set up this machine, then start Supertest in local mode.
#   ./scripts/dev.sh [--host H] [--port P] [--no-browser]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/bootstrap.sh"
printf '\n\033[1m==> starting supertest dev\033[0m\n'
exec "$ROOT/.venv/bin/supertest" dev "$@"
