package auth

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/pbkdf2"
)

// RFC 7677 section 3 test vector.
const (
	rfcUser        = "user"
	rfcPassword    = "pencil"
	rfcClientNonce = "rOprNGfwEbeRWgbNEkqO"
	rfcServerNonce = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
	rfcSalt        = "W22ZaJ0SNY7soEsUEjb6gQ=="
	rfcIter        = 4096
	rfcProof       = "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
	rfcServerFinal = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
)

var rfcCred = sync.OnceValue(func() ScramCredential {
	salt, err := base64.StdEncoding.DecodeString(rfcSalt)
	if err != nil {
		panic(err)
	}
	return NewScramCredential([]byte(rfcPassword), salt, rfcIter)
})

func rfcServer() *ScramServer {
	return NewScramServer(func(u string) (ScramCredential, bool) {
		if u == rfcUser {
			return rfcCred(), true
		}
		return ScramCredential{}, false
	}, func() string { return rfcServerNonce })
}

// scramClientFinal is a minimal client: given the client-first-message-bare,
// the server-first message and the password, it returns the client-final
// message and the expected server-final message.
func scramClientFinal(t testing.TB, gs2, clientFirstBare, serverFirst, password string) (final, wantServerFinal string) {
	t.Helper()
	var nonce, saltB64 string
	iter := 0
	for _, a := range strings.Split(serverFirst, ",") {
		switch {
		case strings.HasPrefix(a, "r="):
			nonce = a[2:]
		case strings.HasPrefix(a, "s="):
			saltB64 = a[2:]
		case strings.HasPrefix(a, "i="):
			for _, c := range a[2:] {
				iter = iter*10 + int(c-'0')
			}
		}
	}
	salt, err := base64.StdEncoding.DecodeString(saltB64)
	if err != nil {
		t.Fatalf("server-first salt: %v", err)
	}
	salted := pbkdf2.Key([]byte(password), salt, iter, 32, sha256.New)
	mac := func(k []byte, m string) []byte {
		h := hmac.New(sha256.New, k)
		h.Write([]byte(m))
		return h.Sum(nil)
	}
	clientKey := mac(salted, "Client Key")
	storedKey := sha256.Sum256(clientKey)
	withoutProof := "c=" + base64.StdEncoding.EncodeToString([]byte(gs2)) + ",r=" + nonce
	authMessage := clientFirstBare + "," + serverFirst + "," + withoutProof
	proof := make([]byte, 32)
	subtle.XORBytes(proof, clientKey, mac(storedKey[:], authMessage))
	serverSig := mac(mac(salted, "Server Key"), authMessage)
	return withoutProof + ",p=" + base64.StdEncoding.EncodeToString(proof),
		"v=" + base64.StdEncoding.EncodeToString(serverSig)
}

func TestScramRFC7677Vector(t *testing.T) {
	s := rfcServer()
	first := "n,,n=user,r=" + rfcClientNonce
	reply, done, err := s.Step([]byte(first))
	if err != nil || done {
		t.Fatalf("first step: done=%v err=%v", done, err)
	}
	wantFirst := "r=" + rfcClientNonce + rfcServerNonce + ",s=" + rfcSalt + ",i=4096"
	if string(reply) != wantFirst {
		t.Fatalf("server-first = %q, want %q", reply, wantFirst)
	}
	final, wantV := scramClientFinal(t, "n,,", "n=user,r="+rfcClientNonce, string(reply), rfcPassword)
	wantFinal := "c=biws,r=" + rfcClientNonce + rfcServerNonce + ",p=" + rfcProof
	if final != wantFinal {
		t.Fatalf("client-final = %q, want %q", final, wantFinal)
	}
	if wantV != rfcServerFinal {
		t.Fatalf("client-computed server-final = %q, want %q", wantV, rfcServerFinal)
	}
	if s.Username() != "" {
		t.Fatalf("Username before success = %q", s.Username())
	}
	reply, done, err = s.Step([]byte(wantFinal))
	if err != nil || !done {
		t.Fatalf("final step: done=%v err=%v", done, err)
	}
	if string(reply) != rfcServerFinal {
		t.Fatalf("server-final = %q, want %q", reply, rfcServerFinal)
	}
	if s.Username() != rfcUser {
		t.Fatalf("Username = %q", s.Username())
	}
	if _, _, err := s.Step([]byte(wantFinal)); err == nil {
		t.Fatal("step after completion succeeded")
	}
}

func TestScramGS2Y(t *testing.T) {
	s := rfcServer()
	reply, _, err := s.Step([]byte("y,,n=user,r=abc"))
	if err != nil {
		t.Fatal(err)
	}
	final, wantV := scramClientFinal(t, "y,,", "n=user,r=abc", string(reply), rfcPassword)
	if !strings.HasPrefix(final, "c=eSws,") {
		t.Fatalf("final = %q", final)
	}
	reply, done, err := s.Step([]byte(final))
	if err != nil || !done || string(reply) != wantV {
		t.Fatalf("final: %q %v %v", reply, done, err)
	}
	// The channel binding must repeat the GS2 header exactly.
	s = rfcServer()
	reply, _, _ = s.Step([]byte("y,,n=user,r=abc"))
	final, _ = scramClientFinal(t, "n,,", "n=user,r=abc", string(reply), rfcPassword)
	if _, _, err := s.Step([]byte(final)); err == nil {
		t.Fatal("mismatched channel binding accepted")
	}
}

func TestScramWrongPassword(t *testing.T) {
	s := rfcServer()
	reply, _, err := s.Step([]byte("n,,n=user,r=" + rfcClientNonce))
	if err != nil {
		t.Fatal(err)
	}
	final, _ := scramClientFinal(t, "n,,", "n=user,r="+rfcClientNonce, string(reply), "pencil2")
	reply, done, err := s.Step([]byte(final))
	if !errors.Is(err, ErrScramAuthFailed) || done || reply != nil {
		t.Fatalf("wrong password: reply=%q done=%v err=%v", reply, done, err)
	}
	if s.Username() != "" {
		t.Fatalf("Username after failure = %q", s.Username())
	}
}

func TestScramUnknownUser(t *testing.T) {
	s := rfcServer()
	reply, done, err := s.Step([]byte("n,,n=nobody,r=abc"))
	if err != nil || done {
		t.Fatalf("unknown user rejected at first step: %v", err)
	}
	if !strings.HasPrefix(string(reply), "r=abc"+rfcServerNonce+",s=") || !strings.HasSuffix(string(reply), ",i=4096") {
		t.Fatalf("server-first = %q", reply)
	}
	// The fake salt is stable per username, so probing twice reveals nothing.
	again, _, _ := rfcServer().Step([]byte("n,,n=nobody,r=abc"))
	if !bytes.Equal(reply, again) {
		t.Fatalf("fake salt not deterministic: %q vs %q", reply, again)
	}
	other, _, _ := rfcServer().Step([]byte("n,,n=nobody2,r=abc"))
	if bytes.Equal(reply, other) {
		t.Fatal("fake salt identical for different users")
	}
	final, _ := scramClientFinal(t, "n,,", "n=nobody,r=abc", string(reply), rfcPassword)
	_, done, err = s.Step([]byte(final))
	if !errors.Is(err, ErrScramAuthFailed) || done {
		t.Fatalf("unknown user final: done=%v err=%v", done, err)
	}
	if s.Username() != "" {
		t.Fatal("unknown user authenticated")
	}
}

func TestScramInvalidStoredCredentialActsUnknown(t *testing.T) {
	s := NewScramServer(func(string) (ScramCredential, bool) { return ScramCredential{}, true }, nil)
	reply, _, err := s.Step([]byte("n,,n=user,r=abc"))
	if err != nil {
		t.Fatal(err)
	}
	final, _ := scramClientFinal(t, "n,,", "n=user,r=abc", string(reply), rfcPassword)
	if _, _, err := s.Step([]byte(final)); !errors.Is(err, ErrScramAuthFailed) {
		t.Fatalf("err = %v", err)
	}
}

func TestScramTamperedNonce(t *testing.T) {
	for _, tamper := range []func(string) string{
		func(n string) string { return n[:len(n)-1] },       // truncated
		func(n string) string { return n + "x" },            // extended
		func(n string) string { return "X" + n[1:] },        // client part changed
		func(n string) string { return rfcClientNonce },     // server part dropped
		func(n string) string { return n[:len(n)-1] + "1" }, // server part changed
	} {
		s := rfcServer()
		reply, _, err := s.Step([]byte("n,,n=user,r=" + rfcClientNonce))
		if err != nil {
			t.Fatal(err)
		}
		full := rfcClientNonce + rfcServerNonce
		sf := strings.Replace(string(reply), full, tamper(full), 1)
		// The client computes a valid proof over the tampered nonce.
		final, _ := scramClientFinal(t, "n,,", "n=user,r="+rfcClientNonce, sf, rfcPassword)
		if _, done, err := s.Step([]byte(final)); err == nil || done {
			t.Fatalf("tampered nonce accepted: %q", final)
		}
	}
}

func TestScramUsernameEscapes(t *testing.T) {
	var seen string
	s := NewScramServer(func(u string) (ScramCredential, bool) {
		seen = u
		return rfcCred(), true
	}, nil)
	bare := "n=a=2Cb=3Dc,r=xyz"
	reply, _, err := s.Step([]byte("n,," + bare))
	if err != nil {
		t.Fatal(err)
	}
	if seen != "a,b=c" {
		t.Fatalf("looked up %q", seen)
	}
	final, _ := scramClientFinal(t, "n,,", bare, string(reply), rfcPassword)
	if _, done, err := s.Step([]byte(final)); err != nil || !done {
		t.Fatalf("final: %v", err)
	}
	if s.Username() != "a,b=c" {
		t.Fatalf("Username = %q", s.Username())
	}
}

func TestScramMalformed(t *testing.T) {
	firsts := []string{
		"",
		"n",
		"n,",
		"p=tls-unique,,n=user,r=abc",
		"x,,n=user,r=abc",
		"n,,",
		"n,,n=user",
		"n,,r=abc,n=user",
		"n,,m=ext,n=user,r=abc",
		"n,,n=,r=abc",
		"n,,n=us=er,r=abc",
		"n,,n=user=2,r=abc",
		"n,,n=user=,r=abc",
		"n,,n=us\x00er,r=abc",
		"n,,n=üser,r=abc",
		"n,,n=user,r=",
		"n,,n=user,r=a b",
		"n,,n=user,x=abc",
		"n,,n=user,r=abc,bad",
		"n,a=other,n=user,r=abc",
		"n,b=user,n=user,r=abc",
		"n,,n=user,r=abc" + strings.Repeat("a", scramMaxMessage),
	}
	for _, m := range firsts {
		s := rfcServer()
		if reply, done, err := s.Step([]byte(m)); err == nil || done || reply != nil {
			t.Errorf("first %q: reply=%q done=%v err=%v", m, reply, done, err)
		}
		if _, _, err := s.Step([]byte("n,,n=user,r=abc")); err == nil {
			t.Errorf("first %q: server usable after failure", m)
		}
	}
	if _, _, err := rfcServer().Step([]byte("p=tls-server-end-point,,n=user,r=abc")); err == nil ||
		!strings.Contains(err.Error(), "channel binding") {
		t.Errorf("channel binding error = %v", err)
	}
	if _, _, err := rfcServer().Step([]byte("n,a=user,n=user,r=abc")); err != nil {
		t.Errorf("authzid equal to username rejected: %v", err)
	}

	full := rfcClientNonce + rfcServerNonce
	finals := []string{
		"",
		"c=biws",
		"c=biws,r=" + full,
		"c=biws,r=" + full + ",p=",
		"c=biws,r=" + full + ",p=!!!!",
		"c=biws,r=" + full + ",p=AAAA",
		"c=biws,p=" + rfcProof,
		"c=bad!,r=" + full + ",p=" + rfcProof,
		"c=eSws,r=" + full + ",p=" + rfcProof,
		"r=" + full + ",c=biws,p=" + rfcProof,
		"c=biws,r=" + full + ",1=x,p=" + rfcProof,
		"c=biws,r=" + full + ",p=" + rfcProof + ",x=y",
	}
	for _, m := range finals {
		s := rfcServer()
		if _, _, err := s.Step([]byte("n,,n=user,r=" + rfcClientNonce)); err != nil {
			t.Fatal(err)
		}
		if reply, done, err := s.Step([]byte(m)); err == nil || done || reply != nil {
			t.Errorf("final %q: reply=%q done=%v err=%v", m, reply, done, err)
		}
	}
}

func TestScramCredentialString(t *testing.T) {
	c := rfcCred()
	s := c.String()
	if !strings.HasPrefix(s, "$scram-sha-256$i=4096$"+rfcSalt+"$") {
		t.Fatalf("String = %q", s)
	}
	got, err := ParseScramCredential(s)
	if err != nil {
		t.Fatal(err)
	}
	if got.Iterations != c.Iterations || !bytes.Equal(got.Salt, c.Salt) ||
		!bytes.Equal(got.StoredKey, c.StoredKey) || !bytes.Equal(got.ServerKey, c.ServerKey) {
		t.Fatalf("round trip: %+v vs %+v", got, c)
	}
	parts := strings.Split(s, "$")
	bad := []string{
		"",
		"scram-sha-256$i=4096$a$b$c",
		"$scram-sha-1$" + strings.Join(parts[2:], "$"),
		strings.Join(parts[:5], "$"),
		s + "$x",
		strings.Replace(s, "i=4096", "i=0", 1),
		strings.Replace(s, "i=4096", "i=-1", 1),
		strings.Replace(s, "i=4096", "i=04096", 1),
		strings.Replace(s, "i=4096", "4096", 1),
		strings.Replace(s, "i=4096", "i=99999999999", 1),
		strings.Replace(s, "$"+rfcSalt+"$", "$$", 1),
		strings.Replace(s, "$"+rfcSalt+"$", "$!!$", 1),
		strings.Replace(s, parts[4], "AAAA", 1),
		strings.Replace(s, parts[5], "AAAA", 1),
	}
	for _, b := range bad {
		if _, err := ParseScramCredential(b); err == nil {
			t.Errorf("ParseScramCredential(%q) succeeded", b)
		}
	}
}

func FuzzScramStep(f *testing.F) {
	// Seeds are in testdata/fuzz/FuzzScramStep.
	cred := rfcCred()
	f.Fuzz(func(t *testing.T, first, final []byte) {
		s := NewScramServer(func(u string) (ScramCredential, bool) {
			return cred, u == rfcUser
		}, func() string { return rfcServerNonce })
		reply, done, err := s.Step(first)
		if err != nil {
			if reply != nil || done {
				t.Fatalf("error with reply %q done=%v", reply, done)
			}
			return
		}
		if done {
			t.Fatal("done after first step")
		}
		reply, done, err = s.Step(final)
		if err != nil {
			if reply != nil || done || s.Username() != "" {
				t.Fatalf("error with reply %q done=%v user=%q", reply, done, s.Username())
			}
			return
		}
		if !done || s.Username() != rfcUser || !bytes.HasPrefix(reply, []byte("v=")) {
			t.Fatalf("success: reply=%q done=%v user=%q", reply, done, s.Username())
		}
	})
}
