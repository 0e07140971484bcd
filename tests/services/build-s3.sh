#!/usr/bin/env bash
# Build the S3-compatible test server (versitygw) from the Go module proxy and cache it outside the
# work tree, keyed by version:
#   ${SUPERTEST_CACHE:-$HOME/.cache/supertest}/s3/versitygw-<version>/bin/versitygw
#
# Usage: build-s3.sh [--print-path]
#   Progress goes to stderr; stdout carries one line, the binary's absolute path, so callers
#   (tests/services/s3.py) need not know the version or the cache layout.
#   --print-path prints that path without building.
# Env: SUPERTEST_CACHE, SUPERTEST_VERSITYGW_VERSION (default below), GO (default /usr/local/go/bin/go).
set -Eeuo pipefail

NAME=versitygw
MODULE=github.com/versity/versitygw
# Latest tag the Go proxy serves (`go list -m -versions github.com/versity/versitygw`).
VERSION="${SUPERTEST_VERSITYGW_VERSION:-v1.8.0}"
GO="${GO:-/usr/local/go/bin/go}"
CACHE_ROOT="${SUPERTEST_CACHE:-$HOME/.cache/supertest}"
DEST="$CACHE_ROOT/s3/$NAME-$VERSION"
BIN="$DEST/bin/$NAME"

step="start"
tmp=""
log() { echo "build-s3: $*" >&2; }
on_error() { log "FAILED at step '$step' (exit $1)"; }
cleanup() { if [[ -n "$tmp" && -d "$tmp" ]]; then rm -rf "$tmp"; fi; }
trap 'on_error $?' ERR
trap cleanup EXIT

if [[ "${1:-}" == "--print-path" ]]; then
  echo "$BIN"
  exit 0
fi

# Fast path: the directory is renamed into place only after a successful build, so existence == complete.
if [[ -x "$BIN" ]]; then
  log "cached: $BIN"
  echo "$BIN"
  exit 0
fi

step="lock"
mkdir -p "$CACHE_ROOT/s3"
# Serialise concurrent builders (parallel pytest workers, two shells); the loser finds the binary built.
exec 9>"$CACHE_ROOT/s3/.$NAME-$VERSION.lock"
flock 9
if [[ -x "$BIN" ]]; then
  log "built by a concurrent run: $BIN"
  echo "$BIN"
  exit 0
fi
# Holding the lock, any temp dir for this version is a leftover of a killed build.
rm -rf "$CACHE_ROOT/s3/.tmp-$NAME-$VERSION".*

step="check go toolchain ($GO)"
log "$step"
[[ -x "$GO" ]] || { log "no Go toolchain at $GO"; false; }
"$GO" version >&2

# Caches under the cache root so a retry after a network failure resumes instead of starting over.
export GOPATH="$CACHE_ROOT/go"
export GOMODCACHE="$CACHE_ROOT/go/pkg/mod"
export GOCACHE="$CACHE_ROOT/go-build"
export GOTOOLCHAIN=local      # never fetch a different toolchain behind our back
export CGO_ENABLED=0          # static binary; no C toolchain needed
export GOFLAGS="-modcacherw -buildvcs=false"  # -modcacherw: the cache stays deletable with rm -rf

step="download $MODULE@$VERSION from ${GOPROXY:-$("$GO" env GOPROXY)}"
log "$step"
"$GO" mod download "$MODULE@$VERSION"

step="compile $MODULE/cmd/$NAME@$VERSION"
log "$step (cold: a few minutes)"
tmp="$(mktemp -d "$CACHE_ROOT/s3/.tmp-$NAME-$VERSION.XXXXXX")"
chmod 755 "$tmp"  # mktemp makes it 0700
started=$SECONDS
GOBIN="$tmp/bin" "$GO" install -trimpath \
  -ldflags "-s -w -X main.Version=$VERSION -X main.Build=goproxy -X main.BuildTime=$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
  "$MODULE/cmd/$NAME@$VERSION"
log "compiled in $((SECONDS - started))s"

step="smoke-test the binary"
log "$step"
"$tmp/bin/$NAME" --version >&2
printf 'module=%s\nversion=%s\ngo=%s\n' "$MODULE" "$VERSION" "$("$GO" env GOVERSION)" >"$tmp/BUILDINFO"

step="install into $DEST"
log "$step"
rm -rf "$DEST"  # only a hand-made leftover can be here: complete builds took the fast path above
mv -T "$tmp" "$DEST"
tmp=""
log "done: $BIN"
echo "$BIN"
