//go:build amd64 || arm64 || arm64be || ppc64 || ppc64le || mips64 || mips64le || s390x || sparc64 || riscv64 || loong64

package open

import (
	"github.com/baram-mqtt/baram/internal/store"
	"github.com/baram-mqtt/baram/internal/store/pebblestore"
)

const defaultKind = Pebble

func openPebble(dir string, opts Options) (store.Store, error) {
	return pebblestore.Open(dir, pebblestore.Options{Logger: opts.Logger, CacheSize: opts.CacheSize})
}
