// Package bench is a load generator for MQTT brokers: raw MQTT 3.1.1
// clients over TCP, built on internal/packet with no client library in
// between, and two scenarios.
//
//   - Pub runs N publishers at QoS 0, 1 or 2. Each encodes its PUBLISH once
//     and patches the packet identifier and payload header in place, keeps
//     a window of W unacknowledged messages, writes everything the window
//     allows in one syscall, and has a reader goroutine that counts
//     PUBACKs (or PUBREC/PUBCOMP) and records publish-to-acknowledgement
//     latency.
//   - Sub runs M subscribers that count what they receive and, from the
//     sequence numbers the publishers put in every payload, detect loss
//     and duplicates.
//
// Traffic goes to loopback addresses only, optionally from a list of
// 127.0.0.x source addresses (one source address has about 28,000
// ephemeral ports). Every loop is bounded in count and in time: a run
// stops at its Count or Duration, waits at most DrainTimeout for the last
// acknowledgements and then closes its connections.
//
// Payload layout (PayloadHeader bytes, when the payload is that large):
// run id (4 bytes), publisher index (4), sequence number from 0 (8), send
// time in Unix nanoseconds (8), all big-endian; the rest is filler.
package bench
