//go:build tools

// Package tools pins the Kubernetes binaries that the e2e tests and `make local-up` run:
// kube-apiserver, kube-controller-manager, kube-proxy and kubemark's hollow kubelet, built
// from k8s.io/kubernetes at the version in go.mod.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kubemark"
)
