package storetest

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// childEnv names the data directory of a crash child; its presence makes
// Run play the child.
const childEnv = "STORETEST_CHILD"

const (
	crashWriters  = 4                // concurrent committers in the child
	crashMaxLines = 150              // kill after at most this many commits
	crashMaxWait  = 5 * time.Second  // ... or this long
	childLifetime = 60 * time.Second // a child nobody kills exits by itself
)

var crashPrefix = []byte("crash/")

// crashKey is the key of part (0..2) of batch n.
func crashKey(n uint64, part byte) []byte {
	k := binary.BigEndian.AppendUint64(bytes.Clone(crashPrefix), n)
	return append(k, part)
}

// crashValue is the value of part of batch n: n, then padding whose length
// varies so that batches straddle WAL blocks and pages.
func crashValue(n uint64, part byte) []byte {
	v := binary.BigEndian.AppendUint64(nil, n)
	v = append(v, part)
	return append(v, bytes.Repeat([]byte{byte(n)}, int(n%7)*700)...)
}

// execEnv names a launcher for child test processes, for running the
// tests of another architecture under an emulator without binfmt support:
// STORETEST_EXEC=qemu-arm-static go test -exec qemu-arm-static ...
const execEnv = "STORETEST_EXEC"

// ChildCommand returns a command that re-executes this test binary running
// only the top-level test named test (the child then finds its orders in
// environment variables the caller adds to cmd.Env, which starts as
// os.Environ()). It honours STORETEST_EXEC, a launcher such as
// qemu-arm-static.
func ChildCommand(test string) *exec.Cmd {
	args := []string{"-test.run=^" + regexp.QuoteMeta(test) + "$", "-test.count=1"}
	name := os.Args[0]
	if launcher := os.Getenv(execEnv); launcher != "" {
		args = append([]string{name}, args...)
		name = launcher
	}
	cmd := exec.Command(name, args...)
	cmd.Env = os.Environ()
	return cmd
}

// runCrashChild commits numbered 3-key batches with Commit(true) from
// several goroutines and prints each number once its Commit returned, until
// the parent kills it.
func runCrashChild(t *testing.T, open Opener, dir string) {
	s := open(t, dir)
	var next atomic.Uint64
	var out sync.Mutex
	for range crashWriters {
		go func() {
			for {
				n := next.Add(1)
				b := s.NewBatch()
				for part := range byte(3) {
					b.Put(crashKey(n, part), crashValue(n, part))
				}
				if err := b.Commit(true); err != nil {
					fmt.Fprintf(os.Stderr, "storetest child: commit %d: %v\n", n, err)
					os.Exit(3)
				}
				out.Lock()
				fmt.Fprintf(os.Stdout, "%d\n", n)
				out.Unlock()
			}
		}()
	}
	time.Sleep(childLifetime)
	os.Exit(4)
}

func (h *harness) testCrash(t *testing.T) {
	rounds := h.opts.CrashRounds
	if rounds == 0 {
		rounds = 10
	}
	top, _, _ := strings.Cut(t.Name(), "/")
	for round := range rounds {
		dir := t.TempDir()
		acked := h.crashOnce(t, top, dir)
		found := h.checkCrashDir(t, dir, acked)
		t.Logf("round %d: %d commits acknowledged before SIGKILL, %d found after recovery", round, len(acked), found)
	}
}

// crashOnce runs a child on dir, kills it with SIGKILL at a random moment
// and returns the numbers it reported committed.
func (h *harness) crashOnce(t *testing.T, top, dir string) map[uint64]bool {
	cmd := ChildCommand(top)
	cmd.Env = append(cmd.Env, childEnv+"="+dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start crash child: %v", err)
	}
	lines := make(chan uint64, 1024)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if n, err := strconv.ParseUint(sc.Text(), 10, 64); err == nil {
				lines <- n
			}
		}
	}()

	acked := map[uint64]bool{}
	killAfter := 1 + rand.IntN(crashMaxLines)
	deadline := time.After(crashMaxWait)
	killed := false
	kill := func() {
		if !killed {
			killed = true
			time.Sleep(time.Duration(rand.IntN(2000)) * time.Microsecond)
			_ = cmd.Process.Kill() // SIGKILL on Unix
		}
	}
	for !killed {
		select {
		case n, ok := <-lines:
			if ok {
				acked[n] = true
			}
			if !ok || len(acked) >= killAfter {
				kill()
			}
		case <-deadline:
			kill()
		}
	}
	for n := range lines { // what was printed before the kill counts too
		acked[n] = true
	}
	_ = cmd.Wait()
	if len(acked) == 0 {
		t.Fatalf("crash child reported no commit; stderr:\n%s", stderr.String())
	}
	return acked
}

// checkCrashDir reopens dir after a crash and checks that every
// acknowledged batch is present and that no batch is half applied.
func (h *harness) checkCrashDir(t *testing.T, dir string, acked map[uint64]bool) int {
	s := h.openAt(t, dir)
	parts := map[uint64]int{}
	err := s.Scan(crashPrefix, nil, func(k, v []byte) error {
		if len(k) != len(crashPrefix)+9 {
			return fmt.Errorf("unexpected key %q", k)
		}
		n := binary.BigEndian.Uint64(k[len(crashPrefix):])
		part := k[len(k)-1]
		if !bytes.Equal(v, crashValue(n, part)) {
			return fmt.Errorf("batch %d part %d has a wrong value (%d bytes)", n, part, len(v))
		}
		parts[n]++
		return nil
	})
	if err != nil {
		t.Fatalf("scan after crash: %v", err)
	}
	for n, c := range parts {
		if c != 3 {
			t.Errorf("batch %d half applied after crash: %d of 3 keys", n, c)
		}
	}
	for n := range acked {
		if parts[n] == 0 {
			t.Errorf("batch %d was acknowledged (Commit(true) returned) but is lost after crash", n)
		}
	}
	// The recovered store takes writes.
	commit(t, s, true, "after-crash", "ok")
	if err := s.Close(); err != nil {
		t.Fatalf("Close after recovery: %v", err)
	}
	return len(parts)
}
