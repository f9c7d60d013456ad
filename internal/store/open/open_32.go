//go:build !(amd64 || arm64 || arm64be || ppc64 || ppc64le || mips64 || mips64le || s390x || sparc64 || riscv64 || loong64)

package open

import (
	"fmt"
	"runtime"

	"github.com/baram-mqtt/baram/internal/store"
)

const defaultKind = Bolt

func openPebble(dir string, _ Options) (store.Store, error) {
	return nil, fmt.Errorf("store %s: the pebble engine is not available on %s (Pebble needs a 64-bit platform): "+
		"use store.type bolt, or move the data directory to a 64-bit machine", dir, runtime.GOOS+"/"+runtime.GOARCH)
}
