// Command etcd is upstream etcd's server, built from the Go module proxy by tests/k8s/build-binaries.sh.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
