package crashtest

import (
	"os/exec"
	"testing"

	"github.com/baram-mqtt/baram/internal/proctest"
)

func TestMain(m *testing.M) { proctest.Main(m) }

// baramBinary builds ./cmd/baram once and returns its path. It skips the
// test when the go command is missing.
func baramBinary(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("the go command is not in PATH: the crash test needs it to build ./cmd/baram")
	}
	bin, _ := proctest.Baram(t)
	return bin
}
