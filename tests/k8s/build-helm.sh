#!/usr/bin/env bash
# Builds the helm v3 CLI from the Go module proxy, for the version pinned in the committed wrapper module
# tests/k8s/go/helm/ (go.mod + go.sum; its go.mod is the one source of truth for the version). Helm's go.mod has
# no replace directives; the wrapper pins go.sum (see build-go-tool.sh, which does the build, caching and locking).
#
# Output (outside the work tree, keyed by version):
#   ${SUPERTEST_CACHE:-$HOME/.cache/supertest}/helm/<helm-version>/bin/helm
# A second run only checks the binary and the stamp file: no go command runs.
# On failure the script exits non-zero with "[helm] FAILED: <step>".
# The last line of stdout is the binary's path (all logging goes to stderr).
# To bump: cd tests/k8s/go/helm && GOFLAGS=-mod=mod go get helm.sh/helm/v3@vX && go mod tidy.
set -Eeuo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
mod_dir="$here/go/helm"

# Parsed from go.mod without the go command, so that a warm run stays well under a second.
helm_version="$(awk '$1 == "require" && $2 == "helm.sh/helm/v3" {print $3} $1 == "helm.sh/helm/v3" {print $2}' \
  "$mod_dir/go.mod" | head -n1)"
client_go_version="$(awk '$1 == "k8s.io/client-go" {print $2}' "$mod_dir/go.mod" | head -n1)"
if [[ -z "$helm_version" || -z "$client_go_version" ]]; then
  echo "[helm] FAILED: reading helm.sh/helm/v3 and k8s.io/client-go versions from $mod_dir/go.mod" >&2
  exit 1
fi

# As helm's Makefile does: the version string, and the default Kubernetes version that `helm template` and
# `helm lint` assume (client-go v0.N.P -> Kubernetes 1.N) instead of the source's stale v1.20 default.
cg="${client_go_version#v0.}"
k8s_minor="${cg%%.*}"
ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$helm_version"
ldflags+=" -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
for pkg in helm.sh/helm/v3/pkg/chartutil helm.sh/helm/v3/pkg/lint/rules; do
  ldflags+=" -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$k8s_minor"
done

exec bash "$here/build-go-tool.sh" helm "$helm_version" "$mod_dir" helm.sh/helm/v3/cmd/helm \
  "helm=$helm_version client-go=$client_go_version" "$ldflags" version --short
