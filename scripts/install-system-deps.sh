#!/usr/bin/env bash
# Install the Debian packages the test suite runs for real: Postgres and Redis servers (started by the
# tests themselves, see tests/services/), Chromium for Playwright, ffmpeg for Playwright's video.
# For Debian bookworm as root; idempotent, and a fast no-op when everything is already installed.
set -euo pipefail

PACKAGES=(
  postgresql       # initdb/postgres under /usr/lib/postgresql/<ver>/bin
  redis-server
  chromium         # Playwright drives /usr/bin/chromium (no browser download possible)
  ffmpeg           # stands in for Playwright's own ffmpeg build (video recording)
  fonts-liberation # readable text in screenshots and reports
  ca-certificates  # HTTPS to the Go module proxy (tests/services/build-s3.sh)
  util-linux       # runuser (Postgres refuses root) and flock
  attr             # setfattr/getfattr, to diagnose user-xattr support for the S3 server's metadata
  # Images and the real-kubelet cluster (scripts/build-images.sh, tests/k8s): no Docker engine, no image registry.
  buildah          # builds the Dockerfiles (--isolation chroot, --pull=never)
  podman           # image store queries, `podman save` to OCI archives, the image tests' `podman run`
  runc             # the OCI runtime for podman/buildah and containerd (crun refuses cgroup v1 hybrid hosts)
  containerd       # the test cluster's container runtime (kubelet CRI)
  containernetworking-plugins  # bridge, host-local and loopback CNI plugins (/usr/lib/cni) for the real node's pods
  mmdebstrap       # makes the debian:bookworm-slim base image from apt (no image pulls possible)
  skopeo           # inspects/copies OCI archives when debugging an import
  umoci            # unpacks OCI images for inspection without a runtime
  conntrack        # kubelet/kube-proxy need it on the node
  iptables         # kubelet's KUBE-* chains and the CNI bridge's rules
  gcc              # links the pause image's pause.c statically
  libc6-dev        # the static libc for that link
)

log() { echo "install-system-deps: $*"; }

if [[ "$(id -u)" -ne 0 ]]; then
  log "must run as root (apt-get install)" >&2
  exit 1
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
  # dpkg -s succeeds for removed-but-configured packages too; require the "installed" state.
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

if ((${#missing[@]} == 0)); then
  log "all present: ${PACKAGES[*]}"
else
  log "missing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  log "apt-get update"
  apt-get update -q
  log "apt-get install -y ${missing[*]}"
  apt-get install -y -q "${missing[@]}"
fi

log "postgres: $(ls -d /usr/lib/postgresql/*/bin/postgres | sort -V | tail -n 1)"
log "redis: $(redis-server --version)"
log "chromium: $(chromium --version 2>/dev/null || echo 'chromium --version failed')"
log "ffmpeg: $(ffmpeg -version | head -n 1)"
