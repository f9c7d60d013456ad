// Package open opens the store engine that store.type names: Pebble on
// 64-bit platforms, bbolt on 32-bit ones, or memory. Pebble is linked in
// only on the 64-bit architectures Pebble supports (build-tagged files), so
// the module builds for GOARCH=arm.
//
// With kind "" (or "auto") the engine is the one already in the data
// directory, else the platform default; an explicit kind that disagrees
// with the directory's contents is refused rather than creating a second,
// empty store beside the first.
package open

import (
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/baram-mqtt/baram/internal/store"
	"github.com/baram-mqtt/baram/internal/store/boltstore"
	"github.com/baram-mqtt/baram/internal/store/memstore"
)

// Engine names accepted by Open.
const (
	Auto   = "auto"
	Pebble = "pebble"
	Bolt   = "bolt"
	Memory = "memory"
)

// Options are passed to the engine; each uses what applies to it.
type Options struct {
	// Logger receives the engine's messages; nil means slog.Default().
	Logger *slog.Logger
	// CacheSize is Pebble's block cache in bytes; 0 means the engine's
	// default (8 MiB).
	CacheSize int64
}

// Default is the engine used for a new data directory on this platform.
const Default = defaultKind

// Open opens (creating if needed) the store of the given kind in dir. dir
// is ignored for Memory.
func Open(kind, dir string, opts Options) (store.Store, error) {
	if kind == Memory {
		return memstore.New(), nil
	}
	found, err := Detect(dir)
	if err != nil {
		return nil, err
	}
	switch kind {
	case "", Auto:
		kind = found
		if kind == "" {
			kind = Default
		}
	case Pebble, Bolt:
		if found != "" && found != kind {
			return nil, fmt.Errorf("store %s: the directory holds a %s store but store.type is %s: "+
				"set store.type to %s (or auto), or use another --data-dir", dir, found, kind, found)
		}
	default:
		return nil, fmt.Errorf("store %s: unknown store.type %q: use auto, pebble, bolt or memory", dir, kind)
	}
	if kind == Bolt {
		return boltstore.Open(dir, boltstore.Options{Logger: opts.Logger})
	}
	return openPebble(dir, opts)
}

// Detect reports which engine's files dir holds: Pebble, Bolt, or "" for a
// missing or empty directory (or one with neither).
func Detect(dir string) (string, error) {
	ents, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("store %s: read data directory: %w", dir, err)
	}
	var pebble, bolt bool
	for _, e := range ents {
		n := e.Name()
		switch {
		case n == boltstore.FileName:
			bolt = true
		case strings.HasPrefix(n, "marker.manifest."), strings.HasPrefix(n, "MANIFEST-"),
			strings.HasPrefix(n, "OPTIONS-"), strings.HasSuffix(n, ".sst"):
			pebble = true
		}
	}
	switch {
	case pebble && bolt:
		return "", fmt.Errorf("store %s: the directory holds both a pebble and a bolt store (%s): "+
			"move one of them elsewhere", dir, boltstore.FileName)
	case pebble:
		return Pebble, nil
	case bolt:
		return Bolt, nil
	}
	return "", nil
}
