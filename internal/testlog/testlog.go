// Package testlog is a log sink for tests only: a buffer that a logger
// (or a command's stderr) writes to from its goroutines while the test
// reads it.
package testlog

import (
	"bytes"
	"strings"
	"sync"
	"time"
)

// Buffer is a bytes.Buffer safe for concurrent writers and readers. The
// zero value is an empty buffer ready to use.
type Buffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer  // under mu
	written chan struct{} // under mu; closed and replaced by each Write
}

// Write appends p and wakes every Wait.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.written != nil {
		close(b.written)
		b.written = nil
	}
	return b.buf.Write(p)
}

// Wait waits until match holds for everything written so far, or until
// timeout passes, and reports which. Log lines written by other
// goroutines after the event a test saw (a CONNACK leaves before its
// log line) are awaited with it instead of a sleep.
func (b *Buffer) Wait(match func(string) bool, timeout time.Duration) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		b.mu.Lock()
		if match(b.buf.String()) {
			b.mu.Unlock()
			return true
		}
		if b.written == nil {
			b.written = make(chan struct{})
		}
		written := b.written
		b.mu.Unlock()
		select {
		case <-written:
		case <-deadline.C:
			return false
		}
	}
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Contains reports whether s has been written.
func (b *Buffer) Contains(s string) bool {
	return strings.Contains(b.String(), s)
}
