//go:build tools

// Package tools pins helm-docs, built by tests/k8s/build-helm-docs.sh to generate charts/supertest/README.md, so
// that `go mod tidy` keeps it (and exactly its dependencies) in go.mod/go.sum.
package tools

import (
	_ "github.com/norwoodj/helm-docs/cmd/helm-docs"
)
