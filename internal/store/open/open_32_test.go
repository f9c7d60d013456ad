//go:build !(amd64 || arm64 || arm64be || ppc64 || ppc64le || mips64 || mips64le || s390x || sparc64 || riscv64 || loong64)

package open

import (
	"strings"
	"testing"
)

func TestPebbleUnavailable(t *testing.T) {
	if Default != Bolt {
		t.Fatalf("Default = %q on a 32-bit platform", Default)
	}
	_, err := Open(Pebble, t.TempDir(), Options{})
	if err == nil || !strings.Contains(err.Error(), "not available") {
		t.Fatalf("Open(pebble) on 32-bit: %v", err)
	}
}
