#!/usr/bin/env bash
# Regenerates the wrapper modules' go.mod/go.sum for the versions pinned in ../versions.env.
# Run by hand when bumping a version, then commit the results; build-binaries.sh only reads them.
#
# k8s.io/kubernetes cannot be `go install`ed: its go.mod replaces every staging module k8s.io/<m> with
# ./staging/src/k8s.io/<m>. The wrapper module re-pins each of them to the published k8s.io/<m> v0.<minor>.<patch>.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../versions.env
source "$here/../versions.env"
export PATH="/usr/local/go/bin:$PATH" GOTOOLCHAIN=local GOFLAGS=-mod=mod
cache_root="${SUPERTEST_CACHE:-$HOME/.cache/supertest}"
export GOPATH="$cache_root/go" GOCACHE="$cache_root/go-build"

staging_version="v0.${K8S_VERSION#v1.}"

# --- kubernetes -----------------------------------------------------------------------------------
cd "$here/kubernetes"
rm -f go.mod go.sum
go mod init supertest.test/k8s-binaries >/dev/null 2>&1
upstream_mod="$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')"
grep -E '^\s*k8s\.io/[a-z0-9-]+ => \./staging/' "$upstream_mod" | awk '{print $1}' | while read -r m; do
  go mod edit -replace "$m=$m@$staging_version"
done
go get "k8s.io/kubernetes@$K8S_VERSION"
go mod tidy
# --- etcd -----------------------------------------------------------------------------------------
cd "$here/etcd"
rm -f go.mod go.sum
go mod init supertest.test/etcd >/dev/null 2>&1
go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION"
go mod tidy
# --- coredns (main.go is committed; only the module files are regenerated) ------------------------
cd "$here/coredns"
rm -f go.mod go.sum
go mod init supertest.test/coredns >/dev/null 2>&1
go get "github.com/coredns/coredns@$COREDNS_VERSION"
go mod tidy
echo "updated go.mod/go.sum for kubernetes $K8S_VERSION, etcd $ETCD_VERSION and coredns $COREDNS_VERSION"
