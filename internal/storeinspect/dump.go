package storeinspect

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/baram-mqtt/baram/internal/session"
	"github.com/baram-mqtt/baram/internal/store"
	"github.com/baram-mqtt/baram/internal/topic"
)

// DumpOptions select what Dump prints.
type DumpOptions struct {
	// Client limits the output to the session of this client id and
	// leaves out retained messages; "" prints every session and the
	// retained messages.
	Client string
	// Topic limits queued and retained messages to those whose topic
	// matches this filter (topic.Match); it must be a valid filter, not a
	// shared one. "" prints them all.
	Topic string
	// JSON prints one JSON object per line instead of text.
	JSON bool
}

// Dump prints, in sid order, every session of st with its subscriptions,
// queued messages, inflight records and inbound QoS 2 packet ids, and then
// the retained messages. Text output is one line per record, a session's
// records indented under it; JSON output is one object per line, with a
// "kind" field and, for a session's records, its client_id and sid.
//
// A record that does not decode is printed with an "error" field and
// counted in bad. Records of sessions that have no 's' record are not
// printed: Check reports them.
func Dump(st store.Store, w io.Writer, o DumpOptions) (bad int, err error) {
	d := &dumper{st: st, o: o, w: bufio.NewWriter(w)}
	err = st.Scan([]byte{store.TableSession}, nil, d.session)
	if err == nil && o.Client == "" {
		err = st.Scan(store.RetainedPrefix(), nil, d.retained)
	}
	if ferr := d.w.Flush(); err == nil {
		err = ferr
	}
	return d.bad, err
}

// dumper holds the state of one Dump.
type dumper struct {
	st  store.Store
	o   DumpOptions
	w   *bufio.Writer
	bad int
	cur []field // the session being printed: client_id, sid
}

// field is one name and value of an output line.
type field struct {
	name  string
	value any
}

// session prints one session and its records.
func (d *dumper) session(k, v []byte) error {
	sid, ok := store.ParseSessionKey(k)
	if !ok {
		return nil // Check reports it
	}
	rec, err := store.UnmarshalSession(v)
	if err != nil {
		if d.o.Client != "" {
			return nil // cannot tell whose it is
		}
		d.bad++
		d.cur = []field{{"sid", sid}}
		d.emit("session", false, field{"error", err.Error()})
		return d.children(sid)
	}
	if d.o.Client != "" && rec.ClientID != d.o.Client {
		return nil
	}
	d.cur = []field{{"client_id", rec.ClientID}, {"sid", sid}}
	f := []field{{"version", rec.Version}, {"expiry", formatExpiry(rec.Expiry)}}
	if rec.DisconnectedAt != 0 {
		f = append(f, field{"disconnected_at", formatUnix(rec.DisconnectedAt)})
	}
	if rec.Will != nil {
		if m, err := session.UnmarshalMessage(rec.Will); err != nil {
			d.bad++
			f = append(f, field{"error", "will " + err.Error()})
		} else {
			f = append(f, field{"will_topic", m.Topic})
			if rec.WillDelay != 0 {
				f = append(f, field{"will_delay", formatExpiry(rec.WillDelay)})
			}
		}
	}
	d.emit("session", false, f...)
	return d.children(sid)
}

// children prints the subscriptions, queued messages, inflight records
// and inbound QoS 2 ids of session sid.
func (d *dumper) children(sid uint64) error {
	for _, scan := range []struct {
		prefix []byte
		fn     func(k, v []byte) error
	}{
		{store.SubscriptionPrefix(sid), d.subscription},
		{store.QueuePrefix(sid), d.queued},
		{store.InflightPrefix(sid), d.inflight},
		{store.InboundPrefix(sid), d.inbound},
	} {
		if err := d.st.Scan(scan.prefix, nil, scan.fn); err != nil {
			return err
		}
	}
	return nil
}

func (d *dumper) subscription(k, v []byte) error {
	_, filter, _ := store.ParseSubscriptionKey(k)
	rec, err := store.UnmarshalSubscription(v)
	if err != nil {
		d.bad++
		d.emit("subscription", true, field{"filter", filter}, field{"error", err.Error()})
		return nil
	}
	f := []field{{"filter", filter}, {"qos", rec.QoS}}
	if rec.NoLocal {
		f = append(f, field{"no_local", true})
	}
	if rec.RetainAsPublished {
		f = append(f, field{"retain_as_published", true})
	}
	if rec.RetainHandling != 0 {
		f = append(f, field{"retain_handling", rec.RetainHandling})
	}
	if rec.ID != 0 {
		f = append(f, field{"id", rec.ID})
	}
	d.emit("subscription", true, f...)
	return nil
}

func (d *dumper) queued(k, v []byte) error {
	_, seq, ok := store.ParseQueueKey(k)
	if !ok {
		return nil
	}
	rec, err := store.UnmarshalQueue(v)
	var m *session.Message
	if err == nil {
		m, err = session.UnmarshalMessage(rec.Message)
	}
	if err != nil {
		d.bad++
		d.emit("queued", true, field{"seq", seq}, field{"error", err.Error()})
		return nil
	}
	if d.o.Topic != "" && !topic.Match(d.o.Topic, m.Topic) {
		return nil
	}
	f := append([]field{{"seq", seq}}, messageFields(m, rec.QoS)...)
	if rec.Retain {
		f = append(f, field{"retain", true})
	}
	d.emit("queued", true, f...)
	return nil
}

func (d *dumper) inflight(k, v []byte) error {
	_, id, ok := store.ParseInflightKey(k)
	if !ok {
		return nil
	}
	rec, err := store.UnmarshalInflight(v)
	if err != nil {
		d.bad++
		d.emit("inflight", true, field{"packet_id", id}, field{"error", err.Error()})
		return nil
	}
	d.emit("inflight", true, field{"packet_id", id}, field{"seq", rec.Seq}, field{"phase", phaseName(rec.Phase)})
	return nil
}

func (d *dumper) inbound(k, _ []byte) error {
	if _, id, ok := store.ParseInboundKey(k); ok {
		d.emit("inbound_qos2", true, field{"packet_id", id})
	}
	return nil
}

func (d *dumper) retained(k, v []byte) error {
	name, _ := store.ParseRetainedKey(k)
	if d.o.Topic != "" && !topic.Match(d.o.Topic, name) {
		return nil
	}
	m, err := session.UnmarshalMessage(v)
	if err != nil {
		d.bad++
		d.emit("retained", false, field{"topic", name}, field{"error", err.Error()})
		return nil
	}
	d.emit("retained", false, messageFields(m, m.QoS)...)
	return nil
}

// messageFields describes a message: topic, the QoS it is kept at,
// payload size and preview, and expiry when it has one.
func messageFields(m *session.Message, qos byte) []field {
	f := []field{{"topic", m.Topic}, {"qos", qos}, {"size", len(m.Payload)}, {"payload", preview(m.Payload)}}
	if !m.Expiry.IsZero() {
		f = append(f, field{"expires", m.Expiry.UTC().Format("2006-01-02T15:04:05.000Z07:00")})
	}
	return f
}

// emit writes one line. A nested line (a session's record) is indented
// in text, and carries the session's fields in JSON.
func (d *dumper) emit(kind string, nested bool, fields ...field) {
	if d.o.JSON {
		d.w.WriteString(`{"kind":`)
		d.w.WriteString(strconv.Quote(kind))
		if nested || kind == "session" {
			fields = append(d.cur[:len(d.cur):len(d.cur)], fields...)
		}
		for _, f := range fields {
			fmt.Fprintf(d.w, ",%q:%s", f.name, jsonValue(f.value))
		}
		d.w.WriteString("}\n")
		return
	}
	if nested {
		d.w.WriteString("  ")
	}
	d.w.WriteString(kind)
	if kind == "session" {
		fields = append(d.cur[:len(d.cur):len(d.cur)], fields...)
	}
	for _, f := range fields {
		fmt.Fprintf(d.w, " %s=%s", f.name, textValue(f.value))
	}
	d.w.WriteByte('\n')
}

// jsonValue encodes v, a string, bool or number, as JSON, leaving <, >
// and & as they are.
func jsonValue(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil { // not for the values Dump prints
		return []byte(strconv.Quote(fmt.Sprint(v)))
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// textValue formats v for text output, quoting strings that would be
// ambiguous unquoted.
func textValue(v any) string {
	s, ok := v.(string)
	if !ok {
		return fmt.Sprint(v)
	}
	if s == "" || strings.ContainsAny(s, ` "=\`) || !printable(s) {
		return strconv.Quote(s)
	}
	return s
}
