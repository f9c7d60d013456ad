package config

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/baram-mqtt/baram/internal/listener"
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
		errs = append(errs, checkListenerTLS(key, l)...)
		errs = append(errs, checkListenerWeb(key, l)...)
		if l.MaxConnections < 0 {
			add(key+".max_connections", "%d is negative; use 0 for unlimited", l.MaxConnections)
		}
		if l.ConnectRate != nil {
			if err := checkRate(*l.ConnectRate); err != nil {
				errs = append(errs, fmt.Errorf("%s.connect_rate: %w", key, err))
			}
		}
		if l.ConnectBurst < 0 {
			add(key+".connect_burst", "%d is negative; use 0 for a second's worth", l.ConnectBurst)
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
	errs = append(errs, checkAbuseLimits(lim)...)

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
	if a := c.Auth; a.PasswordFile != "" && filepath.Clean(a.PasswordFile) == filepath.Clean(a.ACLFile) {
		add("auth.acl_file", "%q is also auth.password_file; the ACL rules and the password hashes are two different files", a.ACLFile)
	}
	errs = append(errs, checkAuth(&c.Auth)...)
	errs = append(errs, c.checkAdmin()...)
	if _, err := c.Log.SlogLevel(); err != nil {
		errs = append(errs, fmt.Errorf("log.level: %w", err))
	}
	if err := CheckLogFormat(c.Log.Format); err != nil {
		errs = append(errs, fmt.Errorf("log.format: %w", err))
	}
	return errors.Join(errs...)
}

// checkAbuseLimits checks the rate, flapping and authentication failure
// settings of limits.
func checkAbuseLimits(lim Limits) []error {
	var errs []error
	add := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("limits.%s: %s", key, fmt.Sprintf(format, args...)))
	}
	for _, r := range []struct {
		key string
		v   float64
	}{{"connect_rate", lim.ConnectRate}, {"connect_rate_per_ip", lim.ConnectRatePerIP}, {"publish_rate", lim.PublishRate}} {
		if err := checkRate(r.v); err != nil {
			add(r.key, "%v", err)
		}
	}
	for _, b := range []struct {
		key string
		v   int
	}{{"connect_burst", lim.ConnectBurst}, {"connect_burst_per_ip", lim.ConnectBurstPerIP}} {
		if b.v < 0 {
			add(b.key, "%d is negative; use 0 for a second's worth", b.v)
		}
	}
	if lim.PublishBytesRate < 0 {
		add("publish_bytes_rate", "%d is negative; use 0 for unlimited", lim.PublishBytesRate)
	}
	if lim.FlapCount < 0 {
		add("flap_count", "%d is negative; use 0 to disable flapping detection", lim.FlapCount)
	}
	if lim.FlapCount > 0 {
		for _, d := range []struct {
			key string
			v   Duration
		}{{"flap_window", lim.FlapWindow}, {"flap_ban", lim.FlapBan}} {
			if d.v <= 0 {
				add(d.key, "%s must be positive while flap_count is set (0 disables flapping detection)", d.v)
			}
		}
	}
	if lim.AuthFailures < 0 {
		add("auth_failures", "%d is negative; use 0 to disable the authentication back-off", lim.AuthFailures)
	}
	if lim.AuthFailures > 0 {
		for _, d := range []struct {
			key string
			v   Duration
		}{{"auth_failure_window", lim.AuthFailureWindow}, {"auth_backoff", lim.AuthBackoff}, {"auth_backoff_max", lim.AuthBackoffMax}} {
			if d.v <= 0 {
				add(d.key, "%s must be positive while auth_failures is set (0 disables the back-off)", d.v)
			}
		}
		if lim.AuthBackoff > 0 && lim.AuthBackoffMax > 0 && lim.AuthBackoffMax < lim.AuthBackoff {
			add("auth_backoff_max", "%s is less than auth_backoff %s", lim.AuthBackoffMax, lim.AuthBackoff)
		}
	}
	return errs
}

// checkRate accepts a rate per second: finite and not negative.
func checkRate(r float64) error {
	if math.IsNaN(r) || math.IsInf(r, 0) || r < 0 {
		return fmt.Errorf("%v is not a rate per second; use a number >= 0, 0 for unlimited", r)
	}
	return nil
}

// CheckLogFormat reports whether format is a known log format: text or json.
func CheckLogFormat(format string) error {
	if format != "text" && format != "json" {
		return fmt.Errorf("%q is not one of text, json", format)
	}
	return nil
}

// ParseListener parses a listener as given on the command line:
// "host:port" (protocol mqtt) or "protocol://host:port", and checks it; a
// ws or wss listener may add its path, as in "ws://:8083/mqtt". An mqtts
// or wss listener comes back without TLS, which the caller must set
// before Validate accepts it.
func ParseListener(s string) (Listener, error) {
	l := Listener{Protocol: ProtocolMQTT, Address: s}
	if proto, addr, ok := strings.Cut(s, "://"); ok {
		l = Listener{Protocol: strings.ToLower(proto), Address: addr}
	}
	if err := checkProtocol(l.Protocol); err != nil {
		return Listener{}, err
	}
	if l.isWeb() {
		if i := strings.Index(l.Address, "/"); i >= 0 {
			l.Address, l.Path = l.Address[:i], l.Address[i:]
			if err := checkWSPath(l.Path); err != nil {
				return Listener{}, err
			}
		}
	}
	if _, err := checkAddress(l.Address); err != nil {
		return Listener{}, err
	}
	return l, nil
}

// checkProtocol accepts the protocols that baram serves.
func checkProtocol(p string) error {
	switch p {
	case ProtocolMQTT, ProtocolMQTTS, ProtocolWS, ProtocolWSS:
		return nil
	case "":
		return errors.New("missing; use mqtt, mqtts, ws or wss")
	}
	return fmt.Errorf("%q is not a protocol; use mqtt, mqtts, ws or wss", p)
}

// isWeb reports whether l serves MQTT over WebSocket (ws or wss).
func (l Listener) isWeb() bool { return l.Protocol == ProtocolWS || l.Protocol == ProtocolWSS }

// hasTLS reports whether l serves TLS (mqtts or wss).
func (l Listener) hasTLS() bool { return l.Protocol == ProtocolMQTTS || l.Protocol == ProtocolWSS }

// WSPath returns the URL path of a ws or wss listener: Path, or
// listener.DefaultWSPath when it is empty.
func (l Listener) WSPath() string {
	if l.Path == "" {
		return listener.DefaultWSPath
	}
	return l.Path
}

// TrustedPrefixes returns l.TrustedProxies as address ranges. Validate
// has checked them; an entry that does not parse is an error all the
// same.
func (l Listener) TrustedPrefixes() ([]netip.Prefix, error) {
	var ps []netip.Prefix
	for i, s := range l.TrustedProxies {
		p, err := ParseTrustedProxy(s)
		if err != nil {
			return nil, fmt.Errorf("trusted_proxies[%d]: %w", i, err)
		}
		ps = append(ps, p)
	}
	return ps, nil
}

// ParseTrustedProxy parses an entry of trusted_proxies: an IP address,
// as in "10.0.0.1" or "2001:db8::1", or a CIDR range, as in "10.0.0.0/8"
// or "2001:db8::/32". IPv4-mapped IPv6 addresses are taken as IPv4.
func ParseTrustedProxy(s string) (netip.Prefix, error) {
	const example = `(as in "10.0.0.1", "10.0.0.0/8" or "2001:db8::/32")`
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not an IP address or CIDR range %s", s, example)
		}
		if m := p.Masked(); m != p {
			return netip.Prefix{}, fmt.Errorf("%q has address bits set past its /%d prefix; write %q", s, p.Bits(), m.String())
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		return p, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("%q is not an IP address or CIDR range %s", s, example)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// checkListenerWeb checks the WebSocket and proxy settings of the
// listener l, whose key is key: path, allowed_origins, trusted_proxies
// and proxy_protocol.
func checkListenerWeb(key string, l Listener) []error {
	var errs []error
	add := func(k, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s.%s: %s", key, k, fmt.Sprintf(format, args...)))
	}
	const onlyWeb = "only for ws and wss listeners; remove it, or set protocol: ws (or wss)"
	if l.Path != "" {
		if !l.isWeb() {
			add("path", "%s", onlyWeb)
		} else if err := checkWSPath(l.Path); err != nil {
			add("path", "%v", err)
		}
	}
	if len(l.AllowedOrigins) > 0 && !l.isWeb() {
		add("allowed_origins", "%s", onlyWeb)
	}
	for j, o := range l.AllowedOrigins {
		k := fmt.Sprintf("allowed_origins[%d]", j)
		if strings.TrimSpace(o) == "" {
			add(k, `empty; name a host pattern, as in "*.example.com" or "https://app.example.com"`)
			continue
		}
		if _, err := path.Match(strings.ToLower(o), ""); err != nil {
			add(k, "%q is not a valid pattern (path.Match syntax, as in \"*.example.com\"): %v", o, err)
		}
	}
	for j, s := range l.TrustedProxies {
		if _, err := ParseTrustedProxy(s); err != nil {
			add(fmt.Sprintf("trusted_proxies[%d]", j), "%v", err)
		}
	}
	if len(l.TrustedProxies) > 0 && !l.isWeb() && !l.ProxyProtocol {
		add("trusted_proxies", "unused: it serves X-Forwarded-For on ws and wss listeners, and proxy_protocol; "+
			"set proxy_protocol: true, or remove it")
	}
	if l.ProxyProtocol && len(l.TrustedProxies) == 0 {
		add("proxy_protocol", "needs trusted_proxies, the addresses of the proxies that send the PROXY header "+
			`(as in ["10.0.0.0/8"]); a header from any other address is refused`)
	}
	return errs
}

// checkWSPath accepts the URL path of a ws or wss listener.
func checkWSPath(p string) error {
	if !strings.HasPrefix(p, "/") || strings.ContainsAny(p, "?# \t") || strings.ContainsFunc(p, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return fmt.Errorf("%q is not a URL path; write one that starts with / and has no query, as in \"/mqtt\"", p)
	}
	return nil
}

// checkListenerTLS checks the tls block of the listener l, whose key is
// key: an mqtts or wss listener needs one with a certificate and key, and
// no other listener may have one. It does not look at the files; see
// CheckFiles.
func checkListenerTLS(key string, l Listener) []error {
	var errs []error
	add := func(k, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s.tls%s: %s", key, k, fmt.Sprintf(format, args...)))
	}
	if !l.hasTLS() {
		switch {
		case l.TLS != nil && l.Protocol == ProtocolMQTT:
			add("", "only for mqtts listeners; set protocol: mqtts to serve TLS, or remove tls")
		case l.TLS != nil && l.Protocol == ProtocolWS:
			add("", "only for wss and mqtts listeners; set protocol: wss to serve WebSocket over TLS, or remove tls")
		}
		return errs
	}
	t := l.TLS
	if t == nil {
		t = &TLS{}
	}
	needPair := "missing; an mqtts listener needs tls.cert and tls.key, its certificate chain and private key (PEM files)"
	if l.Protocol == ProtocolWSS {
		needPair = "missing; a wss listener needs tls.cert and tls.key, its certificate chain and private key (PEM files)"
	}
	if t.Cert == "" {
		add(".cert", "%s", needPair)
	}
	if t.Key == "" {
		add(".key", "%s", needPair)
	}
	for j, ck := range t.Certs {
		if ck.Cert == "" {
			add(fmt.Sprintf(".certs[%d].cert", j), "missing; each entry of tls.certs needs cert and key")
		}
		if ck.Key == "" {
			add(fmt.Sprintf(".certs[%d].key", j), "missing; each entry of tls.certs needs cert and key")
		}
	}
	if t.ClientCA == "" {
		const why = "needs tls.client_ca, the CAs that sign client certificates"
		if t.RequireClientCert {
			add(".require_client_cert", why)
		}
		if t.IdentityAsUsername != "" {
			add(".identity_as_username", why)
		}
		if t.CRL != "" {
			add(".crl", why)
		}
	}
	switch t.IdentityAsUsername {
	case "", listener.IdentityCN, listener.IdentitySANDNS, listener.IdentitySANEmail, listener.IdentitySubject:
	default:
		add(".identity_as_username", "%q is not one of cn, san_dns, san_email, subject", t.IdentityAsUsername)
	}
	switch t.MinVersion {
	case "", "1.2", "1.3":
	default:
		add(".min_version", "%q is not one of 1.2, 1.3", t.MinVersion)
	}
	if len(t.CipherSuites) > 0 && t.MinVersion == "1.3" {
		add(".cipher_suites", "apply to TLS 1.2 only, and tls.min_version is 1.3 (TLS 1.3 suites are not configurable); remove one of them")
	}
	for j, name := range t.CipherSuites {
		if err := checkCipherSuite(name); err != nil {
			add(fmt.Sprintf(".cipher_suites[%d]", j), "%v", err)
		}
	}
	return errs
}

// checkCipherSuite accepts the name of a secure TLS 1.2 cipher suite, as
// crypto/tls names it.
func checkCipherSuite(name string) error {
	for _, cs := range tls.InsecureCipherSuites() {
		if cs.Name == name {
			return fmt.Errorf("%q is insecure", name)
		}
	}
	for _, cs := range tls.CipherSuites() {
		if cs.Name == name {
			if !slices.Contains(cs.SupportedVersions, tls.VersionTLS12) {
				return fmt.Errorf("%q is a TLS 1.3 suite, and those are not configurable", name)
			}
			return nil
		}
	}
	return fmt.Errorf("%q is not a cipher suite that Go knows (as in TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256)", name)
}

// CheckFiles reports every file named by the settings (the certificates,
// keys, client CAs and CRLs of mqtts and wss listeners, the password file, the
// JWT secret and public key files and the
// ACL file) that cannot be read now,
// each error naming the key and the path, as in
//
//	listeners[0].tls.key: cannot read /etc/baram/server.key: permission denied
//
// serve calls it at startup, after Validate; the store commands, which
// read the same file, do not, so they need no access to the private keys.
// What the files hold is checked when they are loaded. The password and
// ACL files may be empty: no users, and no topic for anyone.
func (c *Config) CheckFiles() error {
	var errs []error
	for _, f := range []struct{ key, path string }{
		{"auth.password_file", c.Auth.PasswordFile},
		{"auth.acl_file", c.Auth.ACLFile},
	} {
		if f.path == "" {
			continue
		}
		if err := checkOpenable(f.path); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", f.key, err))
		}
	}
	if j := c.Auth.JWT; j != nil {
		for _, f := range []struct{ key, path string }{
			{"auth.jwt.hmac_secret_file", j.HMACSecretFile},
			{"auth.jwt.public_key_file", j.PublicKeyFile},
		} {
			if f.path == "" {
				continue
			}
			if err := CheckReadable(f.path); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", f.key, err))
			}
		}
	}
	for i, l := range c.Listeners {
		t := l.TLS
		if t == nil || !l.hasTLS() {
			continue
		}
		check := func(k, path string) {
			if path == "" {
				return
			}
			if err := CheckReadable(path); err != nil {
				errs = append(errs, fmt.Errorf("listeners[%d].tls.%s: %w", i, k, err))
			}
		}
		check("cert", t.Cert)
		check("key", t.Key)
		for j, ck := range t.Certs {
			check(fmt.Sprintf("certs[%d].cert", j), ck.Cert)
			check(fmt.Sprintf("certs[%d].key", j), ck.Key)
		}
		check("client_ca", t.ClientCA)
		check("crl", t.CRL)
	}
	errs = append(errs, c.checkAdminFiles()...)
	return errors.Join(errs...)
}

// CheckReadable reports whether path is a file that can be opened for
// reading and is not empty. The error names the path and wraps the
// cause, as in "cannot read server.pem: no such file or directory".
func CheckReadable(path string) error {
	fi, err := openStat(path)
	if err == nil && fi.Mode().IsRegular() && fi.Size() == 0 {
		return fmt.Errorf("cannot read %s: it is empty", path)
	}
	return err
}

// checkOpenable is CheckReadable without the check for an empty file.
func checkOpenable(path string) error {
	_, err := openStat(path)
	return err
}

// openStat opens path for reading and returns its FileInfo, or an error
// naming the path when it cannot be opened or is a directory.
func openStat(path string) (os.FileInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Errorf("cannot read %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	switch {
	case err != nil:
		return nil, fmt.Errorf("cannot read %s: %w", path, err)
	case fi.IsDir():
		return nil, fmt.Errorf("cannot read %s: it is a directory", path)
	}
	return fi, nil
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

// checkAuth checks the http, jwt and chain settings of a.
func checkAuth(a *Auth) []error {
	var errs []error
	add := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("auth.%s: %s", key, fmt.Sprintf(format, args...)))
	}
	for _, hk := range []struct {
		key string
		h   *HTTPAuth
	}{{"http", a.HTTP}, {"http_acl", a.HTTPACL}} {
		key, h := hk.key, hk.h
		if h == nil {
			continue
		}
		if err := checkHTTPURL(h.URL); err != nil {
			add(key+".url", "%v", err)
		}
		if h.Timeout < 0 {
			add(key+".timeout", "%s is negative; use 0 for the default", h.Timeout)
		}
		if h.CacheTTL < 0 {
			add(key+".cache_ttl", "%s is negative; use 0 to disable the cache", h.CacheTTL)
		}
	}
	if j := a.JWT; j != nil {
		hs, asymmetric := false, false
		if len(j.Algorithms) == 0 {
			add("jwt.algorithms", "required; list one or more of HS256, RS256, ES256, EdDSA")
		}
		for i, alg := range j.Algorithms {
			switch alg {
			case "HS256":
				hs = true
			case "RS256", "ES256", "EdDSA":
				asymmetric = true
			default:
				add(fmt.Sprintf("jwt.algorithms[%d]", i), "%q is not one of HS256, RS256, ES256, EdDSA", alg)
			}
		}
		switch {
		case hs && j.HMACSecretFile == "":
			add("jwt.hmac_secret_file", "required when HS256 is in auth.jwt.algorithms")
		case !hs && j.HMACSecretFile != "":
			add("jwt.hmac_secret_file", "set but HS256 is not in auth.jwt.algorithms")
		}
		if asymmetric && j.PublicKeyFile == "" && j.JWKSURL == "" {
			add("jwt.public_key_file", "RS256, ES256 or EdDSA is allowed but neither auth.jwt.public_key_file nor auth.jwt.jwks_url is set")
		}
		if !asymmetric && len(j.Algorithms) > 0 && (j.PublicKeyFile != "" || j.JWKSURL != "") {
			add("jwt.algorithms", "auth.jwt.public_key_file or auth.jwt.jwks_url is set but only HS256 is allowed")
		}
		if j.JWKSURL != "" {
			if err := checkHTTPURL(j.JWKSURL); err != nil {
				add("jwt.jwks_url", "%v", err)
			}
		}
		if j.JWKSRefresh < 0 {
			add("jwt.jwks_refresh", "%s is negative; use 0 for the default", j.JWKSRefresh)
		}
		if j.Leeway < 0 {
			add("jwt.leeway", "%s is negative", j.Leeway)
		}
	}
	seen := make(map[string]int)
	for i, name := range a.Chain {
		key := fmt.Sprintf("chain[%d]", i)
		switch {
		case !slices.Contains(DefaultAuthChain, name):
			add(key, "%q is not an authenticator (want %s)", name, strings.Join(DefaultAuthChain, ", "))
		case !a.configured(name):
			add(key, "%q is not configured; set auth.%s or remove it from auth.chain", name, name)
		default:
			if j, dup := seen[name]; dup {
				add(key, "%q is already auth.chain[%d]", name, j)
			}
			seen[name] = i
		}
	}
	if len(a.Chain) > 0 {
		for _, name := range DefaultAuthChain {
			if _, ok := seen[name]; !ok && a.configured(name) {
				add("chain", "auth.%s is configured but not in auth.chain; add %q to it", name, name)
			}
		}
	}
	return errs
}

// checkHTTPURL checks that s is an absolute http or https URL with a host.
func checkHTTPURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q must be an http:// or https:// URL with a host", u.Redacted())
	}
	return nil
}
