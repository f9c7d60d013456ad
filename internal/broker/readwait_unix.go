//go:build unix

package broker

import (
	"errors"
	"net"
	"syscall"
)

// rawConn returns the socket under nc for waiting without a goroutine's
// buffer (waitReadable) or without a goroutine at all (park_linux.go).
// Only plain TCP and Unix sockets qualify: a wrapper such as TLS,
// WebSocket or the PROXY protocol may hold bytes of its own that a look
// at the socket would miss.
func rawConn(nc net.Conn) syscall.RawConn {
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
	return raw
}

// waitReadable blocks until the socket has bytes to read (or EOF, or an
// error), honouring the read deadline, without a buffer: an idle
// connection then holds none.
func (c *conn) waitReadable() error {
	return c.raw.Read(peekReadable)
}

// peekReadable looks at the socket without taking anything from it.
// EAGAIN: nothing yet, so RawConn.Read waits for readability and asks
// again.
func peekReadable(fd uintptr) bool {
	var one [1]byte
	_, _, err := syscall.Recvfrom(int(fd), one[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	return !errors.Is(err, syscall.EAGAIN) && !errors.Is(err, syscall.EINTR)
}
