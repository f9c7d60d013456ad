package broker_test

import (
	"testing"
	"time"

	"github.com/baram-mqtt/baram/internal/broker"
	"github.com/baram-mqtt/baram/internal/packet"
)

// A client that sends nothing for one and a half times its keep alive is
// disconnected [MQTT-3.1.2-24], and since that is not a DISCONNECT its
// will is published [MQTT-3.1.2-8].
func TestV3KeepAliveTimeout(t *testing.T) {
	t.Parallel()
	_, addr, logs := v3Broker(t, broker.Options{})
	for _, v := range v3Versions {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			watch, _ := v3Session(t, addr, v.level, "ka-watch-"+v.name, true)
			v3SubscribeOK(t, watch, "ka/"+v.name, 0)
			start := time.Now()
			c := withWill("idle-"+v.name, true, "ka/"+v.name, "timed out", 0, false)
			c.KeepAlive = 1
			r, _ := v3Dial(t, addr, v.level, c)
			if got := r.ExpectClosed(v3Timeout); len(got) > 0 {
				t.Fatalf("got %T before the close", got[0])
			}
			// The deadline runs from when the broker read the CONNECT.
			if d := time.Since(start); d < 1400*time.Millisecond || d > 3*time.Second {
				t.Fatalf("closed after %v, want about 1.5s", d)
			}
			v3ExpectPublish(t, watch, "ka/"+v.name, "timed out")
			logs.wait(t, "keep alive timeout", "client=idle-"+v.name)
		})
	}
}

// PINGREQ is answered with PINGRESP [MQTT-3.12.4-1] and, like any packet,
// keeps the connection alive past one and a half keep alives.
func TestV3PingKeepsAlive(t *testing.T) {
	t.Parallel()
	_, addr, _ := v3Broker(t, broker.Options{})
	for _, v := range v3Versions {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			r, _ := v3Dial(t, addr, v.level, &packet.Connect{ClientID: "pinger-" + v.name, CleanStart: true, KeepAlive: 1})
			start := time.Now()
			tick := time.NewTicker(500 * time.Millisecond)
			defer tick.Stop()
			for time.Since(start) < 2*time.Second {
				<-tick.C
				if got := v3Ping(t, r); len(got) != 0 {
					t.Fatalf("unexpected PUBLISH %s", got[0].Topic)
				}
			}
			// Stop pinging: the keep alive ends it.
			if got := r.ExpectClosed(v3Timeout); len(got) > 0 {
				t.Fatalf("got %T before the close", got[0])
			}
		})
	}
}
