package broker

import (
	"fmt"
	"net/netip"
	"testing"
	"time"
)

// The per-source tables never hold more than maxTracked entries, and
// drop entries that no longer matter.
func TestLimitTablesBounded(t *testing.T) {
	defer func(n int) { maxTracked = n }(maxTracked)
	maxTracked = 100
	o := Options{FlapCount: 5, AuthFailures: 3, ConnectRatePerIP: 1}.withDefaults()
	l := newLimits(&o)
	now := time.Now()
	for i := range 1000 {
		l.flap(fmt.Sprint("id-", i), now)
		src := netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})
		l.authFailed(src, now)
		l.allowConnect(src, now)
	}
	for name, n := range map[string]int{"flaps": l.flaps.len(), "auth": l.authFail.len(), "rate": l.ipRate.len()} {
		if n > maxTracked {
			t.Errorf("%s table holds %d entries, bound %d", name, n, maxTracked)
		}
	}
	// Later, everything is idle: the next insertion sweeps it away.
	later := now.Add(time.Hour)
	l.flap("fresh", later)
	if n := l.flaps.len(); n != 1 {
		t.Errorf("flaps table holds %d entries after the sweep, want 1", n)
	}
}

// The authentication back-off doubles on each repeat, up to its cap, and
// is forgiven after a long enough quiet time.
func TestLimitAuthBackoffGrows(t *testing.T) {
	o := Options{AuthFailures: 2, AuthFailureWindow: time.Minute, AuthBackoff: time.Second,
		AuthBackoffMax: 5 * time.Second}.withDefaults()
	l := newLimits(&o)
	src := netip.MustParseAddr("192.0.2.1")
	now := time.Now()
	var got []time.Duration
	for range 5 {
		if d := l.authFailed(src, now); d != 0 {
			t.Fatalf("back-off %v after one failure", d)
		}
		d := l.authFailed(src, now)
		if _, blocked := l.authBlocked(src, now); !blocked {
			t.Fatal("not blocked after the back-off began")
		}
		got = append(got, d)
		now = now.Add(d)
		if _, blocked := l.authBlocked(src, now); blocked {
			t.Fatal("still blocked when the back-off ended")
		}
	}
	if want := "[1s 2s 4s 5s 5s]"; fmt.Sprint(got) != want {
		t.Errorf("back-offs %v, want %s", got, want)
	}
	now = now.Add(time.Hour)
	l.authFailed(src, now)
	if d := l.authFailed(src, now); d != time.Second {
		t.Errorf("back-off %v after a quiet hour, want 1s again", d)
	}
}

// IPv6 sources are limited by /64; IPv4-mapped ones as IPv4.
func TestLimitSourceOf(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.7:1883":             "192.0.2.7",
		"[::ffff:192.0.2.7]:1883":    "192.0.2.7",
		"[2001:db8:1:2:3:4:5:6]:999": "2001:db8:1:2::",
	} {
		ap := netip.MustParseAddrPort(in)
		if got := sourceOf(netAddr(ap.String())); got.String() != want {
			t.Errorf("sourceOf(%s) = %s, want %s", in, got, want)
		}
	}
	if got := sourceOf(nil); got.IsValid() {
		t.Errorf("sourceOf(nil) = %s, want the zero Addr", got)
	}
}

type netAddr string

func (a netAddr) Network() string { return "tcp" }
func (a netAddr) String() string  { return string(a) }
