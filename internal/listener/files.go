package listener

import (
	"os"
	"slices"
	"time"
)

// fileState is what the poller compares to see that a file changed.
type fileState struct {
	path    string
	modTime time.Time
	size    int64
	missing bool
}

// statFiles returns the state of every file that cfg names, in a fixed
// order.
func statFiles(cfg TLSConfig) []fileState {
	var paths []string
	for _, p := range certPairs(cfg) {
		paths = append(paths, p.Cert, p.Key)
	}
	paths = append(paths, cfg.ClientCA, cfg.CRL)
	states := make([]fileState, 0, len(paths))
	for _, p := range paths {
		if p == "" {
			continue
		}
		fi, err := os.Stat(p)
		if err != nil {
			states = append(states, fileState{path: p, missing: true})
			continue
		}
		states = append(states, fileState{path: p, modTime: fi.ModTime(), size: fi.Size()})
	}
	return states
}

// sameFiles reports whether two results of statFiles are equal.
func sameFiles(a, b []fileState) bool {
	return slices.EqualFunc(a, b, func(x, y fileState) bool {
		return x.path == y.path && x.modTime.Equal(y.modTime) && x.size == y.size && x.missing == y.missing
	})
}
