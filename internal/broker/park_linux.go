package broker

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"syscall"
)

// A parked connection has no goroutine. When a plain TCP client goes
// quiet (nothing half-read, nothing being written back pressure), its
// reader registers the socket with the parker's epoll set and ends; the
// parker starts a new reader when bytes arrive, and so do the keep-alive
// timer and kick. A million sleeping phones then cost their session and
// socket state, not a million goroutine stacks.
//
// The rule that keeps this safe: a parked connection's socket is never
// closed while it is registered. Everything that closes a socket from
// outside the reader (kick, writeFailed) wakes the connection first, and
// registration changes go through RawConn.Control, which holds the file
// descriptor open while it runs.

// parker watches the sockets of parked connections.
type parker struct {
	log   *slog.Logger
	epfd  int
	stopR *os.File // registered as id 0: a byte ends the loop
	stopW *os.File
	done  chan struct{} // closed when loop has returned

	mu    sync.Mutex
	conns map[int32]*conn // parked connections by park id; guarded by mu
	next  int32           // the last park id handed out; guarded by mu
}

func newParker(log *slog.Logger) (*parker, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		syscall.Close(epfd)
		return nil, fmt.Errorf("parker pipe: %w", err)
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: 0}
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, int(r.Fd()), &ev); err != nil {
		r.Close()
		w.Close()
		syscall.Close(epfd)
		return nil, fmt.Errorf("epoll_ctl: %w", err)
	}
	p := &parker{log: log, epfd: epfd, stopR: r, stopW: w, done: make(chan struct{}), conns: make(map[int32]*conn)}
	go p.loop()
	return p, nil
}

// loop wakes the connections whose sockets turn readable (or hang up)
// until stop.
func (p *parker) loop() {
	defer close(p.done)
	events := make([]syscall.EpollEvent, 256)
	for {
		n, err := syscall.EpollWait(p.epfd, events, -1)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			p.log.Error("parked connections: epoll_wait failed; they wake at their keep alive", "err", err)
			return
		}
		for _, ev := range events[:n] {
			if ev.Fd == 0 {
				return
			}
			p.mu.Lock()
			c := p.conns[ev.Fd]
			p.mu.Unlock()
			if c != nil {
				c.wake()
			}
		}
	}
}

// add registers c's socket, to wake c once it is readable. Level
// triggered: bytes that arrived before add wake c at once.
func (p *parker) add(c *conn) error {
	p.mu.Lock()
	if c.parkID == 0 {
		for p.next++; p.next <= 0 || p.conns[p.next] != nil; p.next++ {
			if p.next <= 0 {
				p.next = 0 // wrapped: ids are positive, 0 is the stop pipe
			}
		}
		c.parkID = p.next
	}
	p.conns[c.parkID] = c
	p.mu.Unlock()
	var cerr error
	err := c.raw.Control(func(fd uintptr) {
		ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT, Fd: c.parkID}
		cerr = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, int(fd), &ev)
	})
	if err == nil {
		err = cerr
	}
	if err != nil {
		p.mu.Lock()
		delete(p.conns, c.parkID)
		p.mu.Unlock()
		return fmt.Errorf("park: %w", err)
	}
	return nil
}

// remove unregisters c's socket. A socket closed meanwhile left the epoll
// set by itself, and Control fails then.
func (p *parker) remove(c *conn) {
	p.mu.Lock()
	delete(p.conns, c.parkID)
	p.mu.Unlock()
	c.raw.Control(func(fd uintptr) {
		syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_DEL, int(fd), nil)
	})
}

// stop ends the loop and releases the epoll set. Call it once no
// connection is parked (Broker.Shutdown has woken and ended them all).
func (p *parker) stop() {
	p.stopW.Write([]byte{0})
	<-p.done
	p.stopR.Close()
	p.stopW.Close()
	syscall.Close(p.epfd)
}
