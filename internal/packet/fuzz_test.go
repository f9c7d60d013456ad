package packet

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

// FuzzDecode feeds arbitrary bytes through ParseFixedHeader and Decode for
// every connection state. Nothing may panic, every error must be an
// *Error (or ErrIncomplete), and whatever decodes must re-encode, with
// Size matching, to bytes that decode to an equal packet.
//
// The seed corpus in testdata/fuzz/FuzzDecode holds the golden packets
// (regenerate with go test -run TestUpdateFuzzSeeds -update-fuzz-seeds)
// plus crashers found by fuzzing.
func FuzzDecode(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := ParseFixedHeader(data)
		if err != nil {
			checkErr(t, err)
			return
		}
		if len(data) < h.PacketLen() {
			return
		}
		body := data[h.HeaderLen:h.PacketLen()]
		for _, v := range []byte{0, V31, V311, V5} {
			p, err := Decode(h, body, v)
			if err != nil {
				checkErr(t, err)
				continue
			}
			if p.Type() != h.Type {
				t.Fatalf("decoded %s from a %s header", p.Type(), h.Type)
			}
			checkFuzzRoundTrip(t, p, v)
		}
	})
}

func checkErr(t *testing.T, err error) {
	t.Helper()
	var e *Error
	if !errors.Is(err, ErrIncomplete) && !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *Error", err, err)
	}
}

// checkFuzzRoundTrip is checkRoundTrip without a fixed expected encoding,
// plus the DecodePublish path.
func checkFuzzRoundTrip(t *testing.T, p Packet, v byte) {
	t.Helper()
	out, err := Append(nil, p, v)
	if err != nil {
		t.Fatalf("Append(%#v): %v", p, err)
	}
	if n := Size(p, v); n != len(out) {
		t.Fatalf("Size = %d, Append wrote %d", n, len(out))
	}
	h, err := ParseFixedHeader(out)
	if err != nil || h.PacketLen() != len(out) {
		t.Fatalf("re-encoding % x: header %+v, %v", out, h, err)
	}
	p2, err := Decode(h, out[h.HeaderLen:], v)
	if err != nil {
		t.Fatalf("re-encoding % x of %#v does not decode: %v", out, p, err)
	}
	if !reflect.DeepEqual(normalize(p), normalize(p2)) {
		t.Fatalf("round trip changed the packet\n got %#v\nwant %#v", p2, p)
	}
	if pub, ok := p.(*Publish); ok {
		if out2 := AppendPublish(nil, pub, v); !bytes.Equal(out2, out) {
			t.Fatalf("AppendPublish differs from Append")
		}
		var q Publish
		q.Topic = "stale"
		if err := DecodePublish(h, out[h.HeaderLen:], v, &q); err != nil {
			t.Fatalf("DecodePublish: %v", err)
		}
		if !reflect.DeepEqual(normalize(&q), normalize(p)) {
			t.Fatalf("DecodePublish gives %#v, Decode %#v", &q, p)
		}
	}
}
