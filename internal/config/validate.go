package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// minPacketSize is the smallest max_packet_size accepted: anything
// smaller cannot carry an ordinary CONNECT, and is most likely a
// mistaken unit.
const minPacketSize Size = 64

// Validate checks every setting and returns all problems found, joined,
// each prefixed by the key it concerns (as in
// "limits.max_inflight: 0 is out of range 1..65535").
func (c *Config) Validate() error {
	var errs []error
	add := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	seen := make(map[string]int)
	for i, l := range c.Listeners {
		key := fmt.Sprintf("listeners[%d]", i)
		if err := checkProtocol(l.Protocol); err != nil {
			errs = append(errs, fmt.Errorf("%s.protocol: %w", key, err))
		}
		norm, err := checkAddress(l.Address)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s.address: %w", key, err))
			continue
		}
		if j, dup := seen[norm]; dup {
			add(key+".address", "%q is already the address of listeners[%d]", l.Address, j)
		} else if !strings.HasSuffix(norm, ":0") { // port 0: each gets its own port
			seen[norm] = i
		}
	}

	lim := c.Limits
	checkRange := func(key string, v, lo, hi int64) {
		if v < lo || v > hi {
			add(key, "%d is out of range %d..%d", v, lo, hi)
		}
	}
	checkUnlimited := func(key string, v int64) {
		if v < 0 {
			add(key, "%d is negative; use 0 for unlimited", v)
		}
	}
	checkRange("limits.max_packet_size", int64(lim.MaxPacketSize), int64(minPacketSize), int64(MaxPacketSizeLimit))
	checkUnlimited("limits.max_connections", int64(lim.MaxConnections))
	checkRange("limits.max_inflight", int64(lim.MaxInflight), 1, 65535)
	checkUnlimited("limits.max_queued_messages", int64(lim.MaxQueuedMessages))
	checkUnlimited("limits.max_queued_bytes", int64(lim.MaxQueuedBytes))
	checkRange("limits.keepalive_max", int64(lim.KeepaliveMax), 1, 65535)
	if lim.ConnectTimeout <= 0 {
		add("limits.connect_timeout", "%s must be positive", lim.ConnectTimeout)
	}
	checkRange("limits.max_topic_alias", int64(lim.MaxTopicAlias), 0, 65535)

	if c.Sessions.Expiry < 0 {
		add("sessions.expiry", "%s is negative; use 0 for sessions that never expire", c.Sessions.Expiry)
	}
	if err := CheckStoreType(c.Store.Type); err != nil {
		errs = append(errs, fmt.Errorf("store.type: %w", err))
	}
	if c.Store.Dir == "" && c.Store.Type != StoreMemory {
		add("store.dir", "empty; name the data directory (default ./data), or set store.type: memory")
	}
	if _, err := c.Store.SyncMode(); err != nil {
		errs = append(errs, fmt.Errorf("store.sync: %w", err))
	}
	if c.Store.SyncInterval <= 0 {
		add("store.sync_interval", "%s must be positive", c.Store.SyncInterval)
	}
	if _, err := c.Log.SlogLevel(); err != nil {
		errs = append(errs, fmt.Errorf("log.level: %w", err))
	}
	if err := CheckLogFormat(c.Log.Format); err != nil {
		errs = append(errs, fmt.Errorf("log.format: %w", err))
	}
	return errors.Join(errs...)
}

// CheckLogFormat reports whether format is a known log format: text or json.
func CheckLogFormat(format string) error {
	if format != "text" && format != "json" {
		return fmt.Errorf("%q is not one of text, json", format)
	}
	return nil
}

// ParseListener parses a listener as given on the command line:
// "host:port" (protocol mqtt) or "protocol://host:port", and checks it.
func ParseListener(s string) (Listener, error) {
	l := Listener{Protocol: ProtocolMQTT, Address: s}
	if proto, addr, ok := strings.Cut(s, "://"); ok {
		l = Listener{Protocol: strings.ToLower(proto), Address: addr}
	}
	if err := checkProtocol(l.Protocol); err != nil {
		return Listener{}, err
	}
	if _, err := checkAddress(l.Address); err != nil {
		return Listener{}, err
	}
	return l, nil
}

// checkProtocol accepts the protocols that baram serves.
func checkProtocol(p string) error {
	switch p {
	case ProtocolMQTT:
		return nil
	case ProtocolMQTTS, ProtocolWS, ProtocolWSS:
		return fmt.Errorf("%q is not supported yet; use mqtt", p)
	case "":
		return errors.New("missing; use mqtt")
	}
	return fmt.Errorf("%q is not a protocol; use mqtt (mqtts, ws and wss are planned)", p)
}

// checkAddress checks that addr is host:port with a numeric port and an
// IP address, a host name or nothing (every interface) as host. It returns
// a normalised form for finding duplicates.
func checkAddress(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("%q is not host:port (as in \"0.0.0.0:1883\", \"[::1]:1883\" or \":1883\")", addr)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return "", fmt.Errorf("%q: port %q is not a number 0..65535", addr, port)
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		host = ip.String()
	} else if host != "" && !isHostName(host) {
		return "", fmt.Errorf("%q: %q is neither an IP address nor a host name", addr, host)
	}
	return net.JoinHostPort(strings.ToLower(host), strconv.FormatUint(p, 10)), nil
}

// isHostName reports whether s is a syntactically valid DNS host name.
func isHostName(s string) bool {
	if len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(strings.TrimSuffix(s, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// IsLoopback reports whether the host of addr (host:port) is a loopback
// address: 127.0.0.0/8, ::1 or "localhost". An empty host (every
// interface) is not.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}
