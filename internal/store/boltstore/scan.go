package boltstore

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/baram-mqtt/baram/internal/store"
	bolt "go.etcd.io/bbolt"
)

// Scan reads in chunks of this many keys or bytes (at least one key).
const (
	scanChunkKeys  = 256
	scanChunkBytes = 1 << 20
)

// Scan calls fn for every key with prefix from start, in order. It copies a
// chunk of keys out of a read transaction and calls fn outside it, so fn may
// commit (a bbolt write that grows the file waits for every open read
// transaction, and would wait for this one forever). Each chunk is a
// consistent view; the scan as a whole is not a snapshot.
func (s *Store) Scan(prefix, start []byte, fn func(key, value []byte) error) error {
	if !s.gate.Enter() {
		return store.ErrClosed
	}
	defer s.gate.Exit()
	from := prefix
	if bytes.Compare(start, prefix) > 0 {
		from = start
	}
	end := store.PrefixEnd(prefix)
	var (
		arena []byte
		spans []int // arena offsets: key start, value start, value end, ...
	)
	for {
		arena, spans = arena[:0], spans[:0]
		err := s.view(func(b *bolt.Bucket) error {
			c := b.Cursor()
			for k, v := c.Seek(from); k != nil; k, v = c.Next() {
				if end != nil && bytes.Compare(k, end) >= 0 {
					break
				}
				if n := len(spans) / 3; n >= scanChunkKeys || (n > 0 && len(arena) >= scanChunkBytes) {
					break
				}
				spans = append(spans, len(arena))
				arena = append(arena, k...)
				spans = append(spans, len(arena))
				arena = append(arena, v...)
				spans = append(spans, len(arena))
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("store %s: scan: %w", s.dir, err)
		}
		n := len(spans) / 3
		for i := range n {
			k := arena[spans[3*i]:spans[3*i+1]:spans[3*i+1]]
			v := arena[spans[3*i+1]:spans[3*i+2]:spans[3*i+2]]
			if err := fn(k, v); err != nil {
				if errors.Is(err, store.ErrStop) {
					return nil
				}
				return err
			}
		}
		if n < scanChunkKeys && (n == 0 || len(arena) < scanChunkBytes) {
			return nil
		}
		last := arena[spans[3*(n-1)]:spans[3*(n-1)+1]]
		from = append(bytes.Clone(last), 0) // the smallest key after last
	}
}
