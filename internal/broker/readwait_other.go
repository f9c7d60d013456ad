//go:build !unix

package broker

import "net"

// readWaiter is not available here: connections keep a small read buffer
// while idle.
func readWaiter(net.Conn) func() error { return nil }
