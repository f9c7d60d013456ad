//go:build !unix

package broker

import (
	"net"
	"syscall"
)

// rawConn is not used here: connections keep a small read buffer and
// their goroutine while idle.
func rawConn(net.Conn) syscall.RawConn { return nil }

func (c *conn) waitReadable() error { return nil }
