package broker_test

import (
	"context"
	"net"
	"testing"
	"time"

	paho "github.com/eclipse/paho.golang/paho"

	"github.com/baram-mqtt/baram/internal/broker"
	"github.com/baram-mqtt/baram/internal/brokertest"
	"github.com/baram-mqtt/baram/internal/packet"
)

// On shutdown the broker tells MQTT 5 clients with DISCONNECT 0x8B
// (Server shutting down) before closing (§4.13.2); 3.1.1 clients, which
// have no server DISCONNECT, are just closed. Serve then returns nil.
func TestV5ShutdownDisconnects(t *testing.T) {
	b := broker.New(broker.Options{AllowAnonymous: true})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- b.Serve(ln) }()
	addr := ln.Addr().String()

	raw, _ := v5Conn(t, addr, "raw", true, v5Expiry(60))
	v5Sub(t, raw, "down/t", 1)
	v3 := brokertest.Dial(t, addr, packet.V311)
	v3.Connect(&packet.Connect{ClientID: "v3", CleanStart: true})
	got := make(chan *paho.Disconnect, 1)
	c, _ := brokertest.ConnectV5(t, addr, &paho.Connect{ClientID: "paho", CleanStart: true}, func(cc *paho.ClientConfig) {
		cc.OnServerDisconnect = func(d *paho.Disconnect) { got <- d }
	})

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("serve returned %v after shutdown, want nil", err)
		}
	case <-time.After(v5Wait):
		t.Fatal("serve did not return after shutdown")
	}

	v5ExpectDisconnect(t, raw, packet.ServerShuttingDown)
	if ps := v3.ExpectClosed(v5Wait); len(ps) > 0 {
		t.Fatalf("3.1.1 client got %s before the close", v5Describe(ps))
	}
	select {
	case d := <-got:
		if d.ReasonCode != byte(packet.ServerShuttingDown) {
			t.Fatalf("paho client got DISCONNECT 0x%02X, want 0x8B", d.ReasonCode)
		}
	case <-time.After(v5Wait):
		t.Fatal("paho client got no DISCONNECT")
	}
	select {
	case <-c.Done():
	case <-time.After(v5Wait):
		t.Fatal("paho client still connected")
	}

	// No new connections.
	if nc, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		nc.Close()
		t.Fatal("listener still accepts after shutdown")
	}
	if err := b.Serve(ln); err != broker.ErrClosed {
		t.Fatalf("Serve after Shutdown: %v, want ErrClosed", err)
	}
}
