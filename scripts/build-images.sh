#!/usr/bin/env bash
# Build Supertest's container images without a Docker engine or an image registry: buildah builds the unchanged
# Dockerfiles on a Debian base made by mmdebstrap, and podman exports each image as an OCI archive that the test
# cluster's containerd imports (`ctr -n k8s.io images import`). Idempotent and cached outside the work tree.
#
#   scripts/build-images.sh              # build what is missing; print the env contract (below) on stdout
#   scripts/build-images.sh --print-env  # only compute and print it (no build; images may not exist yet)
#   scripts/build-images.sh --prune      # remove this script's tags and cached files other than this tree's current
#                                        # ones (explicit: another work tree sharing the store may still use them)
#
# Progress and timings go to stderr; stdout is only KEY=VALUE lines, for `eval`/a fixture to read:
#   SUPERTEST_IMAGE / SUPERTEST_IMAGE_ARCHIVE / SUPERTEST_IMAGE_ID   app image (Dockerfile): API+UI, operator, migrate
#   RUNNER_IMAGE    / RUNNER_IMAGE_ARCHIVE    / RUNNER_IMAGE_ID      per-run pod image (runner-image/Dockerfile)
#   PAUSE_IMAGE     / PAUSE_IMAGE_ARCHIVE     / PAUSE_IMAGE_ID       containerd's sandbox_image
#   BASE_IMAGE, CONTAINERS_CONF
# The same lines are written to $cache/current.env (the last build from any work tree; a fixture should prefer
# this script's stdout, which is always for the calling tree).
#
# Tags are localhost/<name>:<key>, key = a hash of every input of that image (its Dockerfile, the files it copies,
# the base image's key, this script's recipe version), so a tag never names two different builds and an image
# that exists is never rebuilt. No floating tag (:dev, :latest): two work trees sharing the cache would fight over it.
#
# Layout (${SUPERTEST_CACHE:-$HOME/.cache/supertest}/images):
#   base/debian-bookworm-<key>.tar       mmdebstrap minbase rootfs, imported as docker.io/library/debian:bookworm-slim
#   archives/<name>-<key>.oci.tar        `podman save --format oci-archive`
#   current.env                          the env contract of the last build
#
# Environment: SUPERTEST_DEBIAN_SOURCES (a sources file for the base image; default the host's
# /etc/apt/sources.list.d/debian.sources, else deb.debian.org), SUPERTEST_BUILD_CA (a CA bundle handed to
# curl/npm/pip inside the builds, for TLS-intercepting networks; default the host's bundle, "" for none),
# CONTAINERS_CONF (default scripts/images/containers.conf).
set -euo pipefail

# Bump when the way any image is made changes without a change to its inputs (e.g. new build flags).
RECIPE_VERSION=1
# Bump to pick up Debian (security) updates in the base image: its key otherwise only follows the sources config.
BASE_VERSION=1
SUITE=bookworm
BASE_IMAGE=docker.io/library/debian:bookworm-slim

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${SUPERTEST_CACHE:-$HOME/.cache/supertest}/images"
export CONTAINERS_CONF="${CONTAINERS_CONF:-$repo_root/scripts/images/containers.conf}"
# One build at a time per cache: parallel work trees (or a test and a bench) share buildah's storage and archives.
mkdir -p "$cache"
exec 8>"$cache/.build.lock"
flock 8

log() { echo "build-images: $*" >&2; }
die() {
  log "error: $*"
  exit 1
}

mode=build
case "${1:-}" in
  "") ;;
  --print-env) mode=print ;;
  --prune) mode=prune ;;
  -h | --help)
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
    exit 0
    ;;
  *) die "unknown argument: $1 (try --help)" ;;
esac

# --- timing --------------------------------------------------------------------------------------------------------
step_name=""
step_started=0
step() {
  step_name="$1"
  step_started=$(date +%s%N)
  log "[$step_name] $2"
}
step_done() {
  local tenths=$((($(date +%s%N) - step_started) / 100000000))
  log "[$step_name] $1 ($((tenths / 10)).$((tenths % 10)) s)"
}

# --- tools (installed by scripts/install-system-deps.sh; never here) -----------------------------------------------
if [[ $mode == build ]]; then
  for tool in buildah podman mmdebstrap gcc strip sha256sum; do
    command -v "$tool" >/dev/null || die "$tool is missing: run scripts/install-system-deps.sh (as root)"
  done
  [[ -f $CONTAINERS_CONF ]] || die "CONTAINERS_CONF=$CONTAINERS_CONF does not exist"
fi

# --- keys ------------------------------------------------------------------------------------------------------------
# A stable hash of files and folders (content and path), skipping what the .dockerignore files skip.
hash_inputs() {
  (cd "$repo_root" && find "$@" \( -name node_modules -o -name dist -o -name __pycache__ \) -prune -o \
    -type f ! -name '*.pyc' -print | LC_ALL=C sort | xargs -d '\n' sha256sum) | sha256sum | cut -c1-16
}
key_of() { printf '%s\n' "$@" | sha256sum | cut -c1-16; }

sources_file="${SUPERTEST_DEBIAN_SOURCES:-}"
if [[ -z $sources_file ]]; then
  if [[ -f /etc/apt/sources.list.d/debian.sources ]]; then
    sources_file=/etc/apt/sources.list.d/debian.sources
  else
    mkdir -p "$cache/base"
    sources_file="$cache/base/default.sources"
    printf '%s\n' "Types: deb" "URIs: http://deb.debian.org/debian" "Suites: $SUITE $SUITE-updates" \
      "Components: main" "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg" "" \
      "Types: deb" "URIs: http://deb.debian.org/debian-security" "Suites: $SUITE-security" \
      "Components: main" "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg" >"$sources_file"
  fi
fi
[[ -f $sources_file ]] || die "SUPERTEST_DEBIAN_SOURCES=$sources_file does not exist"

# minbase = Essential + apt. The merged-usr hook sets /usr up itself, so usrmerge (and with it perl, ~50 MB) stays
# out, as in the official image. Docs, man pages and translations are left out like the official slim image does.
MMDEBSTRAP_OPTS=(
  --variant=minbase --format=tar
  --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr
  --aptopt='APT::Install-Recommends "false"'
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright'
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*'
  --dpkgopt='path-exclude=/usr/share/locale/*'
)
base_key="$(key_of "base=$BASE_VERSION" "$SUITE" "${MMDEBSTRAP_OPTS[@]}" "$(cat "$sources_file")")"

app_key="$(key_of "recipe=$RECIPE_VERSION" "base=$base_key" "$(hash_inputs Dockerfile .dockerignore pyproject.toml \
  README.md supertest api operator runner-image/supertest_runner ui)")"
runner_key="$(key_of "recipe=$RECIPE_VERSION" "base=$base_key" "$(hash_inputs runner-image/Dockerfile \
  runner-image/Dockerfile.dockerignore .dockerignore pyproject.toml README.md supertest api operator \
  runner-image/supertest_runner runner-image/package.json runner-image/package-lock.json)")"
pause_key="$(key_of "recipe=$RECIPE_VERSION" "$(hash_inputs scripts/images/pause)")"

SUPERTEST_IMAGE="localhost/supertest:$app_key"
RUNNER_IMAGE="localhost/supertest-runner:$runner_key"
PAUSE_IMAGE="localhost/supertest-pause:$pause_key"
archive_of() { echo "$cache/archives/$1-$2.oci.tar"; }

image_id() { podman image inspect --format '{{.Id}}' "$1" 2>/dev/null || true; }

print_env() {
  cat <<EOF
SUPERTEST_IMAGE=$SUPERTEST_IMAGE
SUPERTEST_IMAGE_ARCHIVE=$(archive_of supertest "$app_key")
SUPERTEST_IMAGE_ID=$(image_id "$SUPERTEST_IMAGE")
RUNNER_IMAGE=$RUNNER_IMAGE
RUNNER_IMAGE_ARCHIVE=$(archive_of supertest-runner "$runner_key")
RUNNER_IMAGE_ID=$(image_id "$RUNNER_IMAGE")
PAUSE_IMAGE=$PAUSE_IMAGE
PAUSE_IMAGE_ARCHIVE=$(archive_of supertest-pause "$pause_key")
PAUSE_IMAGE_ID=$(image_id "$PAUSE_IMAGE")
BASE_IMAGE=$BASE_IMAGE
CONTAINERS_CONF=$CONTAINERS_CONF
EOF
}

if [[ $mode == print ]]; then
  print_env
  exit 0
fi

if [[ $mode == prune ]]; then
  for ref in $(podman images --format '{{.Repository}}:{{.Tag}}' \
    --filter reference=localhost/supertest --filter reference=localhost/supertest-runner \
    --filter reference=localhost/supertest-pause | sort -u); do
    case "$ref" in
      "$SUPERTEST_IMAGE" | "$RUNNER_IMAGE" | "$PAUSE_IMAGE") ;;
      *) podman rmi "$ref" >/dev/null && log "removed $ref" ;;
    esac
  done
  keep=("$(archive_of supertest "$app_key")" "$(archive_of supertest-runner "$runner_key")"
    "$(archive_of supertest-pause "$pause_key")" "$cache/base/debian-$SUITE-$base_key.tar")
  for file in "$cache"/archives/*.oci.tar "$cache"/base/debian-*.tar; do
    [[ -f $file ]] || continue
    [[ " ${keep[*]} " == *" $file "* ]] || { rm -f "$file" && log "removed $file"; }
  done
  # Untagged layers (buildah's --layers cache) are left alone: they may be any build's; `podman image prune` frees them.
  exit 0
fi

mkdir -p "$cache/base" "$cache/archives"
total_started=$SECONDS

# --- base image ------------------------------------------------------------------------------------------------------
base_tar="$cache/base/debian-$SUITE-$base_key.tar"
step base "debian $SUITE minbase from $sources_file (key $base_key)"
if [[ -f $base_tar ]]; then
  step_done "cached: $base_tar"
else
  tmp_tar="$(mktemp "$cache/base/.tmp-XXXXXX.tar")"
  trap 'rm -f "$tmp_tar"' EXIT
  mmdebstrap --quiet "${MMDEBSTRAP_OPTS[@]}" "$SUITE" "$tmp_tar" "$sources_file" >&2
  mv -f "$tmp_tar" "$base_tar"
  trap - EXIT
  step_done "built $base_tar ($(du -m "$base_tar" | cut -f1) MB)"
fi

# The label records which rootfs the tag holds, so a new base key re-imports (and every image key changes with it).
step base-import "$BASE_IMAGE"
if [[ "$(podman image inspect --format '{{index .Labels "dev.supertest.base-key"}}' "$BASE_IMAGE" 2>/dev/null)" == "$base_key" ]]; then
  step_done "cached"
else
  podman import --quiet --change "LABEL dev.supertest.base-key=$base_key" --change 'CMD ["bash"]' \
    "$base_tar" "$BASE_IMAGE" >/dev/null
  step_done "imported"
fi

# --- app and runner images -------------------------------------------------------------------------------------------
build_args=()
ca="${SUPERTEST_BUILD_CA-/etc/ssl/certs/ca-certificates.crt}"
if [[ -n $ca ]]; then
  [[ -f $ca ]] || die "SUPERTEST_BUILD_CA=$ca does not exist"
  # Mounted for RUN steps only, never copied: the Dockerfiles read these ARGs and leave them unset by default.
  build_args+=(-v "$ca:/run/host-ca.crt:ro")
  for arg in NPM_CONFIG_CAFILE PIP_CERT; do
    build_args+=(--build-arg "$arg=/run/host-ca.crt")
  done
fi

# --format docker: the OCI image config has no SHELL, so buildah would drop the Dockerfiles' `SHELL [... pipefail]`.
# --force-rm: a failed step's working container would otherwise stay mounted in the store (buildah accepts it only
# with --layers or --no-cache).
build_image() { # name tag dockerfile
  step "$1" "buildah bud -f $3 -t $2"
  if podman image exists "$2"; then
    step_done "cached"
    return
  fi
  buildah bud --quiet --isolation chroot --pull=never --layers --force-rm --format docker "${build_args[@]}" -f "$repo_root/$3" -t "$2" \
    "$repo_root" >&2
  step_done "built ($(podman image inspect --format '{{.Size}}' "$2" | awk '{printf "%d MB", $1/1e6}'))"
}
build_image app "$SUPERTEST_IMAGE" Dockerfile
build_image runner "$RUNNER_IMAGE" runner-image/Dockerfile

# --- pause image -----------------------------------------------------------------------------------------------------
step pause "gcc -static scripts/images/pause/pause.c, FROM scratch -t $PAUSE_IMAGE"
if podman image exists "$PAUSE_IMAGE"; then
  step_done "cached"
else
  ctx="$(mktemp -d)"
  trap 'rm -rf "$ctx"' EXIT
  gcc -Os -static -Wall -DVERSION=v3.10-supertest -o "$ctx/pause" "$repo_root/scripts/images/pause/pause.c"
  strip "$ctx/pause"
  buildah bud --quiet --isolation chroot --pull=never --layers --force-rm --format docker -f "$repo_root/scripts/images/pause/Dockerfile" \
    -t "$PAUSE_IMAGE" "$ctx" >&2
  rm -rf "$ctx"
  trap - EXIT
  step_done "built"
fi

# --- archives for containerd -----------------------------------------------------------------------------------------
save_image() { # name key ref
  local archive tmp
  archive="$(archive_of "$1" "$2")"
  step "save-$1" "podman save --format oci-archive $3"
  if [[ -f $archive ]]; then
    step_done "cached: $archive"
    return
  fi
  tmp="$(mktemp "$cache/archives/.tmp-XXXXXX.tar")"
  rm -f "$tmp" # podman save refuses to overwrite
  podman save --quiet --format oci-archive -o "$tmp" "$3"
  mv -f "$tmp" "$archive"
  step_done "saved $archive ($(du -m "$archive" | cut -f1) MB)"
}
save_image supertest "$app_key" "$SUPERTEST_IMAGE"
save_image supertest-runner "$runner_key" "$RUNNER_IMAGE"
save_image supertest-pause "$pause_key" "$PAUSE_IMAGE"

env_file="$cache/current.env"
print_env >"$env_file.tmp"
mv -f "$env_file.tmp" "$env_file"
log "done in $((SECONDS - total_started)) s; env: $env_file"
print_env
