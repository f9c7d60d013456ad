package broker_test

// Robustness: what the broker does with clients that break the protocol,
// stall, or send garbage. For every bad client the broker must answer as
// the specification says (usually: close the connection, with no CONNACK
// when the CONNECT itself is bad), log why, and go on serving a
// well-behaved client that stays connected throughout.

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/baram-mqtt/baram/internal/broker"
	"github.com/baram-mqtt/baram/internal/brokertest"
	"github.com/baram-mqtt/baram/internal/packet"
)

// badMaxPacket is the maximum packet size of the bad-input brokers.
const badMaxPacket = 1024

// goodClient is a well-behaved 3.1.1 client that publishes to itself.
type goodClient struct {
	*brokertest.V3
	topic string
	n     int
}

func newGoodClient(t *testing.T, addr string) *goodClient {
	t.Helper()
	g := &goodClient{V3: brokertest.ConnectV3(t, addr, "good", packet.V311), topic: "good/echo"}
	g.Sub(t, g.topic, 1)
	g.check(t)
	return g
}

// check fails the test unless the client is still connected and a QoS 1
// message it publishes comes back to it, and is the next it receives.
func (g *goodClient) check(t *testing.T) {
	t.Helper()
	g.Connected(t)
	g.n++
	want := fmt.Sprint("ping ", g.n)
	g.Pub(t, g.topic, 1, false, want)
	if m := g.Next(t); string(m.Payload()) != want || m.Qos() != 1 {
		t.Fatalf("well-behaved client got %q QoS %d, want %q QoS 1", m.Payload(), m.Qos(), want)
	}
	g.Connected(t)
}

// badBroker starts a broker for bad clients, with a small maximum packet
// size, and connects a well-behaved client to it.
func badBroker(t *testing.T, connectTimeout time.Duration) (*broker.Broker, string, *v3LogSink, *goodClient) {
	t.Helper()
	b, addr, logs := v3Broker(t, broker.Options{MaxPacketSize: badMaxPacket, ConnectTimeout: connectTimeout})
	return b, addr, logs, newGoodClient(t, addr)
}

// A CONNECT with flags and fields to taste, for protocol level 4.
func badConnect(flags byte, payload ...[]byte) []byte {
	return v3ConnectBytes("MQTT", 4, flags, 30, payload...)
}

func publishBytes(first byte, topic string, rest ...[]byte) []byte {
	return v3Pkt(first, append([][]byte{v3Str(topic)}, rest...)...)
}

type badCase struct {
	name    string
	connect byte   // protocol level of a valid CONNECT sent first; 0 for none
	send    []byte // the bad bytes
	log     string // part of the protocol violation the broker must log
	reply   []byte // what the broker sends before closing; nil for nothing
}

// badCases are protocol violations after which the broker must close the
// connection at once [MQTT-4.8.0-1] (3.1.1 section 4.8: "the Server MUST
// close the Network Connection"), sending nothing: 3.x has no DISCONNECT
// from the server, and a CONNECT that does not parse gets no CONNACK.
var badCases = []badCase{
	// Before CONNECT.
	{name: "PINGREQ first", send: []byte{0xC0, 0}, log: "first packet is PINGREQ"}, // [MQTT-3.1.0-1]
	{name: "PUBLISH first", send: publishBytes(0x30, "a/b", []byte("x")), log: "first packet is PUBLISH"},
	{name: "SUBSCRIBE first", send: v3Pkt(0x82, v3U16(1), v3Str("a"), []byte{0}), log: "first packet is SUBSCRIBE"},
	{name: "packet type 0", send: []byte{0x00, 0}, log: "reserved packet type 0"},                                                     // section 2.2.1: forbidden
	{name: "CONNECT reserved flag", send: badConnect(0x03, v3Str("id")), log: "reserved bit set"},                                     // [MQTT-3.1.2-3]
	{name: "CONNECT fixed header flags", send: append([]byte{0x11}, badConnect(0x02, v3Str("id"))[1:]...), log: "fixed header flags"}, // [MQTT-2.2.2-2]
	{name: "client id invalid UTF-8", send: badConnect(0x02, v3Str("\xc3\x28")), log: "invalid UTF-8"},                                // [MQTT-1.5.3-1]
	{name: "client id UTF-16 surrogate", send: badConnect(0x02, v3Str("id\xed\xa0\x80")), log: "invalid UTF-8"},                       // [MQTT-1.5.3-1]
	{name: "client id U+0000", send: badConnect(0x02, v3Str("a\x00b")), log: "U+0000"},                                                // [MQTT-1.5.3-2]
	{name: "3.1 client id surrogate", send: v3ConnectBytes("MQIsdp", 3, 0x02, 30, v3Str("\xed\xbf\xbf")), log: "invalid UTF-8"},
	{name: "user name invalid UTF-8", send: badConnect(0xC2, v3Str("id"), v3Str("\xff"), v3Str("pw")), log: "user name"},
	{name: "password without user name", send: badConnect(0x42, v3Str("id"), v3Str("pw")), log: "password flag without user name"}, // [MQTT-3.1.2-22]
	{name: "will QoS 3", send: badConnect(0x1E, v3Str("id"), v3Str("w"), v3Str("x")), log: "will QoS 3"},                           // [MQTT-3.1.2-14]
	{name: "will QoS without will flag", send: badConnect(0x0A, v3Str("id")), log: "without will flag"},                            // [MQTT-3.1.2-13]
	{name: "will retain without will flag", send: badConnect(0x22, v3Str("id")), log: "without will flag"},                         // [MQTT-3.1.2-15]
	{name: "will topic wildcard", send: badConnect(0x06, v3Str("id"), v3Str("w/#"), v3Str("x")), log: "wildcard"},
	{name: "CONNECT truncated field", send: badConnect(0x02, []byte{0, 50, 'i', 'd'}), log: "exceeds"},
	{name: "CONNECT trailing bytes", send: badConnect(0x02, v3Str("id"), []byte{1, 2}), log: "trailing"},
	{name: "CONNECT remaining length 5 bytes", send: []byte{0x10, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F}, log: "remaining length"}, // section 2.2.3: four bytes at most
	{name: "CONNECT over max packet size", send: v3Pkt(0x10, make([]byte, badMaxPacket)), log: "maximum packet size"},
	{name: "CONNECT huge length claim", send: []byte{0x10, 0xFF, 0xFF, 0xFF, 0x7F, 0, 4, 'M'}, log: "maximum packet size"},

	// After CONNECT.
	{name: "second CONNECT", connect: 4, send: badConnect(0x02, v3Str("again")), log: "second CONNECT"}, // [MQTT-3.1.0-2]
	{name: "3.1 second CONNECT", connect: 3, send: v3ConnectBytes("MQIsdp", 3, 0x02, 30, v3Str("again")), log: "second CONNECT"},
	{name: "SUBSCRIBE flags 0", connect: 4, send: v3Pkt(0x80, v3U16(1), v3Str("a"), []byte{0}), log: "fixed header flags"},    // [MQTT-3.8.1-1]
	{name: "UNSUBSCRIBE flags 0", connect: 4, send: v3Pkt(0xA0, v3U16(1), v3Str("a")), log: "fixed header flags"},             // [MQTT-3.10.1-1]
	{name: "PUBREL flags 0", connect: 4, send: []byte{0x60, 2, 0, 1}, log: "fixed header flags"},                              // [MQTT-3.6.1-1]
	{name: "PUBACK flags 2", connect: 4, send: []byte{0x42, 2, 0, 1}, log: "fixed header flags"},                              // [MQTT-2.2.2-2]
	{name: "PINGREQ flags 1", connect: 4, send: []byte{0xC1, 0}, log: "fixed header flags"},                                   // [MQTT-2.2.2-2]
	{name: "DISCONNECT flags 1", connect: 4, send: []byte{0xE1, 0}, log: "fixed header flags"},                                // [MQTT-2.2.2-2]
	{name: "PUBLISH QoS 3", connect: 4, send: publishBytes(0x36, "a", v3U16(1)), log: "QoS 3"},                                // [MQTT-3.3.1-4]
	{name: "PUBLISH DUP on QoS 0", connect: 4, send: publishBytes(0x38, "a"), log: "DUP"},                                     // [MQTT-3.3.1-2]
	{name: "remaining length 5 bytes", connect: 4, send: []byte{0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F}, log: "remaining length"}, // section 2.2.3: four bytes at most
	{name: "remaining length not minimal", connect: 4, send: []byte{0xC0, 0x80, 0x00}, log: "remaining length"},
	{name: "PUBLISH over max packet size", connect: 4, send: publishBytes(0x30, "big", make([]byte, badMaxPacket)), log: "maximum packet size"},
	{name: "PUBLISH huge length claim", connect: 4, send: []byte{0x30, 0xFF, 0xFF, 0xFF, 0x7F, 0, 1, 'a'}, log: "maximum packet size"},
	{name: "topic invalid UTF-8", connect: 4, send: publishBytes(0x30, "a/\xc3\x28"), log: "UTF-8"},        // [MQTT-1.5.3-1]
	{name: "topic UTF-16 surrogate", connect: 4, send: publishBytes(0x30, "a/\xed\xa0\x80"), log: "UTF-8"}, // [MQTT-1.5.3-1]
	{name: "topic U+0000", connect: 4, send: publishBytes(0x30, "a/\x00"), log: "U+0000"},                  // [MQTT-1.5.3-2]
	{name: "topic empty", connect: 4, send: publishBytes(0x30, ""), log: "empty"},                          // [MQTT-4.7.3-1]
	{name: "topic with +", connect: 4, send: publishBytes(0x30, "a/+"), log: "wildcard"},                   // [MQTT-3.3.2-2]
	{name: "topic with #", connect: 4, send: publishBytes(0x32, "a/#", v3U16(1)), log: "wildcard"},         // [MQTT-3.3.2-2]
	{name: "3.1 topic with #", connect: 3, send: publishBytes(0x30, "#"), log: "wildcard"},
	{name: "topic length past the end", connect: 4, send: v3Pkt(0x30, []byte{0, 9}, []byte("abc")), log: "exceeds"},
	{name: "QoS 1 packet id 0", connect: 4, send: publishBytes(0x32, "a", v3U16(0), []byte("x")), log: "packet identifier 0"}, // [MQTT-2.3.1-1]
	{name: "QoS 2 packet id 0", connect: 4, send: publishBytes(0x34, "a", v3U16(0)), log: "packet identifier 0"},              // [MQTT-2.3.1-1]
	{name: "SUBSCRIBE no filters", connect: 4, send: v3Pkt(0x82, v3U16(1)), log: "no topic filter"},                           // [MQTT-3.8.3-3]
	{name: "3.1 SUBSCRIBE no filters", connect: 3, send: v3Pkt(0x82, v3U16(1)), log: "no topic filter"},
	{name: "SUBSCRIBE QoS 3", connect: 4, send: v3Pkt(0x82, v3U16(1), v3Str("a"), []byte{3}), log: "QoS 3"}, // [MQTT-3.8.3-4]
	{name: "SUBSCRIBE reserved option bits", connect: 4, send: v3Pkt(0x82, v3U16(1), v3Str("a"), []byte{0x04}), log: "reserved"},
	{name: "SUBSCRIBE packet id 0", connect: 4, send: v3Pkt(0x82, v3U16(0), v3Str("a"), []byte{0}), log: "packet identifier 0"},
	{name: "SUBSCRIBE filter invalid UTF-8", connect: 4, send: v3Pkt(0x82, v3U16(1), v3Str("\xc0\xaf"), []byte{0}), log: "UTF-8"},
	{name: "SUBSCRIBE missing QoS byte", connect: 4, send: v3Pkt(0x82, v3U16(1), v3Str("a")), log: "subscribe"},
	{name: "UNSUBSCRIBE no filters", connect: 4, send: v3Pkt(0xA2, v3U16(1)), log: "no topic filter"}, // [MQTT-3.10.3-2]
	{name: "PUBACK trailing bytes", connect: 4, send: []byte{0x40, 3, 0, 1, 0}, log: "trailing"},
	{name: "PUBACK packet id 0", connect: 4, send: []byte{0x40, 2, 0, 0}, log: "packet identifier 0"},
	{name: "PINGREQ with a body", connect: 4, send: []byte{0xC0, 1, 0}, log: "remaining length 1"},
	{name: "DISCONNECT with a body", connect: 4, send: []byte{0xE0, 1, 0}, log: "remaining length 1"},
	{name: "AUTH in 3.1.1", connect: 4, send: []byte{0xF0, 0}, log: "AUTH"}, // reserved before MQTT 5
	{name: "CONNACK from a client", connect: 4, send: []byte{0x20, 2, 0, 0}, log: "not sent by clients"},
	{name: "SUBACK from a client", connect: 4, send: []byte{0x90, 3, 0, 1, 0}, log: "not sent by clients"},
	{name: "PINGRESP from a client", connect: 4, send: []byte{0xD0, 0}, log: "not sent by clients"},
}

// Every bad case closes the connection promptly (the broker's connect
// timeout is far longer than the wait here, and the keep alive is 30 s),
// sends nothing, logs the violation, and leaves the well-behaved client
// working.
func TestBadInputProtocolViolations(t *testing.T) {
	_, addr, logs, good := badBroker(t, 0) // default connect timeout: 10 s
	for i, tc := range badCases {
		t.Run(tc.name, func(t *testing.T) {
			version := tc.connect
			if version == 0 {
				version = packet.V311
			}
			r := brokertest.Dial(t, addr, version)
			if tc.connect != 0 {
				r.Connect(&packet.Connect{ClientID: fmt.Sprint("bad-", i), CleanStart: true, KeepAlive: 30})
			}
			v3WriteAll(r.Conn, tc.send)
			got, err := v3Drain(r.Conn, v3Timeout)
			if err != nil {
				t.Fatalf("%v: the broker did not close the connection", err)
			}
			if !bytes.Equal(got, tc.reply) {
				t.Fatalf("broker sent % X before closing, want % X", got, tc.reply)
			}
			logs.wait(t, v3Remote(r.Conn), "closing connection: protocol violation", tc.log)
			good.check(t)
		})
	}
}

// A protocol violation is not a DISCONNECT: the will is published
// [MQTT-3.1.2-8] ("the Server closes the Network Connection because of a
// protocol error").
func TestBadInputWillOnProtocolError(t *testing.T) {
	_, addr, _, good := badBroker(t, 0)
	watch, _ := v3Session(t, addr, packet.V311, "watch", true)
	v3SubscribeOK(t, watch, "bad/will", 1)
	r, _ := v3Dial(t, addr, packet.V311, withWill("violator", true, "bad/will", "broke the rules", 1, false))
	v3WriteAll(r.Conn, publishBytes(0x30, "a/#"))
	v3ReadToClose(t, r.Conn, v3Timeout)
	v3ExpectPublish(t, watch, "bad/will", "broke the rules")
	good.check(t)
}

// The connect timeout: a client that opens a connection and sends
// nothing, or sends its CONNECT so slowly that it is not complete in time,
// is closed once Options.ConnectTimeout has passed. Bytes trickling in do
// not extend it (3.1.1 section 3.1.4: a server SHOULD close a connection
// that sends no CONNECT within a reasonable time).
func TestBadInputConnectTimeout(t *testing.T) {
	const timeout = 500 * time.Millisecond
	_, addr, logs, good := badBroker(t, timeout)

	t.Run("silent", func(t *testing.T) {
		start := time.Now()
		r := brokertest.Dial(t, addr, packet.V311)
		got := v3ReadToClose(t, r.Conn, v3Timeout)
		if d := time.Since(start); d < timeout-50*time.Millisecond || d > timeout+time.Second {
			t.Fatalf("closed after %v, want about %v", d, timeout)
		}
		if len(got) > 0 {
			t.Fatalf("broker sent % X", got)
		}
		logs.wait(t, v3Remote(r.Conn), "no CONNECT within the connect timeout")
		good.check(t)
	})

	t.Run("trickle", func(t *testing.T) {
		connect := badConnect(0x02, v3Str("a-slow-client-with-a-long-id"))
		start := time.Now()
		r := brokertest.Dial(t, addr, packet.V311)
		stop := make(chan struct{})
		sent := make(chan int)
		go func() { // one byte every 100 ms: the whole CONNECT would take seconds
			tick := time.NewTicker(100 * time.Millisecond)
			defer tick.Stop()
			n := 0 // bytes written
			defer func() { sent <- n }()
			for n < len(connect) {
				r.Conn.SetWriteDeadline(time.Now().Add(v3Timeout))
				if _, err := r.Conn.Write(connect[n : n+1]); err != nil {
					return
				}
				n++
				select {
				case <-tick.C:
				case <-stop:
					return
				}
			}
		}()
		got, err := v3Drain(r.Conn, v3Timeout)
		d := time.Since(start)
		close(stop)
		n := <-sent
		if err != nil {
			t.Fatalf("trickling client not closed: %v", err)
		}
		if len(got) > 0 {
			t.Fatalf("broker sent % X", got)
		}
		if n >= len(connect) {
			t.Fatalf("the whole CONNECT went out (%d bytes) before the close", n)
		}
		if n < 3 {
			t.Fatalf("only %d bytes trickled in before the close", n)
		}
		if d < timeout-50*time.Millisecond || d > timeout+time.Second {
			t.Fatalf("closed after %v (%d bytes sent), want about %v", d, n, timeout)
		}
		logs.wait(t, v3Remote(r.Conn), "no CONNECT within the connect timeout")
		good.check(t)
	})
}

// A client that sends part of a packet and then closes its socket is
// cleaned up (the broker does not wait for the rest), before and after
// CONNECT; in the second case the will is published, as for any end
// without DISCONNECT.
func TestBadInputPartialThenClose(t *testing.T) {
	b, addr, logs, good := badBroker(t, 0)
	watch, _ := v3Session(t, addr, packet.V311, "watch", true)
	v3SubscribeOK(t, watch, "partial/will", 0)
	base := b.Stats().Connections

	r := brokertest.Dial(t, addr, packet.V311)
	connect := badConnect(0x02, v3Str("partial"))
	v3WriteAll(r.Conn, connect[:len(connect)-3])
	remote := v3Remote(r.Conn)
	r.Conn.Close()
	logs.wait(t, remote, "connection closed by client")

	r, _ = v3Dial(t, addr, packet.V311, withWill("partial", true, "partial/will", "cut", 0, false))
	v3WriteAll(r.Conn, publishBytes(0x30, "a/b", []byte("a payload that never ends"))[:12])
	remote = v3Remote(r.Conn)
	r.Conn.Close()
	v3ExpectPublish(t, watch, "partial/will", "cut")
	logs.wait(t, remote, "connection closed by client")

	v3Eventually(t, "bad connections to be cleaned up", func() bool { return b.Stats().Connections == base })
	good.check(t)
}

// garbage returns n pseudo-random bytes; the seed makes failures
// reproducible.
func garbage(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.UintN(256))
	}
	return b
}

// Random bytes, before and after CONNECT, never get a successful CONNACK
// and always end in a close: at once for most, at the connect timeout
// for bytes that look like the start of a CONNECT within the size limit.
func TestBadInputGarbage(t *testing.T) {
	_, addr, logs, good := badBroker(t, 500*time.Millisecond)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 40 {
		junk := garbage(rng, 1+rng.IntN(200))
		if i%4 == 0 {
			junk[0] = 0x10 // make some look like a CONNECT
		}
		connected := i%2 == 1
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			r := brokertest.Dial(t, addr, packet.V311)
			if connected {
				// Keep alive 1: garbage that looks like the header of a
				// packet within the size limit makes the broker wait for the
				// body, which never comes; the keep alive ends that wait.
				r.Connect(&packet.Connect{ClientID: fmt.Sprint("junk-", i), CleanStart: true, KeepAlive: 1})
			}
			v3WriteAll(r.Conn, junk)
			got, err := v3Drain(r.Conn, v3Timeout)
			if err != nil {
				t.Fatalf("garbage % X: %v", junk, err)
			}
			// Before CONNECT: at most a refusing CONNACK (for a protocol
			// name that happens to parse), never an accepting one.
			if !connected && len(got) > 0 && (len(got) != 4 || got[0] != 0x20 || got[3] == 0) {
				t.Fatalf("garbage % X: broker sent % X", junk, got)
			}
			if connected {
				// A protocol violation, or the keep alive timeout.
				logs.wait(t, v3Remote(r.Conn), "closing connection")
			}
		})
	}
	good.check(t)
}

// A header that claims a large packet costs no memory until the bytes
// arrive: the broker grows its read buffer with what it receives, not to
// the announced length, so a client cannot make it allocate up to the
// maximum packet size with five bytes.
func TestBadInputClaimedLengthAllocation(t *testing.T) {
	const maxPacket = 64 << 20
	b, addr, _ := v3Broker(t, broker.Options{MaxPacketSize: maxPacket})
	base := b.Stats().Connections
	const clients = 4
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range clients {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		claim := maxPacket - 16
		hdr := []byte{0x10, byte(claim) | 0x80, byte(claim>>7) | 0x80, byte(claim>>14) | 0x80, byte(claim >> 21)}
		v3WriteAll(nc, append(hdr, 0, 4, 'M', 'Q'))
		nc.(*net.TCPConn).CloseWrite() // the broker reads the header, then EOF
		v3ReadToClose(t, nc, v3Timeout)
		nc.Close()
	}
	v3Eventually(t, "connections to close", func() bool { return b.Stats().Connections == base })
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 16<<20 {
		t.Fatalf("%d clients that each sent 9 bytes made the broker allocate %d MiB", clients, grew>>20)
	}
}

// Many bad clients at once (50 goroutines, each reconnecting and sending
// garbage or a protocol violation) do not disturb a well-behaved pair
// exchanging QoS 1 messages: every message arrives, in order, and the
// bad connections are all cleaned up.
func TestBadInputFlood(t *testing.T) {
	b, addr, _, good := badBroker(t, 500*time.Millisecond)
	sub := brokertest.ConnectV3(t, addr, "flood-sub", packet.V311)
	sub.Sub(t, "flood/t", 1)
	pub := brokertest.ConnectV3(t, addr, "flood-pub", packet.V311)
	base := b.Stats().Connections

	stop := make(chan struct{})
	var wg, warm sync.WaitGroup
	const workers = 50
	warm.Add(workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			first := true
			for {
				var payload []byte
				if tc := badCases[rng.IntN(len(badCases))]; rng.IntN(2) == 0 && tc.send[0] != 0x10 {
					payload = tc.send // a violation after CONNECT is one before it too
				} else {
					payload = garbage(rng, 1+rng.IntN(300))
				}
				nc, err := net.Dial("tcp", addr)
				if err != nil {
					t.Errorf("dial: %v", err)
					return
				}
				v3WriteAll(nc, payload)
				if got, err := v3Drain(nc, v3Timeout); err != nil {
					t.Errorf("bad client % X not closed: %v (got % X)", payload, err, got)
				}
				nc.Close()
				if first {
					warm.Done()
					first = false
				}
				select {
				case <-stop:
					return
				default:
				}
			}
		}()
	}
	warm.Wait() // every bad client has been through at least once

	const n = 300
	for i := range n {
		if tok := pub.Publish("flood/t", 1, false, fmt.Sprint(i)); !tok.WaitTimeout(v3Timeout) || tok.Error() != nil {
			t.Fatalf("publish %d: %v", i, tok.Error())
		}
	}
	for i := range n {
		if m := sub.Next(t); string(m.Payload()) != fmt.Sprint(i) {
			t.Fatalf("message %d: got %q", i, m.Payload())
		}
	}
	close(stop)
	wg.Wait()
	sub.Connected(t)
	pub.Connected(t)
	good.check(t)
	v3Eventually(t, "bad connections to be cleaned up", func() bool { return b.Stats().Connections == base })
}
