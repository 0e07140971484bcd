#!/usr/bin/env bash
# Build the web UI (ui/: Preact + CodeMirror 6, bundled by Vite) into a cache outside the work tree, keyed by a
# hash of the UI sources and lockfile, and point the API at it. A fast no-op when that build is cached.
#
#   scripts/build-ui.sh            # build if needed, then link api/supertest_api/ui/dist -> the cached build
#   scripts/build-ui.sh --print    # only print the cache directory the current sources build into
#
# Layout:
#   ${SUPERTEST_CACHE:-$HOME/.cache/supertest}/ui/deps-<sha256(lockfile)[:16]>/node_modules   npm ci, once per lock
#   ${SUPERTEST_CACHE:-$HOME/.cache/supertest}/ui/build-<sha256(sources+lock)[:16]>/           index.html, assets/
# Built assets are not committed: they are a pure function of ui/, and the API shows a "not built" page
# (503, naming this script) when the link is missing.
set -euo pipefail

log() { echo "build-ui: $*" >&2; }
die() {
  log "error: $*"
  exit 1
}

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
src="$repo_root/ui"
link="$repo_root/api/supertest_api/ui/dist"
cache_root="${SUPERTEST_CACHE:-$HOME/.cache/supertest}/ui"
[[ -f "$src/package-lock.json" ]] || die "missing $src/package-lock.json"

# Every file that can change the bundle, by content and path; node_modules and editor litter excluded.
source_hash() {
  (cd "$src" && find . \( -name node_modules -o -name dist \) -prune -o -type f \
    \( -name '*.ts' -o -name '*.tsx' -o -name '*.css' -o -name '*.html' -o -name '*.json' -o -name '*.svg' \) -print |
    LC_ALL=C sort | xargs sha256sum) | sha256sum | cut -c1-16
}
build_dir="$cache_root/build-$(source_hash)"
if [[ "${1:-}" == "--print" ]]; then
  echo "$build_dir"
  exit 0
fi

if [[ -f "$build_dir/index.html" ]]; then
  log "cached: $build_dir"
else
  command -v node >/dev/null || die "node is not installed (Debian: apt-get install -y nodejs npm)"
  command -v npm >/dev/null || die "npm is not installed (Debian: apt-get install -y npm)"
  mkdir -p "$cache_root"
  started=$SECONDS

  deps_dir="$cache_root/deps-$(sha256sum "$src/package-lock.json" | cut -c1-16)"
  if [[ ! -d "$deps_dir/node_modules" ]]; then
    tmp_deps="$(mktemp -d "$cache_root/.tmp-deps-XXXXXX")"
    trap 'rm -rf "$tmp_deps"' EXIT
    cp "$src/package.json" "$src/package-lock.json" "$tmp_deps/"
    log "npm ci into $deps_dir"
    # --ignore-scripts: esbuild/rollup ship their binaries as optional dependencies; no install hook is needed.
    (cd "$tmp_deps" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2)
    # Rename into place: readers never see a half-populated node_modules; a concurrent loser drops its copy.
    mv -T "$tmp_deps" "$deps_dir" 2>/dev/null || [[ -d "$deps_dir/node_modules" ]] || die "could not place $deps_dir"
    rm -rf "$tmp_deps"
    trap - EXIT
  fi

  # Build from a copy of the sources, so the work tree never gets a node_modules or dist of its own.
  work="$(mktemp -d "$cache_root/.tmp-build-XXXXXX")"
  trap 'rm -rf "$work"' EXIT
  tar -C "$src" --exclude=./node_modules --exclude=./dist -cf - . | tar -C "$work" -xf -
  ln -s "$deps_dir/node_modules" "$work/node_modules"
  log "type-check and bundle"
  (cd "$work" && node node_modules/typescript/bin/tsc --noEmit -p . >&2 &&
    node node_modules/vite/bin/vite.js build --logLevel warn --outDir "$work/dist" >&2)
  [[ -f "$work/dist/index.html" ]] || die "vite produced no index.html"
  chmod -R a+rX "$work/dist"
  mv -T "$work/dist" "$build_dir" 2>/dev/null || [[ -f "$build_dir/index.html" ]] || die "could not place $build_dir"
  rm -rf "$work"
  trap - EXIT
  log "built $build_dir in $((SECONDS - started))s"
fi

# The API serves api/supertest_api/ui/dist (or $SUPERTEST_UI_DIR); a symlink keeps the tree free of built files.
if [[ "$(readlink "$link" 2>/dev/null || true)" != "$build_dir" ]]; then
  if [[ -e "$link" && ! -L "$link" ]]; then
    die "$link exists and is not a symlink; remove it (built assets live in the cache)"
  fi
  ln -sfn "$build_dir" "$link"
  log "linked $link -> $build_dir"
fi
