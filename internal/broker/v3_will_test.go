package broker_test

import (
	"testing"

	"github.com/baram-mqtt/baram/internal/broker"
	"github.com/baram-mqtt/baram/internal/packet"
)

// withWill is a CONNECT for id carrying a will on topic.
func withWill(id string, clean bool, topic, payload string, qos byte, retain bool) *packet.Connect {
	return &packet.Connect{ClientID: id, CleanStart: clean,
		Will: &packet.Will{Topic: topic, Payload: []byte(payload), QoS: qos, Retain: retain}}
}

// The Last Will is published when the connection ends without DISCONNECT
// [MQTT-3.1.2-8], with its QoS and retain flag [MQTT-3.1.2-16], [MQTT-3.1.2-17], and is
// discarded by DISCONNECT [MQTT-3.1.2-10], [MQTT-3.14.4-3]. The will is a
// message from the broker: it follows the subscriber's QoS like any other.
func TestV3Will(t *testing.T) {
	_, addr, _ := v3Broker(t, broker.Options{})
	for _, v := range v3Versions {
		t.Run(v.name, func(t *testing.T) {
			top := "will-" + v.name
			watch, _ := v3Session(t, addr, v.level, "watch-"+v.name, true)
			v3SubscribeOK(t, watch, top+"/#", 2)

			// Abnormal end: the socket closes without DISCONNECT.
			w, _ := v3Dial(t, addr, v.level, withWill("w1-"+v.name, true, top+"/w1", "gone", 1, false))
			w.Conn.Close()
			p := v3ExpectPublish(t, watch, top+"/w1", "gone")
			if p.QoS != 1 || p.Retain {
				t.Fatalf("will delivered at QoS %d retain %v, want QoS 1 retain 0", p.QoS, p.Retain)
			}
			watch.Send(&packet.Ack{Kind: packet.PUBACK, PacketID: p.PacketID})

			// DISCONNECT discards the will: a marker published afterwards on
			// the same topic is the next message.
			w, _ = v3Dial(t, addr, v.level, withWill("w2-"+v.name, true, top+"/w2", "gone", 0, false))
			v3Disconnect(t, w)
			pub, _ := v3Session(t, addr, v.level, "will-pub-"+v.name, true)
			v3Publish(t, pub, &packet.Publish{Topic: top + "/w2", Payload: []byte("marker")})
			v3ExpectPublish(t, watch, top+"/w2", "marker")

			// Will QoS 2, retained: the live copy has RETAIN 0, a later
			// subscriber gets it with RETAIN 1.
			w, _ = v3Dial(t, addr, v.level, withWill("w3-"+v.name, false, top+"/w3", "last", 2, true))
			w.Conn.Close()
			p = v3ExpectPublish(t, watch, top+"/w3", "last")
			if p.QoS != 2 || p.Retain {
				t.Fatalf("will delivered at QoS %d retain %v, want QoS 2 retain 0", p.QoS, p.Retain)
			}
			late, _ := v3Session(t, addr, v.level, "late-"+v.name, true)
			v3SubscribeOK(t, late, top+"/w3", 2)
			p = v3ExpectPublish(t, late, top+"/w3", "last")
			if p.QoS != 2 || !p.Retain {
				t.Fatalf("retained will: QoS %d retain %v, want QoS 2 retain 1", p.QoS, p.Retain)
			}

			// Will QoS 0 to a QoS 2 subscription arrives at QoS 0.
			w, _ = v3Dial(t, addr, v.level, withWill("w4-"+v.name, true, top+"/w4", "low", 0, false))
			w.Conn.Close()
			if p := v3ExpectPublish(t, watch, top+"/w4", "low"); p.QoS != 0 {
				t.Fatalf("will QoS 0 delivered at QoS %d", p.QoS)
			}
		})
	}
}

// A second connection with the same client id takes the session over
// [MQTT-3.1.4-2]: the first socket is closed (3.1.1 has no DISCONNECT from
// the server, so nothing is sent on it), and, as in Mosquitto, the first
// connection's will is published, once: its connection ended without
// DISCONNECT. The new connection resumes the session (session present 1
// in 3.1.1 with clean session 0) and keeps working.
func TestV3SessionTakeover(t *testing.T) {
	b, addr, logs := v3Broker(t, broker.Options{})
	for _, v := range v3Versions {
		for _, clean := range []bool{false, true} {
			name := v.name + map[bool]string{false: "-clean0", true: "-clean1"}[clean]
			t.Run(name, func(t *testing.T) {
				id, top := "same-"+name, "to/"+name
				watch, _ := v3Session(t, addr, v.level, "watch-"+name, true)
				v3SubscribeOK(t, watch, top+"/will", 1)

				first, _ := v3Dial(t, addr, v.level, withWill(id, clean, top+"/will", "first gone", 0, false))
				v3SubscribeOK(t, first, top+"/data", 1)

				second, ack := v3Session(t, addr, v.level, id, clean)
				if want := !clean && v.level == packet.V311; ack.SessionPresent != want {
					t.Fatalf("session present %v, want %v", ack.SessionPresent, want)
				}
				if got := first.ExpectClosed(v3Timeout); len(got) > 0 {
					t.Fatalf("first connection got %d packets before closing, want none: %T", len(got), got[0])
				}
				logs.wait(t, "session taken over", "client="+id)

				v3ExpectPublish(t, watch, top+"/will", "first gone")
				if !clean { // the subscription came with the session
					if err := b.Publish(top+"/data", []byte("to second"), 1, false); err != nil {
						t.Fatal(err)
					}
					v3ExpectPublish(t, second, top+"/data", "to second")
				}
				v3SubscribeOK(t, second, top+"/more", 0)
				v3Disconnect(t, second)
				// The will fired once: a marker is the watcher's next message.
				if err := b.Publish(top+"/will", []byte("marker"), 0, false); err != nil {
					t.Fatal(err)
				}
				v3ExpectPublish(t, watch, top+"/will", "marker")
			})
		}
	}
}
