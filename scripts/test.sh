#!/usr/bin/env bash
# Sets up this machine and runs every check: lint, types, import contracts, then all test tiers.
#   ./scripts/test.sh [extra pytest args]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# Not under /tmp: every run pod of the node-agent e2e tier mounts an emptyDir at /tmp, and the node agent rewrites
# every path of a pod's env under a mount path to the pod's own volume, so the Playwright install in the cache would
# vanish from the runners (they end in Error: "Playwright Test is not installed").
case "${SUPERTEST_CACHE:-$HOME/.cache/supertest}/" in
  /tmp/*)
    echo "test.sh: SUPERTEST_CACHE=$SUPERTEST_CACHE is under /tmp, which the e2e tier's run pods mount; use another directory" >&2
    exit 2
    ;;
esac
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

# The slowest tests are listed at the end: CI has a time budget, and this is where to look when it grows.
for arg in "$@"; do
  if [[ "$arg" != -* ]]; then  # a path or a test id: one pytest run, of just that
    step "pytest: $*"
    exec .venv/bin/python -m pytest --durations=40 "$@"
  fi
done

# The real-kubelet tier runs in a second pytest process, alongside the unit and integration tiers: most of its
# time is waiting (a node starting, images loading into containerd, a TestJob's minute ticks), and no other tier
# touches the host state it changes and checks (links, iptables, mounts, cgroups). The e2e and fault tiers, which
# are sensitive to a busy machine, start after; its output is printed when both have finished.
kubelet_log="$(mktemp -t supertest-kubelet-tier.XXXXXX)"
.venv/bin/python -m pytest tests/e2e/kubelet -p no:cacheprovider --durations=10 "$@" >"$kubelet_log" 2>&1 &
kubelet_pid=$!
step "pytest: unit, integration, UI, e2e, faults (the real-kubelet tier alongside)"
main_rc=0
.venv/bin/python -m pytest tests/unit tests/integration tests/e2e_ui tests/e2e tests/faults \
  --ignore=tests/e2e/kubelet --durations=40 "$@" || main_rc=$?
kubelet_rc=0
wait "$kubelet_pid" || kubelet_rc=$?
step "pytest: the real-kubelet tier (ran alongside; exit $kubelet_rc)"
cat "$kubelet_log"
rm -f "$kubelet_log"
if [ "$main_rc" -ne 0 ] || [ "$kubelet_rc" -ne 0 ]; then
  echo "tests failed: main run exit $main_rc, real-kubelet tier exit $kubelet_rc" >&2
  exit 1
fi
