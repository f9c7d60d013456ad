// Package bench is a load generator for MQTT brokers: raw MQTT 3.1.1 and 5
// clients over TCP, TLS or WebSocket, built on internal/packet with no
// client library in between, and the scenarios of baram bench.
//
//   - Pub (StartPub, PubRun) runs N publishers at QoS 0, 1 or 2. Each
//     encodes its PUBLISH once and patches the packet identifier and
//     payload header in place, keeps a window of W unacknowledged
//     messages, writes everything the window allows in one syscall, and
//     has a reader goroutine that counts PUBACKs (or PUBREC/PUBCOMP) and
//     records publish-to-acknowledgement latency. With a Rate, each
//     publisher wakes on a ticker and writes the messages due since it
//     started in one write (pace.go), not one timer per message.
//   - Sub (StartSub, SubRun) runs M subscribers that count what they
//     receive and, from the sequence numbers the publishers put in every
//     payload, detect loss and duplicates.
//   - ConnRun opens many idle connections at a rate and holds them.
//   - Run runs a named scenario (conn, pub, sub, fanin, fanout, pairs,
//     latency) out of these and returns a Report, with Snapshots for a
//     progress line while it goes on.
//
// Target.Dial is the one way every client connects: TCP, TLS, or a
// WebSocket (subprotocol "mqtt", binary messages) over either, optionally
// from a list of source addresses (one source address has about 28,000
// ephemeral ports). Unless Target.AllowRemote is set, which baram bench
// does, the broker and the source addresses must be loopback addresses:
// tests and development tools never load another machine by mistake.
//
// Every loop is bounded in count and in time: a run stops at its Count or
// Duration (at most MaxRunTime), waits at most DrainTimeout for the last
// acknowledgements and then closes its connections.
//
// Payload layout (PayloadHeader bytes, when the payload is that large):
// run id (4 bytes), publisher index (4), sequence number from 0 (8), send
// time in Unix nanoseconds (8), all big-endian; the rest is filler.
package bench
