//go:build unix

package browsertest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if build.dir != "" {
		os.RemoveAll(build.dir)
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// build is the baram binary, built once per test process.
var build struct {
	once sync.Once
	dir  string // temporary directory holding the binary, removed by TestMain
	bin  string
	root string // the module root
	err  error
}

// baramBinary builds ./cmd/baram once and returns its path and the
// module root.
func baramBinary(t *testing.T) (bin, root string) {
	t.Helper()
	build.once.Do(func() {
		goCmd, err := exec.LookPath("go")
		if err != nil {
			build.err = errors.New("the go command is not in PATH: the browser test needs it to build ./cmd/baram")
			return
		}
		if build.root, err = moduleRoot(goCmd); err != nil {
			build.err = err
			return
		}
		if build.dir, err = os.MkdirTemp("", "baram-browsertest-"); err != nil {
			build.err = err
			return
		}
		bin := filepath.Join(build.dir, "baram")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, goCmd, "build", "-o", bin, "./cmd/baram")
		cmd.Dir = build.root
		if out, err := cmd.CombinedOutput(); err != nil {
			build.err = fmt.Errorf("go build -o %s ./cmd/baram in %s: %v\n%s", bin, build.root, err, out)
			return
		}
		build.bin = bin
	})
	if build.err != nil {
		t.Fatal(build.err)
	}
	return build.bin, build.root
}

// moduleRoot returns the directory of the main module's go.mod: what
// "go env GOMOD" says, or else the first go.mod up from the working
// directory.
func moduleRoot(goCmd string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, goCmd, "env", "GOMOD").Output()
	if mod := strings.TrimSpace(string(out)); err == nil && filepath.IsAbs(mod) && filepath.Base(mod) == "go.mod" {
		return filepath.Dir(mod), nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory: run the test inside the baram module")
		}
		dir = parent
	}
}
