package storeinspect

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/baram-mqtt/baram/internal/session"
	"github.com/baram-mqtt/baram/internal/store"
	"github.com/baram-mqtt/baram/internal/topic"
)

// MaxProblems is how many problems a Report lists; further ones are only
// counted.
const MaxProblems = 1000

// Report is what Check found in a store.
type Report struct {
	Sessions      int   // session records ('s')
	Subscriptions int   // subscriptions ('f')
	Queued        int   // queued messages ('q'), inflight ones included
	QueuedBytes   int64 // topic and payload bytes of the queued messages
	Inflight      int   // outbound inflight records ('i')
	Inbound       int   // inbound QoS 2 messages awaiting PUBREL ('r')
	Retained      int   // retained messages ('R')
	Expiries      int   // expiry index entries ('x' and 'X')

	// Problems are the first MaxProblems problems, in key order.
	Problems []Problem
	// MoreProblems counts the problems beyond MaxProblems.
	MoreProblems int
}

// Problem is one thing wrong with a record.
type Problem struct {
	Key []byte // the record's key
	Msg string // what is wrong with it
}

// String returns the key, as FormatKey shows it, and the message.
func (p Problem) String() string { return FormatKey(p.Key) + ": " + p.Msg }

// NumProblems is the number of problems found.
func (r *Report) NumProblems() int { return len(r.Problems) + r.MoreProblems }

// Write prints the summary and then every listed problem, one a line.
func (r *Report) Write(w io.Writer) error {
	var b bytes.Buffer
	line := func(name string, format string, args ...any) {
		fmt.Fprintf(&b, "%-16s %s\n", name, fmt.Sprintf(format, args...))
	}
	line("sessions", "%d", r.Sessions)
	line("subscriptions", "%d", r.Subscriptions)
	line("queued messages", "%d (%d bytes of topic and payload)", r.Queued, r.QueuedBytes)
	line("inflight", "%d", r.Inflight)
	line("inbound QoS 2", "%d", r.Inbound)
	line("retained", "%d", r.Retained)
	line("expiry entries", "%d", r.Expiries)
	line("problems", "%d", r.NumProblems())
	for _, p := range r.Problems {
		fmt.Fprintf(&b, "problem: %s\n", p)
	}
	if r.MoreProblems > 0 {
		fmt.Fprintf(&b, "... and %d more problems\n", r.MoreProblems)
	}
	_, err := w.Write(b.Bytes())
	return err
}

// Check reads every record of st, decodes it and checks that records
// refer to each other consistently:
//
//   - each 'c' client id maps to an 's' record of that client, and each
//     's' record is the one its client's 'c' entry maps to;
//   - each 'f', 'q', 'i' and 'r' key belongs to a session with an 's'
//     record;
//   - each 'i' record's sequence number has its 'q' record;
//   - every key is of a known table and well formed.
//
// It returns an error only when the store cannot be read; what is wrong
// with the data is in the Report.
func Check(st store.Store) (*Report, error) {
	c := &checker{st: st, r: &Report{},
		clients: make(map[string]uint64), badClients: make(map[string]bool), sessions: make(map[uint64]sessionInfo), refs: make(map[ref]*refUse)}
	if err := st.Scan(nil, nil, c.visit); err != nil {
		return nil, err
	}
	if err := c.finish(); err != nil {
		return nil, err
	}
	slices.SortStableFunc(c.r.Problems, func(a, b Problem) int { return bytes.Compare(a.Key, b.Key) })
	return c.r, nil
}

// checker holds what Check has seen so far.
type checker struct {
	st      store.Store
	r       *Report
	clients map[string]uint64 // 'c' entries: client id → sid
	// badClients are the client ids whose 'c' value is corrupt.
	badClients map[string]bool
	sessions   map[uint64]sessionInfo // 's' records by sid
	refs       map[ref]*refUse        // sessions that 'f', 'q', 'i', 'r' keys name
	inflight   []inflightRef          // 'i' records, to find their 'q' record
}

// sessionInfo is what Check keeps of an 's' record.
type sessionInfo struct {
	clientID string
	decoded  bool // false: the record is corrupt and clientID unknown
}

// ref is a session named by keys of a table.
type ref struct {
	table byte
	sid   uint64
}

// refUse counts the keys of a ref and keeps the first, to name it.
type refUse struct {
	first []byte
	n     int
}

// inflightRef is an 'i' record's reference to its queued message.
type inflightRef struct {
	key      []byte
	sid, seq uint64
}

// problem records a problem with key.
func (c *checker) problem(key []byte, format string, args ...any) {
	if len(c.r.Problems) >= MaxProblems {
		c.r.MoreProblems++
		return
	}
	c.r.Problems = append(c.r.Problems, Problem{Key: bytes.Clone(key), Msg: fmt.Sprintf(format, args...)})
}

// use notes that key names session sid.
func (c *checker) use(key []byte, sid uint64) {
	r := ref{key[0], sid}
	if u := c.refs[r]; u != nil {
		u.n++
		return
	}
	c.refs[r] = &refUse{first: bytes.Clone(key), n: 1}
}

// visit checks one record.
func (c *checker) visit(k, v []byte) error {
	if len(k) == 0 {
		c.problem(k, "empty key")
		return nil
	}
	switch k[0] {
	case store.TableSessionID:
		c.visitSessionID(k, v)
	case store.TableSession:
		c.visitSession(k, v)
	case store.TableSubscription:
		c.visitSubscription(k, v)
	case store.TableQueue:
		c.visitQueue(k, v)
	case store.TableInflight:
		c.visitInflight(k, v)
	case store.TableInbound:
		if sid, _, ok := store.ParseInboundKey(k); !ok {
			c.problem(k, "malformed inbound QoS 2 key")
		} else {
			c.r.Inbound++
			c.use(k, sid)
		}
	case store.TableRetained:
		c.visitRetained(k, v)
	case store.TableSessionExpiry:
		_, _, ok := store.ParseSessionExpiryKey(k)
		c.expiry(k, ok)
	case store.TableMessageExpiry:
		_, _, ok := store.ParseMessageExpiryKey(k)
		c.expiry(k, ok)
	case store.TableMeta:
	default:
		c.problem(k, "unknown table %q", k[0])
	}
	return nil
}

// expiry counts an expiry index entry whose key parsed (ok).
func (c *checker) expiry(k []byte, ok bool) {
	if !ok {
		c.problem(k, "malformed expiry index key")
		return
	}
	c.r.Expiries++
}

func (c *checker) visitSessionID(k, v []byte) {
	id, _ := store.ParseSessionIDKey(k)
	sid, err := decodeSID(v)
	if err != nil {
		c.problem(k, "session id record: %v", err)
		c.badClients[id] = true
		return
	}
	c.clients[id] = sid
}

func (c *checker) visitSession(k, v []byte) {
	sid, ok := store.ParseSessionKey(k)
	if !ok {
		c.problem(k, "malformed session key")
		return
	}
	c.r.Sessions++
	rec, err := store.UnmarshalSession(v)
	if err != nil {
		c.problem(k, "%v", err)
		c.sessions[sid] = sessionInfo{}
		return
	}
	c.sessions[sid] = sessionInfo{clientID: rec.ClientID, decoded: true}
	if rec.Will != nil {
		if _, err := session.UnmarshalMessage(rec.Will); err != nil {
			c.problem(k, "will of client %q: %v", rec.ClientID, err)
		}
	}
}

func (c *checker) visitSubscription(k, v []byte) {
	sid, filter, ok := store.ParseSubscriptionKey(k)
	if !ok {
		c.problem(k, "malformed subscription key")
		return
	}
	c.r.Subscriptions++
	c.use(k, sid)
	if err := topic.ValidFilter(filter); err != nil {
		c.problem(k, "invalid filter: %v", err)
	}
	rec, err := store.UnmarshalSubscription(v)
	switch {
	case err != nil:
		c.problem(k, "%v", err)
	case rec.QoS > 2 || rec.RetainHandling > 2:
		c.problem(k, "subscription record: QoS %d, retain handling %d", rec.QoS, rec.RetainHandling)
	}
}

func (c *checker) visitQueue(k, v []byte) {
	sid, _, ok := store.ParseQueueKey(k)
	if !ok {
		c.problem(k, "malformed queue key")
		return
	}
	c.r.Queued++
	c.use(k, sid)
	rec, err := store.UnmarshalQueue(v)
	if err != nil {
		c.problem(k, "%v", err)
		return
	}
	if rec.QoS > 2 {
		c.problem(k, "queue record: QoS %d", rec.QoS)
	}
	m, err := session.UnmarshalMessage(rec.Message)
	if err != nil {
		c.problem(k, "queued %v", err)
		return
	}
	c.r.QueuedBytes += int64(m.Size())
}

func (c *checker) visitInflight(k, v []byte) {
	sid, _, ok := store.ParseInflightKey(k)
	if !ok {
		c.problem(k, "malformed inflight key")
		return
	}
	c.r.Inflight++
	c.use(k, sid)
	rec, err := store.UnmarshalInflight(v)
	if err != nil {
		c.problem(k, "%v", err)
		return
	}
	if !validPhase(rec.Phase) {
		c.problem(k, "inflight record: unknown phase %d", rec.Phase)
	}
	c.inflight = append(c.inflight, inflightRef{key: bytes.Clone(k), sid: sid, seq: rec.Seq})
}

func (c *checker) visitRetained(k, v []byte) {
	name, _ := store.ParseRetainedKey(k)
	c.r.Retained++
	m, err := session.UnmarshalMessage(v)
	switch {
	case err != nil:
		c.problem(k, "retained %v", err)
	case m.Topic != name:
		c.problem(k, "retained message has topic %q", m.Topic)
	}
}

// finish checks the references between records once all are seen.
func (c *checker) finish() error {
	for id, sid := range c.clients {
		s, ok := c.sessions[sid]
		switch {
		case !ok:
			c.problem(store.SessionIDKey(id), "maps to session %d, which has no record (%s)", sid, FormatKey(store.SessionKey(sid)))
		case s.decoded && s.clientID != id:
			c.problem(store.SessionIDKey(id), "maps to session %d, whose record is of client %q", sid, s.clientID)
		}
	}
	for sid, s := range c.sessions {
		if !s.decoded || c.badClients[s.clientID] {
			continue
		}
		if got, ok := c.clients[s.clientID]; !ok {
			c.problem(store.SessionKey(sid), "session of client %q is unreachable: no %s", s.clientID, FormatKey(store.SessionIDKey(s.clientID)))
		} else if got != sid {
			c.problem(store.SessionKey(sid), "session of client %q is unreachable: %s maps to session %d", s.clientID, FormatKey(store.SessionIDKey(s.clientID)), got)
		}
	}
	for r, u := range c.refs {
		if _, ok := c.sessions[r.sid]; !ok {
			c.problem(u.first, "%s of session %d, which has no record (%s)", countOf(r.table, u.n), r.sid, FormatKey(store.SessionKey(r.sid)))
		}
	}
	for _, in := range c.inflight {
		_, err := c.st.Get(store.QueueKey(in.sid, in.seq))
		if errors.Is(err, store.ErrNotFound) {
			c.problem(in.key, "its queued message is missing (%s)", FormatKey(store.QueueKey(in.sid, in.seq)))
		} else if err != nil {
			return err
		}
	}
	return nil
}

// countOf says how many keys of table there are, as in "3 queued messages".
func countOf(table byte, n int) string {
	noun := map[byte]string{
		store.TableSubscription: "subscription",
		store.TableQueue:        "queued message",
		store.TableInflight:     "inflight record",
		store.TableInbound:      "inbound QoS 2 record",
	}[table]
	if n != 1 {
		noun += "s"
	}
	return fmt.Sprintf("%d %s", n, noun)
}
