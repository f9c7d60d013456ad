package testlog

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestBuffer(t *testing.T) {
	var b Buffer
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() { fmt.Fprintf(&b, "line %d\n", i) })
		_ = b.String() // a read while others write: -race must stay quiet
	}
	wg.Wait()
	if n := strings.Count(b.String(), "\n"); n != 10 {
		t.Fatalf("%d lines, want 10:\n%s", n, b.String())
	}
	if !b.Contains("line 7\n") || b.Contains("line 10") {
		t.Fatalf("Contains is wrong for %q", b.String())
	}
}

func TestBufferWait(t *testing.T) {
	var b Buffer
	go fmt.Fprint(&b, "late line\n")
	if !b.Wait(func(s string) bool { return strings.Contains(s, "late line") }, 5*time.Second) {
		t.Fatalf("Wait missed a line written after it started: %q", b.String())
	}
	if b.Wait(func(s string) bool { return strings.Contains(s, "never") }, 10*time.Millisecond) {
		t.Fatal("Wait matched a line nobody wrote")
	}
}
