package listener

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves a goroutine behind, such as
// a reload poller whose context was not cancelled.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
