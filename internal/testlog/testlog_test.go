package testlog

import (
	"fmt"
	"strings"
	"sync"
	"testing"
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
