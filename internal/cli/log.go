package cli

import (
	"fmt"
	"io"
	"log/slog"

	"github.com/baram-mqtt/baram/internal/config"
)

// newLogger returns a logger writing records of c.Level and above to w,
// as logfmt-style text or as JSON lines according to c.Format.
func newLogger(w io.Writer, c config.Log) (*slog.Logger, error) {
	level, err := c.SlogLevel()
	if err != nil {
		return nil, fmt.Errorf("log.level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch c.Format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("log.format: %w", config.CheckLogFormat(c.Format))
}
