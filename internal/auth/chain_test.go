package auth

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

// fixed answers every request with the same decision and error, and counts
// the requests.
type fixed struct {
	d     Decision
	err   error
	calls int
}

func (f *fixed) Authenticate(context.Context, *Request) (Decision, error) {
	f.calls++
	return f.d, f.err
}

func TestChain(t *testing.T) {
	boom := errors.New("boom")
	ignore := func() *fixed { return &fixed{d: Ignore} }
	allow := func() *fixed { return &fixed{d: Allow} }
	deny := func() *fixed { return &fixed{d: Deny} }
	tests := []struct {
		name    string
		chain   []*fixed
		want    Decision
		wantErr bool
		called  int // how many entries are asked
	}{
		{"empty", nil, Ignore, false, 0},
		{"all ignore", []*fixed{ignore(), ignore()}, Ignore, false, 2},
		{"ignore then allow", []*fixed{ignore(), allow()}, Allow, false, 2},
		{"ignore then deny", []*fixed{ignore(), deny()}, Deny, false, 2},
		{"allow wins over later deny", []*fixed{allow(), deny()}, Allow, false, 1},
		{"deny wins over later allow", []*fixed{deny(), allow()}, Deny, false, 1},
		{"error denies", []*fixed{{d: Deny, err: boom}, allow()}, Deny, true, 1},
		{"error after ignore denies", []*fixed{ignore(), {d: Deny, err: boom}, allow()}, Deny, true, 2},
		{"error with allow still denies", []*fixed{{d: Allow, err: boom}}, Deny, true, 1},
		{"error with ignore still denies", []*fixed{{d: Ignore, err: boom}, allow()}, Deny, true, 1},
		{"invalid decision denies", []*fixed{{d: Decision(7)}, allow()}, Deny, true, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c Chain
			for _, f := range tt.chain {
				c = append(c, f)
			}
			got, err := c.Authenticate(context.Background(), &Request{})
			if got != tt.want || (err != nil) != tt.wantErr {
				t.Fatalf("got %v, %v; want %v, error %v", got, err, tt.want, tt.wantErr)
			}
			if tt.wantErr && tt.chain[tt.called-1].err != nil && !errors.Is(err, boom) {
				t.Errorf("error %v does not wrap the authenticator's", err)
			}
			called := 0
			for _, f := range tt.chain {
				called += f.calls
			}
			if called != tt.called {
				t.Errorf("asked %d authenticators, want %d", called, tt.called)
			}
		})
	}
}

func TestChainNilEntry(t *testing.T) {
	d, err := Chain{nil, &fixed{d: Allow}}.Authenticate(context.Background(), &Request{})
	if d != Deny || err == nil {
		t.Fatalf("got %v, %v; want deny and an error", d, err)
	}
}

func TestDecisionString(t *testing.T) {
	for d, want := range map[Decision]string{Ignore: "ignore", Allow: "allow", Deny: "deny", 9: "Decision(9)"} {
		if got := d.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", int(d), got, want)
		}
	}
}

func TestRequestLogValueHidesPassword(t *testing.T) {
	var b strings.Builder
	r := &Request{Username: "alice", HasUsername: true, Password: []byte("s3cret"), HasPassword: true}
	slog.New(slog.NewTextHandler(&b, nil)).Info("connect", "req", r)
	if out := b.String(); strings.Contains(out, "s3cret") || !strings.Contains(out, "alice") {
		t.Fatalf("log line %q: want the user name and not the password", out)
	}
}
