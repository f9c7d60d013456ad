package bench

import (
	"encoding/binary"
	"math/rand/v2"
)

// PayloadHeader is the size of the header the publishers write at the
// start of every payload of at least that size. A smaller payload carries
// no header, and subscribers can then only count.
const PayloadHeader = 24

// stamp is what a payload header says.
type stamp struct {
	run  uint32
	pub  uint32
	seq  uint64
	sent int64 // Unix nanoseconds
}

func putStamp(b []byte, s stamp) {
	binary.BigEndian.PutUint32(b[0:], s.run)
	binary.BigEndian.PutUint32(b[4:], s.pub)
	binary.BigEndian.PutUint64(b[8:], s.seq)
	binary.BigEndian.PutUint64(b[16:], uint64(s.sent))
}

func readStamp(b []byte) (stamp, bool) {
	if len(b) < PayloadHeader {
		return stamp{}, false
	}
	return stamp{
		run:  binary.BigEndian.Uint32(b[0:]),
		pub:  binary.BigEndian.Uint32(b[4:]),
		seq:  binary.BigEndian.Uint64(b[8:]),
		sent: int64(binary.BigEndian.Uint64(b[16:])),
	}, true
}

// NewRunID returns a random non-zero run id, so that subscribers can tell
// this run's messages from ones an earlier run left queued.
func NewRunID() uint32 {
	for {
		if id := rand.Uint32(); id != 0 {
			return id
		}
	}
}

// filler is the payload template: a header's worth of zeros then 'x'.
func filler(size int) []byte {
	p := make([]byte, size)
	for i := min(PayloadHeader, size); i < size; i++ {
		p[i] = 'x'
	}
	return p
}
