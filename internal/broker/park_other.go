//go:build !linux

package broker

import (
	"errors"
	"log/slog"
)

// parker is Linux only; elsewhere idle connections keep their goroutine.
type parker struct{}

func newParker(*slog.Logger) (*parker, error) { return nil, errors.New("parking needs epoll") }
func (p *parker) add(*conn) error             { return errors.New("parking needs epoll") }
func (p *parker) remove(*conn)                {}
func (p *parker) stop()                       {}
