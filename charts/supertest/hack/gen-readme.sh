#!/usr/bin/env bash
# Generates charts/supertest/README.md with helm-docs (built from the Go module proxy by tests/k8s/build-helm-docs.sh)
# from hack/README.md.gotmpl (the prose) and the `# --` comments of values.yaml (the values table, in file order).
#   bash charts/supertest/hack/gen-readme.sh          # rewrite README.md
#   bash charts/supertest/hack/gen-readme.sh --check  # exit 1 (and show the diff) if README.md is stale
set -euo pipefail
chart="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
helm_docs="$(bash "$chart/../../tests/k8s/build-helm-docs.sh" | tail -n1)"
args=(--chart-search-root "$chart" --template-files hack/README.md.gotmpl --sort-values-order file
  --skip-version-footer --log-level warning)
if [[ "${1:-}" == "--check" ]]; then
  if ! diff -u "$chart/README.md" <("$helm_docs" "${args[@]}" --dry-run); then
    echo "charts/supertest/README.md is stale: run bash charts/supertest/hack/gen-readme.sh" >&2
    exit 1
  fi
else
  "$helm_docs" "${args[@]}"
fi
