#!/usr/bin/env bash
# Install the pinned Playwright Test (runner-image/package-lock.json) into a cache outside the work tree and
# make video work with Debian's ffmpeg. Idempotent; a fast no-op when the cache is already there.
#
#   eval "$(scripts/setup-playwright.sh | grep -E '^(SUPERTEST_PLAYWRIGHT_DIR|PLAYWRIGHT_BROWSERS_PATH)=')"
#
# Layout (the runner computes the same paths when the variables are unset, see supertest_runner/paths.py):
#   ${SUPERTEST_CACHE:-$HOME/.cache/supertest}/playwright/<sha256(lockfile)[:16]>/node_modules
#   ${PLAYWRIGHT_BROWSERS_PATH:-${SUPERTEST_CACHE:-$HOME/.cache/supertest}/ms-playwright}/ffmpeg-<rev>/ffmpeg-linux
set -euo pipefail

log() { echo "setup-playwright: $*" >&2; }
die() {
  log "error: $*"
  exit 1
}

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
pkg_dir="$repo_root/runner-image"
lockfile="$pkg_dir/package-lock.json"
[[ -f "$lockfile" ]] || die "missing $lockfile"
command -v node >/dev/null || die "node is not installed (Debian: apt-get install -y nodejs npm)"

cache_root="${SUPERTEST_CACHE:-$HOME/.cache/supertest}"
lock_hash="$(sha256sum "$lockfile" | cut -c1-16)"
pw_dir="$cache_root/playwright/$lock_hash"
browsers_path="${PLAYWRIGHT_BROWSERS_PATH:-$cache_root/ms-playwright}"
cli="$pw_dir/node_modules/@playwright/test/cli.js"

if [[ -f "$cli" ]]; then
  log "cached: $pw_dir"
else
  command -v npm >/dev/null || die "npm is not installed (Debian: apt-get install -y npm)"
  mkdir -p "$cache_root/playwright"
  # Install beside the final path, then rename: readers never see a half-populated node_modules, and
  # two concurrent setups each build their own copy and the loser throws its copy away.
  tmp="$(mktemp -d "$cache_root/playwright/.tmp-$lock_hash-XXXXXX")"
  chmod 755 "$tmp" # mktemp -d makes it 0700; the cache is shared with non-root users
  trap 'rm -rf "$tmp"' EXIT
  cp "$pkg_dir/package.json" "$lockfile" "$tmp/"
  log "npm ci @playwright/test into $pw_dir"
  # --ignore-scripts: no install hook may try to download a browser (impossible here).
  (cd "$tmp" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2)
  [[ -f "$tmp/node_modules/@playwright/test/cli.js" ]] || die "npm ci did not produce @playwright/test"
  if ! mv -T "$tmp" "$pw_dir" 2>/dev/null; then
    [[ -f "$cli" ]] || die "could not move $tmp to $pw_dir"
    log "another setup finished first; using its copy"
  fi
  trap - EXIT
  rm -rf "$tmp"
fi

browsers_json="$pw_dir/node_modules/playwright-core/browsers.json"
[[ -f "$browsers_json" ]] || die "missing $browsers_json"
# One node call reads everything we need: "<ffmpeg rev> <chromium rev> <chromium version>".
read -r ffmpeg_rev chromium_rev chromium_expected < <(
  node -e '
    const b = require(process.argv[1]).browsers;
    const get = (n) => b.find((x) => x.name === n) || {};
    console.log([get("ffmpeg").revision, get("chromium").revision, get("chromium").browserVersion].join(" "));
  ' "$browsers_json"
)
[[ -n "$ffmpeg_rev" ]] || die "no ffmpeg revision in $browsers_json"

ffmpeg_bin="$(command -v ffmpeg || true)"
if [[ -z "$ffmpeg_bin" ]]; then
  log "warning: ffmpeg not installed; video recording will fail (apt-get install -y ffmpeg)"
else
  link="$browsers_path/ffmpeg-$ffmpeg_rev/ffmpeg-linux"
  if [[ "$(readlink "$link" 2>/dev/null || true)" != "$ffmpeg_bin" ]]; then
    mkdir -p "$(dirname "$link")"
    ln -sfn "$ffmpeg_bin" "$link"
    log "linked $link -> $ffmpeg_bin"
  fi
fi

chromium_bin="${CHROMIUM_PATH:-/usr/bin/chromium}"
if [[ -x "$chromium_bin" ]]; then
  # Debian's wrapper script prints shell noise on stderr; only the version line matters.
  installed="$("$chromium_bin" --version 2>/dev/null | head -n1 || true)"
else
  installed="not installed at $chromium_bin (apt-get install -y chromium)"
fi
log "chromium installed: ${installed:-unknown}"
log "playwright expects: chromium $chromium_expected (revision $chromium_rev), ffmpeg revision $ffmpeg_rev"
installed_major="$(grep -oE '[0-9]+\.[0-9.]+' <<<"$installed" | head -n1 | cut -d. -f1 || true)"
if [[ -n "$installed_major" && "$installed_major" != "${chromium_expected%%.*}" ]]; then
  log "warning: chromium major $installed_major differs from the pinned Playwright's ${chromium_expected%%.*};" \
    "pin the @playwright/test release that matches (see shared notes)"
fi

echo "SUPERTEST_PLAYWRIGHT_DIR=$pw_dir"
echo "PLAYWRIGHT_BROWSERS_PATH=$browsers_path"
