package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/baram-mqtt/baram/internal/config"
)

// run runs the command line with args and returns its exit status,
// stdout and stderr.
func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := Execute(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestVersion(t *testing.T) {
	want := "baram dev " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH + "\n"
	for _, args := range [][]string{{"version"}, {"--version"}} {
		code, out, errOut := run(t, args...)
		if code != ExitOK || out != want || errOut != "" {
			t.Errorf("baram %v = %d, %q, %q; want 0, %q", args, code, out, errOut, want)
		}
	}
}

func TestRootPrintsHelp(t *testing.T) {
	code, out, _ := run(t)
	if code != ExitOK || !strings.Contains(out, "serve") || !strings.Contains(out, "version") {
		t.Errorf("baram = %d, %q; want 0 and help listing serve and version", code, out)
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"frobnicate"}, `baram: unknown command "frobnicate" for "baram"`},
		{[]string{"serve", "extra"}, `baram: unknown command "extra" for "baram serve"`},
		{[]string{"version", "--bogus"}, "baram: unknown flag: --bogus\nRun 'baram version --help' for usage."},
		{[]string{"serve", "--listen", "1883"}, `baram: --listen: "1883" is not host:port`},
		{[]string{"serve", "--listen", "tcp://:1883"}, `baram: --listen: "tcp" is not a protocol; use mqtt, mqtts, ws or wss`},
		{[]string{"serve", "--log-level", "loud"}, `baram: --log-level: "loud" is not one of debug, info, warn, error`},
		{[]string{"serve", "--log-format", "xml"}, `baram: --log-format: "xml" is not one of text, json`},
		{[]string{"serve", "--allow-anonymous=maybe"}, `baram: invalid argument "maybe" for "--allow-anonymous" flag`},
		{[]string{"serve", "--store", "rocks"}, `baram: --store: "rocks" is not one of auto, pebble, bolt, memory`},
		{[]string{"serve", "--data-dir="}, `baram: --data-dir: empty; name a directory`},
	}
	for _, tt := range tests {
		code, _, errOut := run(t, tt.args...)
		if code != ExitUsage || !strings.Contains(errOut, tt.want) {
			t.Errorf("baram %v = %d, %q; want %d and %q", tt.args, code, errOut, ExitUsage, tt.want)
		}
	}
}

func TestFlagsOverrideFile(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		check func(config.Config) bool
	}{
		{"file only", []string{"--config", "testdata/serve.yaml"}, func(c config.Config) bool {
			return len(c.Listeners) == 1 && c.Listeners[0].Address == "0.0.0.0:1883" &&
				*c.Auth.AllowAnonymous && c.Limits.MaxInflight == 50 && c.Log == config.Log{Level: "debug", Format: "json"} &&
				c.Store.Type == "pebble" && c.Store.Dir == "/var/lib/baram" && c.Store.Sync == "none"
		}},
		{"store flags win", []string{"--config", "testdata/serve.yaml", "--data-dir", "/tmp/b", "--store", "bolt"}, func(c config.Config) bool {
			return c.Store.Type == "bolt" && c.Store.Dir == "/tmp/b" && c.Store.Sync == "none"
		}},
		{"store defaults", nil, func(c config.Config) bool {
			return c.Store == config.Default().Store && c.Store.Dir == "./data" && c.Store.Type == "auto"
		}},
		{"flags win", []string{"--config", "testdata/serve.yaml", "--listen", "127.0.0.1:1999", "--listen", "mqtt://[::1]:1999",
			"--log-level", "warn", "--log-format", "text", "--allow-anonymous=false"}, func(c config.Config) bool {
			return reflect.DeepEqual(c.Listeners, []config.Listener{{Protocol: "mqtt", Address: "127.0.0.1:1999"}, {Protocol: "mqtt", Address: "[::1]:1999"}}) &&
				!*c.Auth.AllowAnonymous && c.Limits.MaxInflight == 50 && c.Log == config.Log{Level: "warn", Format: "text"}
		}},
		{"no flags", nil, func(c config.Config) bool {
			return c.Listeners == nil && c.Auth.AllowAnonymous == nil && c.AnonymousAllowed()
		}},
		{"allow-anonymous without file", []string{"--listen", ":1883", "--allow-anonymous"}, func(c config.Config) bool {
			return c.Auth.AllowAnonymous != nil && *c.Auth.AllowAnonymous && c.AnonymousAllowed()
		}},
		{"public listener refuses anonymous", []string{"--listen", ":1883"}, func(c config.Config) bool {
			return c.Auth.AllowAnonymous == nil && !c.AnonymousAllowed()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := &cobra.Command{Use: "serve"}
			var f serveFlags
			f.bind(cmd)
			if err := cmd.ParseFlags(tt.args); err != nil {
				t.Fatal(err)
			}
			cfg, err := f.load(cmd.Flags().Changed)
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(cfg) {
				t.Errorf("config from %v = %+v", tt.args, cfg)
			}
		})
	}
}

func TestNewLogger(t *testing.T) {
	var buf bytes.Buffer
	logger, err := newLogger(&buf, config.Log{Level: "warn", Format: "json"})
	if err != nil {
		t.Fatal(err)
	}
	logger.Info("hidden")
	logger.Warn("shown", "k", 1)
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil || rec["msg"] != "shown" || rec["k"] != 1.0 {
		t.Errorf("json log = %q, %v", buf.String(), err)
	}

	buf.Reset()
	logger, err = newLogger(&buf, config.Log{Level: "debug", Format: "text"})
	if err != nil {
		t.Fatal(err)
	}
	logger.Debug("shown")
	if !strings.Contains(buf.String(), "level=DEBUG msg=shown") {
		t.Errorf("text log = %q", buf.String())
	}

	if _, err := newLogger(&buf, config.Log{Level: "info", Format: "xml"}); err == nil {
		t.Error("newLogger accepted format xml")
	}
}
