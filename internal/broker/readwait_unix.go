//go:build unix

package broker

import (
	"errors"
	"net"
	"syscall"
)

// readWaiter returns a function that blocks until nc has bytes to read
// (or EOF, or an error), without a buffer: an idle connection then holds
// none. Only plain TCP and Unix sockets qualify: a wrapper such as TLS,
// WebSocket or the PROXY protocol may hold bytes of its own that a look
// at the socket would miss.
func readWaiter(nc net.Conn) func() error {
	var sc syscall.Conn
	switch c := nc.(type) {
	case *net.TCPConn:
		sc = c
	case *net.UnixConn:
		sc = c
	default:
		return nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	var one [1]byte
	peek := func(fd uintptr) bool {
		_, _, err := syscall.Recvfrom(int(fd), one[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		// EAGAIN: nothing yet, so RawConn.Read waits for readability
		// (and honours the read deadline) and asks again.
		return !errors.Is(err, syscall.EAGAIN) && !errors.Is(err, syscall.EINTR)
	}
	return func() error { return raw.Read(peek) }
}
