#!/usr/bin/env bash
# The web UI's API types, generated from the API's own OpenAPI schema by openapi-typescript (pinned in
# ui/package.json), so the UI and the API cannot describe the wire differently.
#
#   scripts/gen-ui-types.sh           # rewrite ui/src/api/schema.d.ts
#   scripts/gen-ui-types.sh --check   # fail when the committed file differs from what the schema gives (CI)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$root/ui/src/api/schema.d.ts"
# The node_modules scripts/build-ui.sh installs for this lockfile (it installs them when missing).
deps="${SUPERTEST_CACHE:-$HOME/.cache/supertest}/ui/deps-$(sha256sum "$root/ui/package-lock.json" | cut -c1-16)/node_modules"
[[ -f "$deps/openapi-typescript/bin/cli.js" ]] || bash "$root/scripts/build-ui.sh" >&2

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
# The schema of an app that is built but never started: no database, bus or cluster is needed.
SUPERTEST_HOME="$tmp/home" RUN_BACKEND=local "$root/.venv/bin/python" -c '
import json, sys
from supertest_api.app import create_app
json.dump(create_app().openapi(), sys.stdout, indent=1, sort_keys=True)
' >"$tmp/openapi.json"
node "$deps/openapi-typescript/bin/cli.js" "$tmp/openapi.json" --output "$tmp/schema.d.ts" >&2

if [[ "${1:-}" == "--check" ]]; then
  if ! diff -u "$out" "$tmp/schema.d.ts" >&2; then
    echo "gen-ui-types: ui/src/api/schema.d.ts is not what the API's OpenAPI schema gives;" \
      "run scripts/gen-ui-types.sh and commit the result" >&2
    exit 1
  fi
  echo "gen-ui-types: ui/src/api/schema.d.ts matches the OpenAPI schema" >&2
else
  cp "$tmp/schema.d.ts" "$out"
  echo "gen-ui-types: wrote $out" >&2
fi
