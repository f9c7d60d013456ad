//go:build amd64 || arm64 || arm64be || ppc64 || ppc64le || mips64 || mips64le || s390x || sparc64 || riscv64 || loong64

package pebblestore

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// ErrLocked is wrapped by the error Open returns when another process (or
// another Store in this process) holds the data directory.
var ErrLocked = errors.New("locked")

// ErrCorrupt is wrapped by the error Open returns when the data directory
// is damaged.
var ErrCorrupt = errors.New("data directory is corrupt")

// ErrFormat is wrapped by the error Open returns when the data directory
// was written in a format this build cannot read.
var ErrFormat = errors.New("unsupported on-disk format")

const lockFile = "LOCK"

// lockError explains a failure to take the directory lock.
func lockError(dir string, err error) error {
	file := inDir(dir, lockFile)
	var pe *fs.PathError
	switch {
	case errors.As(err, &pe):
		// Creating the LOCK file failed: permissions or a read-only disk.
		return fmt.Errorf("store %s: cannot create lock file %s: %w", dir, file, err)
	case errors.Is(err, syscall.EAGAIN), errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EWOULDBLOCK):
		return fmt.Errorf("store %s: %w by another running baram (file %s): stop it or use another --data-dir", dir, ErrLocked, file)
	case strings.Contains(err.Error(), "lock held by current process"):
		return fmt.Errorf("store %s: %w by another store open in this process (file %s): close it first", dir, ErrLocked, file)
	}
	return fmt.Errorf("store %s: lock %s: %w", dir, file, err)
}

// pebbleFile matches the names of Pebble's files in its error messages.
var pebbleFile = regexp.MustCompile(`(MANIFEST-\d+|OPTIONS-\d+|\d{6}\.(?:sst|log|blob)|marker\.[a-z-]+\.\d+\.[^\s"':]+|CURRENT)`)

// openError explains a failure of pebble.Open. Nothing in dir has been
// changed or removed; the message says so and what to do.
func openError(dir string, fsys vfs.FS, err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "unknown format major version"):
		return fmt.Errorf("store %s: %w: written by a newer baram (Pebble format newer than %d, file %s): "+
			"run the newer baram, or move the directory aside to start empty; nothing was changed: %w",
			dir, ErrFormat, formatVersion, formatMarker(dir, fsys), err)
	case strings.Contains(msg, "no longer supported"):
		return fmt.Errorf("store %s: %w: written by a much older version (file %s): "+
			"open it with an intermediate baram release first; nothing was changed: %w",
			dir, ErrFormat, formatMarker(dir, fsys), err)
	case strings.Contains(msg, "not pristine"):
		return fmt.Errorf("store %s: %w (file %s): the store holds data but its format-version marker "+
			"is missing; restore the directory from a backup, or move it aside to start empty; nothing was changed: %w",
			dir, ErrCorrupt, inDir(dir, "marker.format-version.*"), err)
	case pebble.IsCorruptionError(err) || looksCorrupt(msg):
		return fmt.Errorf("store %s: %w (file %s): restore the directory from a backup, "+
			"or move it aside to start empty; nothing was changed: %w", dir, ErrCorrupt, corruptFile(dir, msg), err)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("store %s: permission denied: give the baram user read and write access: %w", dir, err)
	}
	return fmt.Errorf("store %s: open: %w", dir, err)
}

// looksCorrupt recognises failures that Pebble does not mark as corruption
// but that mean the directory's files are damaged or missing.
func looksCorrupt(msg string) bool {
	for _, s := range []string{
		"corrupt", "checksum", "MANIFEST", "manifest", "OPTIONS", "invalid", "bad magic",
		"no such file", "does not exist", "unexpected EOF", "file size",
	} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// missingTable matches Pebble's message for a table file that is gone.
var missingTable = regexp.MustCompile(`file (\d{6}) \(type sstable\)`)

// corruptFile names the damaged file from Pebble's message, or else the
// MANIFEST, which every recovery starts from.
func corruptFile(dir, msg string) string {
	if m := missingTable.FindStringSubmatch(msg); m != nil {
		return inDir(dir, m[1]+".sst")
	}
	if m := pebbleFile.FindString(msg); m != "" {
		if strings.HasPrefix(m, dir) || strings.Contains(m, "/") {
			return m
		}
		return inDir(dir, m)
	}
	return inDir(dir, "MANIFEST-*")
}

// formatMarker names the file that records the format version.
func formatMarker(dir string, fsys vfs.FS) string {
	names, _ := fsys.List(dir)
	slices.Sort(names)
	for _, n := range slices.Backward(names) {
		if strings.HasPrefix(n, "marker.format-version.") {
			return inDir(dir, n)
		}
	}
	return inDir(dir, "marker.format-version.*")
}

// precheck refuses a directory that holds Pebble tables or a MANIFEST but
// no manifest marker: Pebble would take it for a new store and delete the
// tables it does not know as obsolete.
func precheck(dir string, fsys vfs.FS) error {
	names, err := fsys.List(dir)
	if err != nil {
		return fmt.Errorf("store %s: list data directory: %w", dir, err)
	}
	data, marker := "", false
	for _, n := range names {
		switch {
		case strings.HasPrefix(n, "marker.manifest."):
			marker = true
		case data == "" && (strings.HasPrefix(n, "MANIFEST-") || strings.HasSuffix(n, ".sst") || strings.HasSuffix(n, ".blob")):
			data = n
		}
	}
	if data != "" && !marker {
		return fmt.Errorf("store %s: %w (file %s): the store holds %s but its marker.manifest.* file "+
			"is missing; restore the directory from a backup, or move it aside to start empty; nothing was changed",
			dir, ErrCorrupt, inDir(dir, "marker.manifest.*"), data)
	}
	return nil
}

// inDir names a file in dir as the user wrote dir ("./data/LOCK", where
// filepath.Join would print "data/LOCK").
func inDir(dir, name string) string {
	if strings.HasSuffix(dir, string(filepath.Separator)) {
		return dir + name
	}
	return dir + string(filepath.Separator) + name
}
