#!/usr/bin/env bash
# Builds helm-docs (which generates charts/supertest/README.md from values.yaml's `# --` comments and
# charts/supertest/README.md.gotmpl) from the Go module proxy, for the version pinned in the committed wrapper
# module tests/k8s/go/helm-docs/ (go.mod + go.sum; its go.mod is the one source of truth for the version).
# build-go-tool.sh does the build, caching and locking.
#
# Output (outside the work tree, keyed by version):
#   ${SUPERTEST_CACHE:-$HOME/.cache/supertest}/helm-docs/<version>/bin/helm-docs
# A second run only checks the binary and the stamp file: no go command runs.
# The last line of stdout is the binary's path (all logging goes to stderr).
# To bump: cd tests/k8s/go/helm-docs && GOFLAGS=-mod=mod go get github.com/norwoodj/helm-docs@vX && go mod tidy.
set -Eeuo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
mod_dir="$here/go/helm-docs"

# Parsed from go.mod without the go command, so that a warm run stays well under a second.
version="$(awk '$1 == "require" && $2 == "github.com/norwoodj/helm-docs" {print $3}
  $1 == "github.com/norwoodj/helm-docs" {print $2}' "$mod_dir/go.mod" | head -n1)"
if [[ -z "$version" ]]; then
  echo "[helm-docs] FAILED: reading the github.com/norwoodj/helm-docs version from $mod_dir/go.mod" >&2
  exit 1
fi

# helm-docs prints its version (set by its release build the same way) in `--version` and in the README footer.
exec bash "$here/build-go-tool.sh" helm-docs "$version" "$mod_dir" github.com/norwoodj/helm-docs/cmd/helm-docs \
  "helm-docs=$version" "-s -w -X main.version=${version#v}" --version
