package packet

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// Golden files (testdata/golden/*.txt) hold hand-written packets. Each
// record starts with a name line; '#' starts a comment anywhere:
//
//	name: connect-v311-minimal
//	version: 0          # connection protocol level passed to Decode
//	hex: 10 0e ...      # may repeat; XX*N repeats byte XX N times
//	canon: ...          # optional: the re-encoding, when not byte-equal
//	want: ok            # or incomplete, or a reason code such as 0x81
//	msg: substring      # optional: expected in the error message
type golden struct {
	file, name string
	line       int
	version    byte
	in, canon  []byte
	want       string
	msg        string
}

var updateSeeds = flag.Bool("update-fuzz-seeds", false, "rewrite testdata/fuzz/FuzzDecode from the golden packets")

func loadGolden(t testing.TB) []*golden {
	t.Helper()
	files, err := filepath.Glob("testdata/golden/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	var all []*golden
	for _, f := range files {
		all = append(all, parseGoldenFile(t, f)...)
	}
	return all
}

func parseGoldenFile(t testing.TB, path string) []*golden {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []*golden
	var g *golden
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		key, val, ok := strings.Cut(line, ":")
		if !ok {
			if strings.TrimSpace(line) != "" {
				t.Fatalf("%s:%d: no key", path, n)
			}
			continue
		}
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		if key == "name" {
			g = &golden{file: filepath.Base(path), name: val, line: n}
			out = append(out, g)
			continue
		}
		if g == nil {
			t.Fatalf("%s:%d: %s before name", path, n, key)
		}
		if err := g.set(key, val); err != nil {
			t.Fatalf("%s:%d: %v", path, n, err)
		}
	}
	return out
}

func (g *golden) set(key, val string) error {
	switch key {
	case "version":
		v, err := strconv.ParseUint(val, 0, 8)
		g.version = byte(v)
		return err
	case "hex":
		return appendHex(&g.in, val)
	case "canon":
		return appendHex(&g.canon, val)
	case "want":
		g.want = val
	case "msg":
		g.msg = val
	default:
		return fmt.Errorf("unknown key %q", key)
	}
	return nil
}

func appendHex(dst *[]byte, s string) error {
	for _, tok := range strings.Fields(s) {
		tok, rep, _ := strings.Cut(tok, "*")
		b, err := hex.DecodeString(tok)
		if err != nil {
			return err
		}
		n := 1
		if rep != "" {
			if n, err = strconv.Atoi(rep); err != nil {
				return err
			}
		}
		for range n {
			*dst = append(*dst, b...)
		}
	}
	return nil
}

// decodeAll runs the broker's read path over one whole packet.
func decodeAll(b []byte, version byte) (Packet, error) {
	h, err := ParseFixedHeader(b)
	if err != nil {
		return nil, err
	}
	if len(b) < h.PacketLen() {
		return nil, ErrIncomplete
	}
	if len(b) > h.PacketLen() {
		return nil, fmt.Errorf("%d bytes after the packet", len(b)-h.PacketLen())
	}
	return Decode(h, b[h.HeaderLen:], version)
}

func outcome(err error) string {
	var e *Error
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, ErrIncomplete):
		return "incomplete"
	case errors.As(err, &e):
		return fmt.Sprintf("0x%02X", byte(e.Code))
	}
	return "non-*Error: " + err.Error()
}

func TestGolden(t *testing.T) {
	names := map[string]bool{}
	for _, g := range loadGolden(t) {
		if names[g.name] {
			t.Errorf("%s:%d: duplicate name %s", g.file, g.line, g.name)
		}
		names[g.name] = true
		t.Run(g.name, func(t *testing.T) {
			p, err := decodeAll(g.in, g.version)
			if got := outcome(err); !strings.EqualFold(got, g.want) {
				t.Fatalf("%s:%d: got %s (%v), want %s", g.file, g.line, got, err, g.want)
			}
			if err != nil {
				if g.msg != "" && !strings.Contains(err.Error(), g.msg) {
					t.Errorf("%s:%d: error %q lacks %q", g.file, g.line, err, g.msg)
				}
				return
			}
			want := g.in
			if g.canon != nil {
				want = g.canon
			}
			checkRoundTrip(t, p, g.version, want)
		})
	}
}

// checkRoundTrip re-encodes p, compares with want (if non-nil), checks
// Size and AppendPublish, and decodes the encoding back to an equal packet.
func checkRoundTrip(t *testing.T, p Packet, version byte, want []byte) {
	t.Helper()
	out, err := Append(nil, p, version)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	if want != nil && !bytes.Equal(out, want) {
		t.Fatalf("re-encoded\n got % x\nwant % x", out, want)
	}
	if n := Size(p, version); n != len(out) {
		t.Errorf("Size = %d, Append wrote %d", n, len(out))
	}
	if pub, ok := p.(*Publish); ok {
		if out2 := AppendPublish(nil, pub, version); !bytes.Equal(out2, out) {
			t.Errorf("AppendPublish\n got % x\nwant % x", out2, out)
		}
	}
	p2, err := decodeAll(out, version)
	if err != nil {
		t.Fatalf("decoding the re-encoding % x: %v", out, err)
	}
	if !reflect.DeepEqual(normalize(p), normalize(p2)) {
		t.Fatalf("round trip changed the packet\n got %#v\nwant %#v", p2, p)
	}
}

// normalize makes empty slices nil so DeepEqual compares content.
func normalize(p Packet) Packet {
	switch p := p.(type) {
	case *Publish:
		q := *p
		if len(q.Payload) == 0 {
			q.Payload = nil
		}
		return &q
	case *Connect:
		q := *p
		if len(q.Password) == 0 {
			q.Password = nil
		}
		if q.Will != nil {
			w := *q.Will
			if len(w.Payload) == 0 {
				w.Payload = nil
			}
			q.Will = &w
		}
		return &q
	}
	return p
}

// TestGoldenCoverage checks the golden files decode every packet type in
// every version that has it, and every property.
func TestGoldenCoverage(t *testing.T) {
	seen := map[string]bool{}
	var props uint64
	for _, g := range loadGolden(t) {
		p, err := decodeAll(g.in, g.version)
		if err != nil {
			continue
		}
		v := g.version
		if c, ok := p.(*Connect); ok {
			v = c.Version
			props |= c.Props.mask
			if c.Will != nil {
				props |= c.Will.Props.mask
			}
		}
		seen[fmt.Sprint(p.Type(), v)] = true
		props |= propsOf(p).mask
	}
	for _, v := range []byte{V31, V311, V5} {
		for ty := CONNECT; ty <= AUTH; ty++ {
			if ty == AUTH && v != V5 {
				continue
			}
			if !seen[fmt.Sprint(ty, v)] {
				t.Errorf("no valid golden %s for version %d", ty, v)
			}
		}
	}
	for id := range propTable {
		if propTable[id].kind != kindNone && props&(1<<id) == 0 {
			t.Errorf("no valid golden packet carries %s", PropID(id))
		}
	}
}

// propsOf returns a packet's properties (a zero value for none).
func propsOf(p Packet) *Properties {
	switch p := p.(type) {
	case *Connect:
		return &p.Props
	case *Connack:
		return &p.Props
	case *Publish:
		return &p.Props
	case *Ack:
		return &p.Props
	case *Subscribe:
		return &p.Props
	case *Suback:
		return &p.Props
	case *Unsubscribe:
		return &p.Props
	case *Unsuback:
		return &p.Props
	case *Disconnect:
		return &p.Props
	case *Auth:
		return &p.Props
	}
	return &Properties{}
}

// TestUpdateFuzzSeeds writes one seed per golden packet when run with
// -update-fuzz-seeds.
func TestUpdateFuzzSeeds(t *testing.T) {
	if !*updateSeeds {
		t.Skip("run with -update-fuzz-seeds to rewrite the seed corpus")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzDecode")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, g := range loadGolden(t) {
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", g.in)
		if err := os.WriteFile(filepath.Join(dir, "golden-"+g.name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
