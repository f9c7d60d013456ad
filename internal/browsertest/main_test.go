//go:build unix

package browsertest

import (
	"testing"

	"github.com/baram-mqtt/baram/internal/proctest"
)

func TestMain(m *testing.M) { proctest.Main(m) }
