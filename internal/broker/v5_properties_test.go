package broker_test

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"testing"

	paho "github.com/eclipse/paho.golang/paho"

	"github.com/baram-mqtt/baram/internal/broker"
	"github.com/baram-mqtt/baram/internal/brokertest"
	"github.com/baram-mqtt/baram/internal/packet"
)

// MQTT 5 PUBLISH properties and publish reason codes.

// Request/response: response topic and correlation data reach the
// responder unchanged, and its answer on the response topic carries the
// correlation data back [MQTT-3.3.2-15], [MQTT-3.3.2-16] (§4.10). Content
// type, payload format [MQTT-3.3.2-4], [MQTT-3.3.2-20] and user properties,
// in order and with duplicates [MQTT-3.3.2-17], [MQTT-3.3.2-18], pass through.
func TestV5RequestResponseProperties(t *testing.T) {
	addr := v5Start(t, broker.Options{})
	requests := brokertest.SubscriberV5(t, addr, "responder", "svc/req", 1)
	responder, _ := brokertest.ConnectV5(t, addr, &paho.Connect{ClientID: "responder-pub", CleanStart: true})
	requesterC, replies := brokertest.ConnectV5(t, addr, &paho.Connect{ClientID: "requester", CleanStart: true})
	brokertest.SubscribeV5(t, requesterC, "reply/requester", 1)

	corr := []byte{0, 1, 2, 0xff, 0}
	format := byte(1)
	user := paho.UserProperties{{Key: "a", Value: "1"}, {Key: "b", Value: "2"}, {Key: "a", Value: "3"}, {Key: "a", Value: "1"}}
	brokertest.PublishV5(t, requesterC, &paho.Publish{Topic: "svc/req", QoS: 1, Payload: []byte(`{"q":1}`), Properties: &paho.PublishProperties{
		ResponseTopic: "reply/requester", CorrelationData: corr, ContentType: "application/json",
		PayloadFormat: &format, User: user,
	}})

	req := v5NextIs(t, requests, "svc/req", `{"q":1}`)
	pp := req.Properties
	if pp == nil {
		t.Fatal("request arrived without properties")
	}
	if pp.ResponseTopic != "reply/requester" || !bytes.Equal(pp.CorrelationData, corr) || pp.ContentType != "application/json" {
		t.Fatalf("request properties: response topic %q correlation %v content type %q", pp.ResponseTopic, pp.CorrelationData, pp.ContentType)
	}
	if pp.PayloadFormat == nil || *pp.PayloadFormat != 1 {
		t.Fatalf("payload format indicator not forwarded [MQTT-3.3.2-4]")
	}
	if !slices.Equal(pp.User, user) {
		t.Fatalf("user properties %v, want %v in order with duplicates [MQTT-3.3.2-18]", pp.User, user)
	}

	brokertest.PublishV5(t, responder, &paho.Publish{Topic: pp.ResponseTopic, QoS: 1, Payload: []byte("answer"),
		Properties: &paho.PublishProperties{CorrelationData: pp.CorrelationData}})
	rep := v5NextIs(t, replies, "reply/requester", "answer")
	if rep.Properties == nil || !bytes.Equal(rep.Properties.CorrelationData, corr) {
		t.Fatalf("reply correlation data %v, want %v", rep.Properties, corr)
	}
	if rep.Properties.ContentType != "" || rep.Properties.PayloadFormat != nil || len(rep.Properties.User) != 0 {
		t.Fatalf("reply carries properties it was not published with: %+v", rep.Properties)
	}
}

// A PUBLISH whose Payload Format Indicator says UTF-8 but whose payload is
// not is refused with PUBACK 0x99 and not forwarded (§3.3.2.3.2).
func TestV5PayloadFormatInvalid(t *testing.T) {
	addr := v5Start(t, broker.Options{})
	s, _ := v5Conn(t, addr, "pf-sub", true, nil)
	v5Sub(t, s, "pf/#", 1)
	p, _ := v5Conn(t, addr, "pf-pub", true, nil)

	bad := v5Pub("pf/t", 1, 1, "\xff\xfe not utf-8")
	bad.Props.PayloadFormat = 1
	bad.Props.Set(packet.PropPayloadFormat)
	if code := v5Publish1(t, p, bad); code != packet.PayloadFormatInvalid {
		t.Fatalf("PUBACK 0x%02X, want 0x99", byte(code))
	}
	// Invalid bytes are fine without the indicator, and valid UTF-8 with it.
	if code := v5Publish1(t, p, v5Pub("pf/t", 1, 2, "\xff binary")); code != packet.Success {
		t.Fatalf("binary payload: PUBACK 0x%02X", byte(code))
	}
	good := v5Pub("pf/t", 1, 3, "héllo")
	good.Props.PayloadFormat = 1
	good.Props.Set(packet.PropPayloadFormat)
	v5Publish1(t, p, good)
	v5ExpectPublish(t, s, "pf/t", "\xff binary")
	if m := v5ExpectPublish(t, s, "pf/t", "héllo"); m.Props.PayloadFormat != 1 {
		t.Fatal("payload format indicator not forwarded")
	}
}

// A QoS 1 PUBLISH that matches no subscription is acknowledged with 0x10
// (§3.4.2.1); QoS 2 likewise on PUBREC; once someone subscribes, 0x00.
func TestV5NoMatchingSubscribers(t *testing.T) {
	addr := v5Start(t, broker.Options{})
	p, _ := v5Conn(t, addr, "nms-pub", true, nil)
	if code := v5Publish1(t, p, v5Pub("nobody/here", 1, 1, "x")); code != packet.NoMatchingSubscribers {
		t.Fatalf("PUBACK 0x%02X, want 0x10", byte(code))
	}
	p.Send(v5Pub("nobody/here", 2, 2, "x"))
	if rec := v5ExpectAck(t, p, packet.PUBREC, 2); rec.ReasonCode != packet.NoMatchingSubscribers {
		t.Fatalf("PUBREC 0x%02X, want 0x10", byte(rec.ReasonCode))
	}
	p.Send(&packet.Ack{Kind: packet.PUBREL, PacketID: 2})
	v5ExpectAck(t, p, packet.PUBCOMP, 2)

	s, _ := v5Conn(t, addr, "nms-sub", true, nil)
	v5Sub(t, s, "nobody/+", 0)
	if code := v5Publish1(t, p, v5Pub("nobody/here", 1, 3, "x")); code != packet.Success {
		t.Fatalf("PUBACK 0x%02X with a subscriber, want 0x00", byte(code))
	}
}

// A message to several v5 subscribers is encoded once and copied (see
// session.Message.AppendV5): every copy carries the forwarded properties
// and its own QoS, packet id and flags, while a subscriber with a
// subscription identifier gets a packet of its own with that id, and a
// 3.1.1 subscriber the 3.1.1 encoding.
func TestV5SharedEncoding(t *testing.T) {
	addr := v5Start(t, broker.Options{})
	plain := make([]chan *paho.Publish, 3)
	for i := range plain {
		plain[i] = brokertest.SubscriberV5(t, addr, fmt.Sprintf("enc-%d", i), "enc/#", byte(i%2+1))
	}
	idC, withID := brokertest.ConnectV5(t, addr, &paho.Connect{ClientID: "enc-id", CleanStart: true})
	ctx, cancel := context.WithTimeout(context.Background(), brokertest.ClientWait)
	defer cancel()
	subID := 42
	if _, err := idC.Subscribe(ctx, &paho.Subscribe{Properties: &paho.SubscribeProperties{SubscriptionIdentifier: &subID},
		Subscriptions: []paho.SubscribeOptions{{Topic: "enc/#", QoS: 1}}}); err != nil {
		t.Fatal(err)
	}
	v3 := brokertest.ConnectV3(t, addr, "enc-v3", 4)
	v3.Sub(t, "enc/#", 1)

	pub, _ := brokertest.ConnectV5(t, addr, &paho.Connect{ClientID: "enc-pub", CleanStart: true})
	user := paho.UserProperties{{Key: "k", Value: "v"}}
	for i, qos := range []byte{1, 2, 0, 1} {
		payload := fmt.Sprintf("m%d", i)
		brokertest.PublishV5(t, pub, &paho.Publish{Topic: "enc/t", QoS: qos, Payload: []byte(payload),
			Properties: &paho.PublishProperties{ContentType: "text/plain", User: user}})
		for j, ch := range append(slices.Clone(plain), withID) {
			got := v5NextIs(t, ch, "enc/t", payload)
			wantQoS := min(qos, byte(j%2+1))
			if j == len(plain) {
				wantQoS = min(qos, 1)
			}
			if got.QoS != wantQoS || got.Retain || got.Properties == nil ||
				got.Properties.ContentType != "text/plain" || !slices.Equal(got.Properties.User, user) {
				t.Fatalf("message %d to subscriber %d: QoS %d retain %v properties %+v, want QoS %d with the forwarded properties",
					i, j, got.QoS, got.Retain, got.Properties, wantQoS)
			}
			if id := got.Properties.SubscriptionIdentifier; (j == len(plain)) != (id != nil && *id == subID) {
				t.Fatalf("message %d to subscriber %d: subscription identifier %v", i, j, id)
			}
		}
		if m := v3.Next(t); m.Topic() != "enc/t" || string(m.Payload()) != payload {
			t.Fatalf("3.1.1 subscriber got %q %q", m.Topic(), m.Payload())
		}
	}
}
