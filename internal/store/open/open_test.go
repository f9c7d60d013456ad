package open

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/baram-mqtt/baram/internal/store"
)

func put(t *testing.T, s store.Store, k string) {
	t.Helper()
	b := s.NewBatch()
	b.Put([]byte(k), []byte("v"))
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
}

func TestAutoUsesWhatIsThere(t *testing.T) {
	for _, kind := range []string{Default, Bolt} {
		t.Run(kind, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			s, err := Open(kind, dir, Options{})
			if err != nil {
				t.Fatal(err)
			}
			put(t, s, "k")
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if got, err := Detect(dir); err != nil || got != kind {
				t.Fatalf("Detect = %q, %v; want %q", got, err, kind)
			}
			s, err = Open("", dir, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if _, err := s.Get([]byte("k")); err != nil {
				t.Fatalf("auto reopened another engine: %v", err)
			}
		})
	}
}

func TestKindMismatchRefused(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(Bolt, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	_, err = Open(Pebble, dir, Options{})
	if err == nil || !strings.Contains(err.Error(), "holds a bolt store but store.type is pebble") {
		t.Fatalf("Open(pebble) of a bolt dir: %v", err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("refused Open left files behind: %v", ents)
	}
}

func TestUnknownKindAndMemory(t *testing.T) {
	if _, err := Open("rocks", t.TempDir(), Options{}); err == nil || !strings.Contains(err.Error(), `unknown store.type "rocks"`) {
		t.Fatalf("Open(rocks): %v", err)
	}
	s, err := Open(Memory, "", Options{})
	if err != nil {
		t.Fatal(err)
	}
	put(t, s, "k")
	_ = s.Close()
	if _, err := s.Get([]byte("k")); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("Get after Close: %v", err)
	}
}
