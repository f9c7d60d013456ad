package cli

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/baram-mqtt/baram/internal/bench"
	"github.com/baram-mqtt/baram/internal/mqttclient"
	"github.com/baram-mqtt/baram/internal/packet"
	"github.com/baram-mqtt/baram/internal/topic"
)

// This file holds what baram pub and baram sub share: the connection
// flags, named as mosquitto_pub and mosquitto_sub name them, and turning
// them into a connected mqttclient.Client over the dialer of baram bench.
// bench shares brokerTarget and loadTLS with them.

// connFlags are the connection flags of pub and sub.
type connFlags struct {
	url, host          string
	port               int
	username, password string
	id, idPrefix       string
	keepAlive          int
	version            string
	cafile, cert, key  string
	insecure, useTLS   bool
	bindAddr           string
	timeout            time.Duration
	persistent         bool
	sessionExpiry      string
	willTopic          string
	willPayload        string
	willQoS            int
	willRetain         bool
	props              []string
	debug              bool
}

// tlsFlagNames names the TLS flags of pub and sub in messages.
const tlsFlagNames = "--cafile, --cert, --key, --insecure and --tls"

// bindConn declares the connection flags on cmd. -h is the host, as in
// mosquitto_pub; help is --help alone.
func (f *connFlags) bind(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.Bool("help", false, "help for "+cmd.Name())
	fs.StringVarP(&f.host, "host", "h", "localhost", "broker `HOST`")
	fs.IntVarP(&f.port, "port", "p", 0, "broker `PORT` (default 1883, or 8883 with TLS)")
	fs.StringVarP(&f.url, "url", "L", "", "broker `URL` instead of --host and --port: mqtt://[USER[:PASSWORD]@]HOST[:PORT][/TOPIC], mqtts://..., ws://HOST:PORT/PATH or wss://...")
	fs.StringVarP(&f.username, "username", "u", "", "`USER` name")
	fs.StringVarP(&f.password, "password", "P", "", "`PASSWORD`")
	fs.StringVarP(&f.id, "id", "i", "", "client `ID` (default baram-"+cmd.Name()+"-RANDOM)")
	fs.StringVarP(&f.idPrefix, "id-prefix", "I", "", "client id `PREFIX`, followed by random hex digits")
	fs.IntVarP(&f.keepAlive, "keepalive", "k", 60, "keep alive in `SECONDS`: ping the broker when idle that long; 0 never pings")
	fs.StringVarP(&f.version, "protocol-version", "V", "311", "MQTT `VERSION`: 31, 311 or 5 (or mqttv31, mqttv311, mqttv5)")
	fs.StringVar(&f.cafile, "cafile", "", "trust the certificate authorities in PEM `FILE` (turns TLS on)")
	fs.StringVar(&f.cert, "cert", "", "client certificate PEM `FILE` (with --key; turns TLS on)")
	fs.StringVar(&f.key, "key", "", "client private key PEM `FILE` (with --cert)")
	fs.BoolVar(&f.insecure, "insecure", false, "do not verify the broker's certificate (turns TLS on)")
	fs.BoolVar(&f.useTLS, "tls", false, "use TLS, trusting the system's certificate authorities")
	fs.StringVarP(&f.bindAddr, "bind-address", "A", "", "connect from this local `ADDRESS`")
	fs.DurationVar(&f.timeout, "response-timeout", mqttclient.DefaultTimeout, "wait at most `DURATION` for each answer of the broker: connecting, each acknowledgement, each PINGRESP")
	fs.BoolVarP(&f.persistent, "disable-clean-session", "c", false, "keep the session when disconnected (persistent; needs -i): messages at QoS 1 and 2 are queued while away")
	fs.StringVarP(&f.sessionExpiry, "session-expiry", "x", "", "MQTT 5 session expiry `SECONDS` after disconnecting (-1: never; default -1 with -c, else 0); also 1h, 30m")
	fs.StringVar(&f.willTopic, "will-topic", "", "`TOPIC` of the will, published by the broker when the connection ends without DISCONNECT")
	fs.StringVar(&f.willPayload, "will-payload", "", "will `MESSAGE` (default empty)")
	fs.IntVar(&f.willQoS, "will-qos", 0, "will `QOS`: 0, 1 or 2")
	fs.BoolVar(&f.willRetain, "will-retain", false, "retain the will")
	fs.StringArrayVarP(&f.props, "property", "D", nil, "MQTT 5 property: -D `COMMAND` IDENTIFIER VALUE, or -D COMMAND user-property KEY VALUE (see --help)")
	fs.BoolVarP(&f.debug, "debug", "d", false, "print every packet sent and received on standard error")
}

// connSpec is a checked connection: where to, from where, and what
// CONNECT to send.
type connSpec struct {
	target     bench.Target
	source     net.IP
	connect    packet.Connect
	disconnect packet.Disconnect
	urlTopic   string // the topic of an -L mqtt://host/TOPIC
	hasTopic   bool
	props      propSet // -D, by command
	timeout    time.Duration
}

// resolve checks the connection flags. args are the command's positional
// arguments, which only -D consumes (its identifier and values); cmds are
// the -D commands the caller takes. Errors are usage errors.
func (f *connFlags) resolve(cmd *cobra.Command, args []string, cmds []string) (*connSpec, error) {
	changed := cmd.Flags().Changed
	s := &connSpec{timeout: f.timeout}
	rawURL := f.url
	user, pass := "", ""
	var hasUser, hasPass bool
	if rawURL != "" {
		var err error
		rawURL, user, pass, hasUser, hasPass, s.urlTopic, s.hasTopic, err = splitURL(rawURL)
		if err != nil {
			return nil, err
		}
	}
	useTLS := f.cafile != "" || f.cert != "" || f.key != "" || f.insecure || f.useTLS
	t, err := brokerTarget(rawURL, f.host, f.port, useTLS, tlsFlagNames, changed)
	if err != nil {
		return nil, err
	}
	t.AllowRemote = true
	if f.timeout <= 0 {
		return nil, fmt.Errorf("--response-timeout %v: want a positive duration", f.timeout)
	}
	t.ConnectTimeout = f.timeout
	if useTLS {
		if t.TLS, err = loadTLS(f.cafile, f.cert, f.key, f.insecure); err != nil {
			return nil, err
		}
	}
	s.target = t
	if f.bindAddr != "" {
		if s.source = net.ParseIP(f.bindAddr); s.source == nil {
			return nil, fmt.Errorf("--bind-address %q: not an IP address", f.bindAddr)
		}
	}
	version, err := parseVersion(f.version)
	if err != nil {
		return nil, err
	}
	if changed("username") {
		user, hasUser = f.username, true
	}
	if changed("password") {
		pass, hasPass = f.password, true
	}
	c := &s.connect
	c.Version = version
	c.HasUsername, c.Username = hasUser, user
	c.HasPassword, c.Password = hasPass, []byte(pass)
	if hasPass && !hasUser && version != packet.V5 {
		return nil, errors.New("--password needs --username before MQTT 5 [MQTT-3.1.2-22]")
	}
	if f.keepAlive < 0 || f.keepAlive > math.MaxUint16 {
		return nil, fmt.Errorf("--keepalive %d: want 0..65535 seconds", f.keepAlive)
	}
	c.KeepAlive = uint16(f.keepAlive)
	if err := f.clientID(cmd, c); err != nil {
		return nil, err
	}
	if s.props, err = parseProps(f.props, args, version, cmds); err != nil {
		return nil, err
	}
	if p := s.props["connect"]; p != nil {
		c.Props = *p
	}
	if p := s.props["disconnect"]; p != nil {
		s.disconnect.Props = *p
	}
	if err := f.session(changed, c); err != nil {
		return nil, err
	}
	if err := f.will(s, c); err != nil {
		return nil, err
	}
	return s, nil
}

// clientID sets the client identifier from -i or -I.
func (f *connFlags) clientID(cmd *cobra.Command, c *packet.Connect) error {
	switch {
	case cmd.Flags().Changed("id") && f.idPrefix != "":
		return errors.New("give --id or --id-prefix, not both")
	case cmd.Flags().Changed("id"):
		c.ClientID = f.id
	default:
		prefix := f.idPrefix
		if prefix == "" {
			prefix = "baram-" + cmd.Name() + "-"
		}
		var b [4]byte
		_, _ = rand.Read(b[:])
		c.ClientID = prefix + hex.EncodeToString(b[:])
	}
	if f.persistent && !cmd.Flags().Changed("id") {
		return errors.New("--disable-clean-session (-c) needs a client id (-i): a random one would never be used again")
	}
	return nil
}

// session sets Clean Start and the session expiry from -c and -x.
func (f *connFlags) session(changed func(string) bool, c *packet.Connect) error {
	c.CleanStart = !f.persistent
	if changed("session-expiry") {
		if c.Version != packet.V5 {
			return errors.New("--session-expiry is MQTT 5 (-V 5); before it, -c alone keeps the session")
		}
		secs, err := parseExpiry(f.sessionExpiry)
		if err != nil {
			return fmt.Errorf("--session-expiry %q: %w", f.sessionExpiry, err)
		}
		c.Props.Set(packet.PropSessionExpiry)
		c.Props.SessionExpiry = secs
	} else if f.persistent && c.Version == packet.V5 && !c.Props.Has(packet.PropSessionExpiry) {
		c.Props.Set(packet.PropSessionExpiry)
		c.Props.SessionExpiry = math.MaxUint32 // never, as MQTT 3.1.1's persistent sessions
	}
	return nil
}

// will sets the will from the --will flags.
func (f *connFlags) will(s *connSpec, c *packet.Connect) error {
	if f.willTopic == "" {
		if f.willPayload != "" || f.willQoS != 0 || f.willRetain || s.props["will"] != nil {
			return errors.New("--will-payload, --will-qos, --will-retain and -D will need --will-topic")
		}
		return nil
	}
	if err := topic.ValidName(f.willTopic); err != nil {
		return fmt.Errorf("--will-topic %q: %w", f.willTopic, err)
	}
	if f.willQoS < 0 || f.willQoS > 2 {
		return fmt.Errorf("--will-qos %d: want 0, 1 or 2", f.willQoS)
	}
	c.Will = &packet.Will{Topic: f.willTopic, Payload: []byte(f.willPayload), QoS: byte(f.willQoS), Retain: f.willRetain}
	if p := s.props["will"]; p != nil {
		c.Will.Props = *p
	}
	return nil
}

// dial connects as s describes. onPublish receives the broker's messages;
// debug lines go to stderr with -d.
func (s *connSpec) dial(ctx context.Context, name string, debug bool, stderr io.Writer, onPublish func(*packet.Publish) bool) (*mqttclient.Client, error) {
	t := s.target
	cfg := mqttclient.Config{
		Dial:      func(ctx context.Context) (net.Conn, error) { return t.Dial(ctx, s.source) },
		Connect:   s.connect,
		Timeout:   s.timeout,
		OnPublish: onPublish,
	}
	if debug {
		cfg.Debug = func(msg string) { fmt.Fprintf(stderr, "baram %s: %s\n", name, msg) }
	}
	c, err := mqttclient.Connect(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", t.URL(), err)
	}
	return c, nil
}

// splitURL takes from an -L URL what bench.Target.ParseURL does not read:
// the user name and password of mqtt://USER:PASSWORD@HOST, and, for mqtt://
// and mqtts://, the topic of mqtt://HOST/TOPIC as mosquitto_pub -L reads it
// (everything after the first slash, '#' and '+' included). rest is the
// URL without them. User name and password may be %-escaped.
func splitURL(raw string) (rest, user, pass string, hasUser, hasPass bool, topic string, hasTopic bool, err error) {
	scheme, after, ok := strings.Cut(raw, "://")
	if !ok {
		return raw, "", "", false, false, "", false, nil // ParseURL says what is wrong
	}
	hostPart, path, hasPath := strings.Cut(after, "/")
	if at := strings.LastIndex(hostPart, "@"); at >= 0 {
		info := hostPart[:at]
		hostPart = hostPart[at+1:]
		u, p, colon := strings.Cut(info, ":")
		if user, err = url.PathUnescape(u); err != nil {
			return "", "", "", false, false, "", false, fmt.Errorf("--url: user name: %w", err)
		}
		hasUser = true
		if colon {
			if pass, err = url.PathUnescape(p); err != nil {
				return "", "", "", false, false, "", false, fmt.Errorf("--url: password: %w", err)
			}
			hasPass = true
		}
	}
	rest = scheme + "://" + hostPart
	switch strings.ToLower(scheme) {
	case "ws", "wss":
		if hasPath {
			rest += "/" + path
		}
	default:
		topic, hasTopic = path, hasPath && path != ""
	}
	return rest, user, pass, hasUser, hasPass, topic, hasTopic, nil
}

// brokerTarget reads the broker address flags that bench, pub and sub
// share: --url (mqtt://, mqtts://, ws://, wss://), or --host and --port,
// the port 1883 by default, or 8883 when useTLS. tlsNames names the TLS
// flags for the message when the URL's scheme has no TLS.
func brokerTarget(rawURL, host string, port int, useTLS bool, tlsNames string, changed func(string) bool) (bench.Target, error) {
	var t bench.Target
	if rawURL != "" {
		if changed("host") || changed("port") {
			return t, errors.New("give --url or --host and --port, not both")
		}
		if err := t.ParseURL(rawURL); err != nil {
			return t, errors.New(strings.TrimPrefix(err.Error(), "bench: "))
		}
		if useTLS && t.Scheme != bench.SchemeMQTTS && t.Scheme != bench.SchemeWSS {
			return t, fmt.Errorf("%s need an mqtts:// or wss:// URL, not %s", tlsNames, t.Scheme)
		}
		return t, nil
	}
	t.Scheme = bench.SchemeMQTT
	p := 1883
	if useTLS {
		t.Scheme, p = bench.SchemeMQTTS, 8883
	}
	if changed("port") {
		p = port
	}
	if p < 1 || p > 65535 || host == "" {
		return t, fmt.Errorf("--host %q --port %d: want a host and a port 1..65535", host, p)
	}
	t.Addr = net.JoinHostPort(host, strconv.Itoa(p))
	return t, nil
}

// loadTLS reads the TLS flags that bench, pub and sub share.
func loadTLS(cafile, cert, key string, insecure bool) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: insecure} //nolint:gosec // --insecure asks for it
	if cafile != "" {
		pem, err := os.ReadFile(cafile)
		if err != nil {
			return nil, fmt.Errorf("--cafile: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--cafile %s: no PEM certificate in it", cafile)
		}
	}
	if (cert == "") != (key == "") {
		return nil, errors.New("--cert and --key go together")
	}
	if cert != "" {
		kp, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			return nil, fmt.Errorf("--cert/--key: %w", err)
		}
		cfg.Certificates = []tls.Certificate{kp}
	}
	return cfg, nil
}

// parseVersion reads -V as mosquitto does (mqttv31, mqttv311, mqttv5),
// and also as 31, 311, 5, 3.1, 3.1.1 and 5.0.
func parseVersion(s string) (byte, error) {
	switch strings.TrimPrefix(strings.ToLower(s), "mqttv") {
	case "31", "3.1", "3":
		return packet.V31, nil
	case "311", "3.1.1", "4":
		return packet.V311, nil
	case "5", "5.0", "50":
		return packet.V5, nil
	}
	return 0, fmt.Errorf("--protocol-version %q: want 31, 311 or 5 (or mqttv31, mqttv311, mqttv5)", s)
}

// parseExpiry reads a session or message expiry: seconds, -1 (and
// 4294967295, inf, never, ∞) for never, or a Go duration such as 1h.
func parseExpiry(s string) (uint32, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "-1", "inf", "infinity", "never", "∞":
		return math.MaxUint32, nil
	}
	if n, err := strconv.ParseUint(s, 10, 32); err == nil {
		return uint32(n), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 || d.Seconds() > math.MaxUint32 {
		return 0, errors.New("want seconds 0..4294967295, -1 for never, or a duration such as 1h")
	}
	return uint32(d / time.Second), nil
}

// parseSeconds reads a time in seconds, as mosquitto takes it (-W 5,
// --repeat-delay 0.5), or a Go duration (500ms).
func parseSeconds(s string) (time.Duration, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if f < 0 || f > 1e9 || math.IsNaN(f) {
			return 0, errors.New("want a non-negative number of seconds")
		}
		return time.Duration(f * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, errors.New("want seconds (5, 0.5) or a duration (500ms, 1m)")
	}
	return d, nil
}

// lockedWriter serializes writes from the client's goroutines and the
// command's (debug lines and messages on stderr).
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
