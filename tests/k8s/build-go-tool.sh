#!/usr/bin/env bash
# Builds one Go command-line tool from the Go module proxy, pinned by a committed wrapper module (go.mod + go.sum:
# `go install tool@vX` would resolve go.sum against the checksum database at build time; the wrapper pins every
# dependency's hash in the repo instead). Called by build-helm.sh and build-helm-docs.sh, which know the tool's
# version, ldflags and how to ask the binary its version:
#   build-go-tool.sh NAME VERSION MODULE_DIR MAIN_PACKAGE STAMP LDFLAGS VERIFY_ARG...
#
# Output (outside the work tree, keyed by version):
#   ${SUPERTEST_CACHE:-$HOME/.cache/supertest}/NAME/VERSION/bin/NAME
# A second run only checks the binary and the stamp file (STAMP, which names every input that changes the build):
# no go command runs. The Go module and build caches are shared with build-binaries.sh, so a retried build after
# a failure is incremental. On failure the script exits non-zero with "[NAME] FAILED: <step>".
# The last line of stdout is the binary's path (all logging goes to stderr).
set -Eeuo pipefail

if (($# < 7)); then
  echo "usage: build-go-tool.sh NAME VERSION MODULE_DIR MAIN_PACKAGE STAMP LDFLAGS VERIFY_ARG..." >&2
  exit 2
fi
name="$1" version="$2" mod_dir="$3" main_pkg="$4" stamp_line="$5" ldflags="$6"
shift 6
verify_args=("$@")

log() { echo "[$name] $*" >&2; }

cache_root="${SUPERTEST_CACHE:-$HOME/.cache/supertest}"
out_dir="$cache_root/$name/$version"
bin_dir="$out_dir/bin"

is_complete() {
  [[ -f "$bin_dir/.stamp" && "$(cat "$bin_dir/.stamp")" == "$stamp_line" && -x "$bin_dir/$name" ]]
}

if is_complete; then
  log "$name $version is cached in $bin_dir"
  echo "$bin_dir/$name"
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
  log "$name $version was built by a concurrent run: $bin_dir"
  echo "$bin_dir/$name"
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

step="downloading $name $version modules from the Go proxy"
log "$step ..."
(cd "$mod_dir" && "$go_bin" mod download)

step="building $name $version"
log "$step (a cold build takes minutes on 2 cores) ..."
(cd "$mod_dir" && "$go_bin" build -trimpath -ldflags "$ldflags" -o "$tmp_dir/$name" "$main_pkg")

step="verifying the built binary"
log "$step ..."
"$tmp_dir/$name" "${verify_args[@]}" | grep -qF "${version#v}"
echo "$stamp_line" >"$tmp_dir/.stamp"

# Publish atomically: a killed build leaves only a bin.tmp.* dir, never a bin/ that looks complete.
step="publishing $bin_dir"
rm -rf "$bin_dir"
mv -T "$tmp_dir" "$bin_dir"
rm -rf "$out_dir"/bin.tmp.*
log "done: $bin_dir"
echo "$bin_dir/$name"
