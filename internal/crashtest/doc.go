// Package crashtest holds the crash test of baram: it builds the real
// binary, runs "baram serve --data-dir" with raw MQTT 5 publishers and
// persistent subscribers attached, kills it with SIGKILL again and again
// while QoS 1 and QoS 2 traffic flows, and checks the durability promise:
// once baram has sent PUBACK (QoS 1) or PUBREC (QoS 2) for a message, the
// message survives the crash and is delivered as its QoS says, at least
// once for QoS 1 and exactly once for QoS 2.
//
// The package has only tests. BARAM_CRASH_KILLS sets the number of kills
// (default 20) and BARAM_CRASH_SEED the seed of the kill timing (default
// time-based; the test always logs it).
package crashtest
