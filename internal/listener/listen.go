package listener

import (
	"context"
	"crypto/tls"
	"net"
)

// Listen opens a TCP listener on addr ("tcp", "tcp4" or "tcp6"); with
// tlsCfg it serves TLS. ctx bounds only the opening, not the listener's
// life: close the listener to stop it.
//
// Accept returns a *tls.Conn without handshaking; the handshake runs on
// the first Read or Write, which the caller must bound with a deadline
// (see the package documentation).
//
// Accepted connections get no TCP keep-alive probes. MQTT's own keep
// alive finds dead clients (and keepalive_max bounds the clients that ask
// for none), as in Mosquitto. Go's default would probe a connection idle
// for 15 s, waking a sleeping phone's radio four times a minute, and it
// costs three setsockopt calls per accepted connection.
func Listen(ctx context.Context, network, addr string, tlsCfg *TLS) (net.Listener, error) {
	lc := net.ListenConfig{KeepAlive: -1}
	ln, err := lc.Listen(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	if tlsCfg == nil {
		return ln, nil
	}
	return tls.NewListener(ln, tlsCfg.Config()), nil
}
