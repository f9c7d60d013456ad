//go:build amd64 || arm64 || arm64be || ppc64 || ppc64le || mips64 || mips64le || s390x || sparc64 || riscv64 || loong64

package pebblestore

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// makeStore creates a store with data in sstables and in the WAL.
func makeStore(t *testing.T) string {
	dir := t.TempDir()
	s := open(t, dir)
	b := s.NewBatch()
	for i := range 1000 {
		b.Put(fmt.Appendf(nil, "k%04d", i), make([]byte, 100))
	}
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	if err := s.Compact(nil, nil); err != nil {
		t.Fatal(err)
	}
	b = s.NewBatch()
	b.Put([]byte("in-wal"), []byte("x"))
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// snapshot maps each file of dir to a hash of its content.
func snapshot(t *testing.T, dir string) map[string][32]byte {
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string][32]byte{}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		m[e.Name()] = sha256.Sum256(b)
	}
	return m
}

func glob1(t *testing.T, dir, pattern string) string {
	m, _ := filepath.Glob(filepath.Join(dir, pattern))
	if len(m) == 0 {
		t.Fatalf("no %s in %s", pattern, dir)
	}
	return m[0]
}

// TestOpenRefusesDamage damages a store in ways Pebble cannot recover from
// and checks that Open names the directory and the file, says what to do,
// and changes nothing on disk.
func TestOpenRefusesDamage(t *testing.T) {
	tests := []struct {
		name   string
		damage func(t *testing.T, dir string)
		is     error
		file   string // a substring of the file the message must name
	}{
		{"manifest missing", func(t *testing.T, dir string) {
			_ = os.Remove(glob1(t, dir, "MANIFEST-*"))
		}, ErrCorrupt, "MANIFEST-"},
		{"table missing", func(t *testing.T, dir string) {
			_ = os.Remove(glob1(t, dir, "*.sst"))
		}, ErrCorrupt, ".sst"},
		{"manifest marker missing", func(t *testing.T, dir string) {
			_ = os.Remove(glob1(t, dir, "marker.manifest.*"))
		}, ErrCorrupt, "marker.manifest."},
		{"format marker missing", func(t *testing.T, dir string) {
			_ = os.Remove(glob1(t, dir, "marker.format-version.*"))
		}, ErrCorrupt, "marker.format-version."},
		{"newer format", func(t *testing.T, dir string) {
			m := glob1(t, dir, "marker.format-version.*")
			_ = os.Rename(m, m[:strings.LastIndexByte(m, '.')]+".999")
		}, ErrFormat, "marker.format-version."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := makeStore(t)
			tt.damage(t, dir)
			before := snapshot(t, dir)
			s, err := Open(dir, Options{})
			if err == nil {
				_ = s.Close()
				t.Fatal("Open of a damaged store succeeded")
			}
			msg := err.Error()
			if !errors.Is(err, tt.is) || !strings.HasPrefix(msg, "store "+dir+": ") ||
				!strings.Contains(msg, tt.file) || !strings.Contains(msg, "nothing was changed") {
				t.Fatalf("Open: %v\nwant %v naming %s and the file %s", err, tt.is, dir, tt.file)
			}
			delete(before, "LOCK")
			after := snapshot(t, dir)
			delete(after, "LOCK")
			if !maps.Equal(before, after) {
				t.Fatalf("Open of a damaged store changed the directory:\nbefore %v\nafter  %v",
					keys(before), keys(after))
			}
			t.Log(msg)
		})
	}
}

func keys(m map[string][32]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestOpenUnwritableDir(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root ignores directory permissions")
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(dir, 0o700)
	_, err := Open(dir, Options{})
	if err == nil || !strings.Contains(err.Error(), "store "+dir) || !strings.Contains(err.Error(), "LOCK") {
		t.Fatalf("Open of a read-only dir: %v", err)
	}
}
