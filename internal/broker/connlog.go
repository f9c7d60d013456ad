package broker

import (
	"context"
	"log/slog"
)

// connLog is a connection's log handler: it puts the remote address and,
// once known, the client id first in every record. It lives inside the
// conn, so a connection's logger costs no handler of its own, where
// slog.Logger.With would clone one per connection and again at CONNECT:
// a few hundred bytes for each of a million idle clients.
type connLog struct {
	c *conn
	h slog.Handler // the broker's handler
}

func (l *connLog) Enabled(ctx context.Context, level slog.Level) bool {
	return l.h.Enabled(ctx, level)
}

// Handle adds remote and client ahead of the record's own attributes.
// clientID is set by the reader before any other goroutine logs for the
// connection, and read-only afterwards.
func (l *connLog) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	out.AddAttrs(slog.String("remote", l.c.remote))
	if l.c.clientID != "" {
		out.AddAttrs(slog.String("client", l.c.clientID))
	}
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(a)
		return true
	})
	return l.h.Handle(ctx, out)
}

func (l *connLog) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &connLog{c: l.c, h: l.h.WithAttrs(attrs)}
}

func (l *connLog) WithGroup(name string) slog.Handler {
	return &connLog{c: l.c, h: l.h.WithGroup(name)}
}
