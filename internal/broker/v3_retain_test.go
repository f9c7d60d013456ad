package broker_test

import (
	"testing"

	"github.com/baram-mqtt/baram/internal/broker"
	"github.com/baram-mqtt/baram/internal/packet"
)

// Retained messages (3.1.1 numbering): a new subscription gets those
// matching its filter, wildcards included [MQTT-3.3.1-5], [MQTT-3.3.1-6],
// with RETAIN 1 [MQTT-3.3.1-8] and at most the granted QoS
// [MQTT-3.8.4-6]; live messages are forwarded with RETAIN 0 even when
// published retained [MQTT-3.3.1-9]; a retained message replaces the
// previous one, and an empty payload is forwarded and clears it
// [MQTT-3.3.1-10], [MQTT-3.3.1-11].
func TestV3Retained(t *testing.T) {
	b, addr, _ := v3Broker(t, broker.Options{})
	for _, v := range v3Versions {
		t.Run(v.name, func(t *testing.T) {
			top := "ret-" + v.name
			pub, _ := v3Session(t, addr, v.level, "ret-pub-"+v.name, true)
			v3Publish(t, pub, &packet.Publish{Topic: top + "/a", QoS: 1, PacketID: 1, Retain: true, Payload: []byte("A")})
			v3Publish(t, pub, &packet.Publish{Topic: top + "/b/c", QoS: 2, PacketID: 2, Retain: true, Payload: []byte("BC")})
			v3Publish(t, pub, &packet.Publish{Topic: top + "/d", Retain: true, Payload: []byte("D")})
			v3Ping(t, pub) // QoS 0 has no ack: the PINGRESP says it was handled

			// "#" finds all three, at min(published, granted) QoS.
			sub, _ := v3Session(t, addr, v.level, "ret-sub-"+v.name, true)
			v3SubscribeOK(t, sub, top+"/#", 1)
			got := map[string]*packet.Publish{}
			for _, p := range v3Ping(t, sub) {
				got[p.Topic] = p
			}
			for _, want := range []struct {
				topic, payload string
				qos            byte
			}{{"/a", "A", 1}, {"/b/c", "BC", 1}, {"/d", "D", 0}} {
				p := got[top+want.topic]
				if p == nil || string(p.Payload) != want.payload || !p.Retain || p.QoS != want.qos {
					t.Fatalf("retained %s: got %+v, want %q retain 1 QoS %d", want.topic, p, want.payload, want.qos)
				}
				if p.QoS > 0 {
					sub.Send(&packet.Ack{Kind: packet.PUBACK, PacketID: p.PacketID})
				}
			}
			if len(got) != 3 {
				t.Fatalf("got %d retained messages, want 3", len(got))
			}

			// A live retained publish reaches the subscriber with RETAIN 0,
			// and replaces the stored one.
			v3Publish(t, pub, &packet.Publish{Topic: top + "/a", Retain: true, Payload: []byte("A2")})
			if p := v3ExpectPublish(t, sub, top+"/a", "A2"); p.Retain {
				t.Fatal("live message forwarded with RETAIN 1 [MQTT-3.3.1-9]")
			}

			// "+" matches one level: a/ and d, not b/c.
			sub2, _ := v3Session(t, addr, v.level, "ret-sub2-"+v.name, true)
			v3SubscribeOK(t, sub2, top+"/+", 2)
			got = map[string]*packet.Publish{}
			for _, p := range v3Ping(t, sub2) {
				got[p.Topic+" "+string(p.Payload)] = p
			}
			if len(got) != 2 || got[top+"/a A2"] == nil || got[top+"/d D"] == nil {
				t.Fatalf("%s/+ got %v, want %s/a A2 and %s/d D", top, got, top, top)
			}

			// Subscribing again sends the retained messages again (3.1.1
			// [MQTT-3.8.4-3]).
			v3SubscribeOK(t, sub2, top+"/d", 0)
			if got := v3Ping(t, sub2); len(got) != 1 || got[0].Topic != top+"/d" || !got[0].Retain {
				t.Fatalf("resubscribe: got %d messages", len(got))
			}

			// An empty retained payload clears the topic; the empty message
			// itself is forwarded to current subscribers.
			before := b.Stats().Retained
			v3Publish(t, pub, &packet.Publish{Topic: top + "/a", QoS: 1, PacketID: 3, Retain: true})
			if p := v3ExpectPublish(t, sub, top+"/a", ""); p.Retain {
				t.Fatal("live message forwarded with RETAIN 1")
			}
			if after := b.Stats().Retained; after != before-1 {
				t.Fatalf("retained count %d, want %d", after, before-1)
			}
			sub3, _ := v3Session(t, addr, v.level, "ret-sub3-"+v.name, true)
			v3SubscribeOK(t, sub3, top+"/a", 2)
			if got := v3Ping(t, sub3); len(got) != 0 {
				t.Fatalf("cleared retained message still sent: %q", got[0].Payload)
			}
		})
	}
}
