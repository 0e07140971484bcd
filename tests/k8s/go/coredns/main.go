// Command coredns is the cluster DNS of the e2e tier's real node (tests/k8s/node.py): upstream CoreDNS with only
// the plugins a single-node test cluster uses. The stock build links every plugin (route53, azure, clouddns, etc.),
// which would triple the cold build for code that can never run here (no network beyond this machine).
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/ready"
)

// The order plugins run in, as in upstream's plugin.cfg (a subset of core/dnsserver/zdirectives.go).
var directives = []string{"bind", "ready", "health", "errors", "log", "loadbalance", "cache", "kubernetes"}

func init() { dnsserver.Directives = directives }

func main() { coremain.Run() }
