//go:build !linux

package main

import (
	"context"
	"crypto/x509"
	"net/http"
)

// transparentEnv needs Linux (network namespaces, iptables).
type transparentEnv struct {
	lg    *sidecar
	roots *x509.CertPool
}

func startTransparent(context.Context, string, string, http.Handler) (*transparentEnv, string) {
	return nil, "transparent cases need Linux (network namespaces and iptables)"
}

func (e *transparentEnv) client(conns int) *http.Client { return newClient(conns, nil, e.roots) }

func (e *transparentEnv) close() {}
