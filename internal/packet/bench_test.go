package packet

import (
	"bytes"
	"testing"
)

var (
	sinkPacket Packet
	sinkBytes  []byte
)

// publishBench is a PUBLISH on topic "sensors/kitchen/temperature" with a
// 64-byte payload.
func publishBench(qos byte, version byte, props bool) []byte {
	p := &Publish{QoS: qos, Topic: "sensors/kitchen/temperature", Payload: bytes.Repeat([]byte{'x'}, 64)}
	if qos > 0 {
		p.PacketID = 42
	}
	if props {
		p.Props.PayloadFormat = 1
		p.Props.Set(PropPayloadFormat)
		p.Props.MessageExpiry = 3600
		p.Props.Set(PropMessageExpiry)
	}
	return AppendPublish(nil, p, version)
}

func BenchmarkDecodePublish(b *testing.B) {
	cases := []struct {
		name    string
		qos     byte
		version byte
		props   bool
	}{
		{"QoS0/v3.1.1", 0, V311, false},
		{"QoS1/v3.1.1", 1, V311, false},
		{"QoS0/v5", 0, V5, false},
		{"QoS1/v5", 1, V5, false},
		{"QoS1/v5+props", 1, V5, true},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			pkt := publishBench(c.qos, c.version, c.props)
			h, err := ParseFixedHeader(pkt)
			if err != nil {
				b.Fatal(err)
			}
			body := pkt[h.HeaderLen:]
			var p Publish
			b.SetBytes(int64(len(pkt)))
			b.ReportAllocs()
			for b.Loop() {
				h, _ := ParseFixedHeader(pkt)
				if err := DecodePublish(h, body, c.version, &p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkAppendPublish(b *testing.B) {
	for _, c := range []struct {
		name    string
		version byte
		props   bool
	}{{"v3.1.1", V311, false}, {"v5+props", V5, true}} {
		b.Run(c.name, func(b *testing.B) {
			pkt := publishBench(1, c.version, c.props)
			h, _ := ParseFixedHeader(pkt)
			var p Publish
			if err := DecodePublish(h, pkt[h.HeaderLen:], c.version, &p); err != nil {
				b.Fatal(err)
			}
			buf := make([]byte, 0, 256)
			b.SetBytes(int64(len(pkt)))
			b.ReportAllocs()
			for b.Loop() {
				buf = AppendPublish(buf[:0], &p, c.version)
			}
			sinkBytes = buf
		})
	}
}

func BenchmarkDecodeConnect(b *testing.B) {
	for _, c := range []struct {
		name   string
		golden string
	}{{"v3.1.1", "connect-v311-full"}, {"v5", "connect-v5-properties"}} {
		b.Run(c.name, func(b *testing.B) {
			var in []byte
			for _, g := range loadGolden(b) {
				if g.name == c.golden {
					in = g.in
				}
			}
			h, err := ParseFixedHeader(in)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				p, err := Decode(h, in[h.HeaderLen:], 0)
				if err != nil {
					b.Fatal(err)
				}
				sinkPacket = p
			}
		})
	}
}
