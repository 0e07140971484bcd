#!/usr/bin/env bash
# Builds the helm v3 CLI from the Go module proxy, for the version pinned in the committed wrapper module
# tests/k8s/go/helm/ (go.mod + go.sum; its go.mod is the one source of truth for the version). Helm's go.mod has
# no replace directives, but `go install helm@vX` would resolve go.sum against the checksum database at build
# time; the wrapper pins every dependency's hash in the repo instead.
#
# Output (outside the work tree, keyed by version):
#   ${SUPERTEST_CACHE:-$HOME/.cache/supertest}/helm/<helm-version>/bin/helm
# A second run only checks the binary and the stamp file: no go command runs.
# The Go module and build caches are shared with build-binaries.sh, so a retried build after a failure is
# incremental. On failure the script exits non-zero with "[helm] FAILED: <step>".
# The last line of stdout is the binary's path (all logging goes to stderr).
# To bump: cd tests/k8s/go/helm && GOFLAGS=-mod=mod go get helm.sh/helm/v3@vX && go mod tidy.
set -Eeuo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
mod_dir="$here/go/helm"

log() { echo "[helm] $*" >&2; }

# Parsed from go.mod without the go command, so that a warm run stays well under a second.
helm_version="$(awk '$1 == "require" && $2 == "helm.sh/helm/v3" {print $3} $1 == "helm.sh/helm/v3" {print $2}' \
  "$mod_dir/go.mod" | head -n1)"
client_go_version="$(awk '$1 == "k8s.io/client-go" {print $2}' "$mod_dir/go.mod" | head -n1)"
if [[ -z "$helm_version" || -z "$client_go_version" ]]; then
  log "FAILED: reading helm.sh/helm/v3 and k8s.io/client-go versions from $mod_dir/go.mod"
  exit 1
fi

cache_root="${SUPERTEST_CACHE:-$HOME/.cache/supertest}"
out_dir="$cache_root/helm/$helm_version"
bin_dir="$out_dir/bin"
stamp_line="helm=$helm_version client-go=$client_go_version"

is_complete() {
  [[ -f "$bin_dir/.stamp" && "$(cat "$bin_dir/.stamp")" == "$stamp_line" && -x "$bin_dir/helm" ]]
}

if is_complete; then
  log "helm $helm_version is cached in $bin_dir"
  echo "$bin_dir/helm"
  exit 0
fi

step="setup"
# Subshells inherit the trap (set -E): only the main shell reports, once.
trap 'rc=$?; [[ $BASHPID == $$ ]] && log "FAILED: $step (exit code $rc)"; exit $rc' ERR

mkdir -p "$out_dir"
# Serialise concurrent builds (two pytest sessions on a fresh machine); the loser finds the cache complete.
exec 9>"$out_dir/.lock"
step="waiting for the build lock $out_dir/.lock"
flock 9
if is_complete; then
  log "helm $helm_version was built by a concurrent run: $bin_dir"
  echo "$bin_dir/helm"
  exit 0
fi

step="locating Go"
go_bin="$(command -v go || true)"
[[ -n "$go_bin" ]] || go_bin=/usr/local/go/bin/go
[[ -x "$go_bin" ]] || { log "FAILED: $step: no go binary on PATH nor at /usr/local/go/bin/go"; exit 1; }
export GOPATH="$cache_root/go" GOCACHE="$cache_root/go-build"
export CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS="-mod=readonly -buildvcs=false"
log "using $("$go_bin" version) with GOPATH=$GOPATH"

tmp_dir="$(mktemp -d "$out_dir/bin.tmp.XXXXXX")"
chmod 755 "$tmp_dir"
trap 'rm -rf "$tmp_dir"' EXIT

# As helm's Makefile does: the version string, and the default Kubernetes version that `helm template` and
# `helm lint` assume (client-go v0.N.P -> Kubernetes 1.N) instead of the source's stale v1.20 default.
cg="${client_go_version#v0.}"
k8s_minor="${cg%%.*}"
ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$helm_version"
ldflags+=" -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
for pkg in helm.sh/helm/v3/pkg/chartutil helm.sh/helm/v3/pkg/lint/rules; do
  ldflags+=" -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$k8s_minor"
done

step="downloading helm $helm_version modules from the Go proxy"
log "$step ..."
(cd "$mod_dir" && "$go_bin" mod download)

step="building helm $helm_version"
log "$step (a cold build takes minutes on 2 cores) ..."
(cd "$mod_dir" && "$go_bin" build -trimpath -ldflags "$ldflags" -o "$tmp_dir/helm" helm.sh/helm/v3/cmd/helm)

step="verifying the built binary"
log "$step ..."
"$tmp_dir/helm" version --short | grep -qF "$helm_version"
echo "$stamp_line" >"$tmp_dir/.stamp"

# Publish atomically: a killed build leaves only a bin.tmp.* dir, never a bin/ that looks complete.
step="publishing $bin_dir"
rm -rf "$bin_dir"
mv -T "$tmp_dir" "$bin_dir"
rm -rf "$out_dir"/bin.tmp.*
log "done: $bin_dir"
echo "$bin_dir/helm"
