#!/usr/bin/env bash
# Sets up this machine and runs every check: lint, types, import contracts, then all test tiers.
#   ./scripts/test.sh [extra pytest args]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
source "$ROOT/scripts/bootstrap.sh"

step "cluster binaries (etcd, kube-apiserver, kube-controller-manager, kubectl; kubelet, kube-scheduler, kube-proxy, CoreDNS)"
time bash tests/k8s/build-binaries.sh

step "helm"
time bash tests/k8s/build-helm.sh

step "helm-docs (the chart README generator)"
time bash tests/k8s/build-helm-docs.sh

step "S3-compatible server"
time bash tests/services/build-s3.sh

step "images (base by mmdebstrap; app, runner and pause by buildah; OCI archives for containerd)"
time bash scripts/build-images.sh >/dev/null

step "ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .

step "mypy (strict on our packages)"
.venv/bin/mypy

step "import contracts (layers, independence, no import cycles)"
.venv/bin/lint-imports

step "UI API types match the OpenAPI schema (openapi-typescript)"
bash scripts/gen-ui-types.sh --check

step "pytest: unit, integration, e2e, faults"
# The slowest tests are listed at the end: CI has a time budget, and this is where to look when it grows.
.venv/bin/python -m pytest tests --durations=40 "$@"
