package broker_test

import (
	"bytes"
	"io"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/baram-mqtt/baram/internal/broker"
	"github.com/baram-mqtt/baram/internal/brokertest"
	"github.com/baram-mqtt/baram/internal/packet"
)

// v3Refused sends a hand-made CONNECT and fails unless the broker answers
// with exactly a 3.x CONNACK carrying return code rc and then closes the
// connection [MQTT-3.2.2-4], [MQTT-3.2.2-5].
func v3Refused(t *testing.T, addr string, connect []byte, rc byte) {
	t.Helper()
	r := brokertest.Dial(t, addr, packet.V311)
	r.SendBytes(connect)
	if got := v3ReadToClose(t, r.Conn, v3Timeout); !bytes.Equal(got, v3Connack(rc)) {
		t.Fatalf("got % X, want CONNACK return code %d (% X) and close", got, rc, v3Connack(rc))
	}
}

// v3ProtocolName is the name each 3.x level goes with.
func v3ProtocolName(level byte) string {
	if level == packet.V31 {
		return "MQIsdp"
	}
	return "MQTT"
}

// An unknown protocol level, or a level that does not go with the name, is
// answered with return code 1 and a close [MQTT-3.1.2-2].
func TestV3ConnectUnsupportedProtocol(t *testing.T) {
	_, addr, logs := v3Broker(t, broker.Options{})
	for _, tc := range []struct {
		name  string
		level byte
	}{
		{"MQTT", 6},
		{"MQTT", 3},   // 3.1's level with 3.1.1's name
		{"MQIsdp", 4}, // 3.1.1's level with 3.1's name
		{"MQTT", 0},
	} {
		v3Refused(t, addr, v3ConnectBytes(tc.name, tc.level, 0x02, 30, v3Str("id")), packet.ConnRefusedVersion)
	}
	logs.wait(t, "unsupported protocol")
}

// A 3.1.1 client may leave the client id empty only with clean session 1
// [MQTT-3.1.3-7], [MQTT-3.1.3-8]; MQTT 3.1 requires a client id of its
// own (section 3.1: 1 to 23 characters), so an empty one is refused with
// return code 2.
func TestV3ConnectEmptyClientID(t *testing.T) {
	_, addr, logs := v3Broker(t, broker.Options{})

	t.Run("3.1.1 clean session 0 refused", func(t *testing.T) {
		v3Refused(t, addr, v3ConnectBytes("MQTT", 4, 0x00, 30, v3Str("")), packet.ConnRefusedIdentifier)
		logs.wait(t, "connection refused", "empty client id needs clean session")
	})
	t.Run("3.1 refused", func(t *testing.T) {
		v3Refused(t, addr, v3ConnectBytes("MQIsdp", 3, 0x02, 30, v3Str("")), packet.ConnRefusedIdentifier)
		v3Refused(t, addr, v3ConnectBytes("MQIsdp", 3, 0x00, 30, v3Str("")), packet.ConnRefusedIdentifier)
		logs.wait(t, "connection refused", "MQTT 3.1 requires a client id")
	})
	t.Run("3.1.1 clean session 1 accepted", func(t *testing.T) {
		// Two clients without ids get different ids: the second does not
		// take over the first, and both receive what they subscribed to.
		a, ack := v3Session(t, addr, packet.V311, "", true)
		if ack.SessionPresent {
			t.Fatal("session present for a new clean session [MQTT-3.2.2-1]")
		}
		b, _ := v3Session(t, addr, packet.V311, "", true)
		v3SubscribeOK(t, a, "anon/t", 0)
		v3SubscribeOK(t, b, "anon/t", 0)
		v3Publish(t, b, &packet.Publish{Topic: "anon/t", Payload: []byte("hi")})
		v3ExpectPublish(t, a, "anon/t", "hi")
		v3ExpectPublish(t, b, "anon/t", "hi")
		if got := v3Ping(t, a); len(got) != 0 {
			t.Fatalf("unexpected %+v", got)
		}
	})
}

// Users and AllowAnonymous: a wrong password or unknown user is return
// code 4, a client without a user name when anonymous clients are not
// allowed is return code 5 (3.1.1 section 3.2.2.3); both close the
// connection [MQTT-3.2.2-5].
func TestV3ConnectAuth(t *testing.T) {
	users := map[string]string{"alice": "secret"}
	_, addr, logs := v3Broker(t, broker.Options{Users: users})
	_, anonAddr, _ := v3Broker(t, broker.Options{Users: users, AllowAnonymous: true})
	for _, v := range v3Versions {
		t.Run(v.name, func(t *testing.T) {
			name, level := v3ProtocolName(v.level), v.level
			const user, pass = 0x80, 0x40
			login := func(u, p string) []byte {
				return v3ConnectBytes(name, level, 0x02|user|pass, 30, v3Str("c-"+v.name), v3Str(u), v3Str(p))
			}
			v3Refused(t, addr, login("alice", "wrong"), packet.ConnRefusedBadAuth)
			v3Refused(t, addr, login("mallory", "secret"), packet.ConnRefusedBadAuth)
			v3Refused(t, addr, login("Alice", "secret"), packet.ConnRefusedBadAuth)
			v3Refused(t, addr, v3ConnectBytes(name, level, 0x02|user, 30, v3Str("c"), v3Str("alice")), packet.ConnRefusedBadAuth)
			v3Refused(t, addr, v3ConnectBytes(name, level, 0x02, 30, v3Str("c")), packet.ConnRefusedNotAuth)
			logs.wait(t, "connection refused", "bad username or password")
			logs.wait(t, "connection refused", "anonymous clients are not allowed")

			// The right password is accepted.
			r := brokertest.Dial(t, addr, level)
			r.SendBytes(login("alice", "secret"))
			if ack := brokertest.Expect[*packet.Connack](r); ack.ReasonCode != packet.Success {
				t.Fatalf("good password v3Refused: 0x%02X", byte(ack.ReasonCode))
			}
			// With anonymous clients allowed, a missing user name is fine
			// but a wrong password is still refused.
			v3Session(t, anonAddr, level, "anon-"+v.name, true)
			v3Refused(t, anonAddr, login("alice", "wrong"), packet.ConnRefusedBadAuth)

			// What paho reports for the same refusals.
			for _, tc := range []struct {
				user, pass string
				rc         byte
			}{{"alice", "nope", packet.ConnRefusedBadAuth}, {"", "", packet.ConnRefusedNotAuth}} {
				c, tok := brokertest.StartV3(addr, "paho-"+v.name, level, func(o *mqtt.ClientOptions) {
					o.SetUsername(tc.user).SetPassword(tc.pass)
				})
				if !tok.WaitTimeout(v3Timeout) || tok.Error() == nil {
					c.Disconnect(0)
					t.Fatalf("paho connect with user %q not refused", tc.user)
				}
				if rc := tok.(*mqtt.ConnectToken).ReturnCode(); rc != tc.rc {
					t.Fatalf("paho return code %d, want %d", rc, tc.rc)
				}
			}
		})
	}
}

// A 3.x client cannot be told a smaller keep alive, so one asking for more
// than KeepAliveMax (or for none, 0, while a maximum is set) is refused
// with return code 2, as Mosquitto does with max_keepalive.
func TestV3ConnectKeepAliveMax(t *testing.T) {
	_, addr, logs := v3Broker(t, broker.Options{KeepAliveMax: 60})
	for _, v := range v3Versions {
		t.Run(v.name, func(t *testing.T) {
			name := v3ProtocolName(v.level)
			v3Refused(t, addr, v3ConnectBytes(name, v.level, 0x02, 61, v3Str("ka")), packet.ConnRefusedIdentifier)
			v3Refused(t, addr, v3ConnectBytes(name, v.level, 0x02, 65535, v3Str("ka")), packet.ConnRefusedIdentifier)
			v3Refused(t, addr, v3ConnectBytes(name, v.level, 0x02, 0, v3Str("ka")), packet.ConnRefusedIdentifier)
			logs.wait(t, "connection refused", "keep alive above keepalive_max")
			v3Session(t, addr, v.level, "ka-ok-"+v.name, true) // KeepAlive 30 is accepted
			r := brokertest.Dial(t, addr, v.level)
			r.Connect(&packet.Connect{ClientID: "ka-max", CleanStart: true, KeepAlive: 60})
		})
	}
}

// paho speaking 3.1 (MQIsdp, level 3) and 3.1.1 publish and subscribe at
// every QoS; in 3.1 the CONNACK never has session present set, since 3.1
// has no such flag.
func TestV3PahoPubSub(t *testing.T) {
	_, addr, _ := v3Broker(t, broker.Options{})
	for _, v := range v3Versions {
		t.Run(v.name, func(t *testing.T) {
			sub := brokertest.ConnectV3(t, addr, "sub-"+v.name, v.level)
			pub := brokertest.ConnectV3(t, addr, "pub-"+v.name, v.level)
			sub.Sub(t, "ps/"+v.name+"/#", 2)
			for qos := range byte(3) {
				pub.Pub(t, "ps/"+v.name+"/x", qos, false, "hello")
				m := sub.Next(t)
				if m.Topic() != "ps/"+v.name+"/x" || string(m.Payload()) != "hello" || m.Qos() != qos || m.Retained() || m.Duplicate() {
					t.Fatalf("QoS %d: got %s %q qos %d retained %v dup %v", qos, m.Topic(), m.Payload(), m.Qos(), m.Retained(), m.Duplicate())
				}
			}
		})
	}
}

// The session present flag: 0 for a new session and for clean session 1,
// 1 when a 3.1.1 clean session 0 resumes one [MQTT-3.2.2-1..3]; always 0
// in 3.1, whose CONNACK has no such flag.
func TestV3SessionPresentFlag(t *testing.T) {
	_, addr, _ := v3Broker(t, broker.Options{})
	for _, v := range v3Versions {
		t.Run(v.name, func(t *testing.T) {
			id := "sp-" + v.name
			present := func(clean bool) bool {
				r := brokertest.Dial(t, addr, v.level)
				var flags byte
				if clean {
					flags = 0x02
				}
				r.SendBytes(v3ConnectBytes(v3ProtocolName(v.level), v.level, flags, 30, v3Str(id)))
				ack := make([]byte, 4)
				r.Conn.SetReadDeadline(time.Now().Add(v3Timeout))
				if _, err := io.ReadFull(r.Conn, ack); err != nil {
					t.Fatal(err)
				}
				if ack[0] != 0x20 || ack[1] != 2 || ack[2]&^1 != 0 || ack[3] != 0 {
					t.Fatalf("CONNACK % X", ack)
				}
				v3Disconnect(t, r)
				return ack[2] == 1
			}
			want311 := v.level == packet.V311
			for _, step := range []struct {
				clean bool
				want  bool
			}{
				{false, false},   // new session
				{false, want311}, // resumed
				{true, false},    // clean session 1 discards it
				{false, false},   // and the clean session 1 session was not kept
				{false, want311}, // resumed again
			} {
				if got := present(step.clean); got != step.want {
					t.Fatalf("clean %v: session present %v, want %v", step.clean, got, step.want)
				}
			}
		})
	}
}
