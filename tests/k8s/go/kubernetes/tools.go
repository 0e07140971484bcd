//go:build tools

// Package tools pins the Kubernetes commands built by tests/k8s/build-binaries.sh so that `go mod tidy`
// keeps them (and exactly their dependencies) in go.mod/go.sum.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kubectl"
	// The real node of the e2e tier (tests/k8s/node.py): scheduler, kubelet and Services.
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
