//go:build tools

// Package tools pins helm's CLI, built by tests/k8s/build-helm.sh, so that `go mod tidy` keeps it (and exactly its
// dependencies) in go.mod/go.sum. Helm's own go.mod has no replace directives; the wrapper exists to pin go.sum.
package tools

import (
	_ "helm.sh/helm/v3/cmd/helm"
)
