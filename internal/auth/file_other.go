//go:build !unix

package auth

import "os"

// keepOwner does nothing where files have no Unix owner.
func keepOwner(*os.File, os.FileInfo) error { return nil }

// syncDir does nothing where directories cannot be synced.
func syncDir(string) error { return nil }
