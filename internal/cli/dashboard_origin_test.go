package cli

import (
	"slices"
	"testing"

	"github.com/baram-mqtt/baram/internal/config"
)

// The dashboard's MQTT panel may connect to ws/wss listeners from the
// admin address's origin; other listeners and wildcard addresses are
// left alone.
func TestAllowDashboardOrigin(t *testing.T) {
	ls := []config.Listener{
		{Protocol: config.ProtocolMQTT, Address: "127.0.0.1:1883"},
		{Protocol: config.ProtocolWS, Address: "127.0.0.1:8083", AllowedOrigins: []string{"example.com"}},
	}
	for _, tc := range []struct {
		admin string
		want  []string
	}{
		{"127.0.0.1:8080", []string{"example.com", "127.0.0.1:8080", "localhost:8080"}},
		{"[::1]:9000", []string{"example.com", "[::1]:9000", "localhost:9000"}},
		{"10.1.2.3:8080", []string{"example.com", "10.1.2.3:8080"}},
		{"0.0.0.0:8080", []string{"example.com"}},
		{":8080", []string{"example.com"}},
		{"", []string{"example.com"}},
	} {
		got := allowDashboardOrigin(ls, config.Admin{Address: tc.admin})
		if !slices.Equal(got[1].AllowedOrigins, tc.want) {
			t.Errorf("admin %q: ws origins %q, want %q", tc.admin, got[1].AllowedOrigins, tc.want)
		}
		if got[0].AllowedOrigins != nil {
			t.Errorf("admin %q: mqtt listener got origins %q", tc.admin, got[0].AllowedOrigins)
		}
		if len(ls[1].AllowedOrigins) != 1 {
			t.Fatalf("admin %q: the config's own listener was modified", tc.admin)
		}
	}
}
