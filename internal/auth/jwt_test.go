package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/baram-mqtt/baram/internal/testpki"
)

const testSecret = "0123456789abcdef0123456789abcdef-test"

// testNow is the clock of every JWT test.
var testNow = time.Unix(1_700_000_000, 0)

var (
	rsaKeys = sync.OnceValue(func() [2]*rsa.PrivateKey {
		var ks [2]*rsa.PrivateKey
		for i := range ks {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			ks[i] = k
		}
		return ks
	})
)

func ecKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func edKey(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// pemFile writes pub as a PKIX PEM file.
func pemFile(t *testing.T, pub crypto.PublicKey) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, "key.pem", string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})))
}

// claims returns valid claims for user "alice", changed by mod.
func claims(mod func(jwt.MapClaims)) jwt.MapClaims {
	c := jwt.MapClaims{
		"sub": "alice",
		"iss": "https://idp.example",
		"aud": "baram",
		"iat": testNow.Unix(),
		"exp": testNow.Add(time.Hour).Unix(),
	}
	if mod != nil {
		mod(c)
	}
	return c
}

// sign returns a token for c signed with key by method, with key id kid
// unless it is "".
func sign(t *testing.T, method jwt.SigningMethod, key any, kid string, c jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, c)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newJWT(t *testing.T, cfg JWTConfig) *JWT {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	j, err := NewJWT(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	j.now = func() time.Time { return testNow }
	return j
}

func hsConfig(t *testing.T) JWTConfig {
	return JWTConfig{
		Algorithms:     []string{"HS256"},
		HMACSecretFile: writeFile(t, "secret", testSecret+"\n"),
		Audience:       "baram",
		Issuer:         "https://idp.example",
	}
}

// tokenLogin asks a about a client with user name user and token as its
// password, and returns the decision and the error.
func tokenLogin(a Authenticator, user, token string) (Decision, error) {
	return a.Authenticate(context.Background(), &Request{
		ClientID: "c", Username: user, HasUsername: user != "",
		Password: []byte(token), HasPassword: true,
	})
}

func wantAllow(t *testing.T, a Authenticator, user, token string) {
	t.Helper()
	if d, err := tokenLogin(a, user, token); d != Allow || err != nil {
		t.Fatalf("Authenticate = %v, %v; want allow", d, err)
	}
}

func wantDeny(t *testing.T, a Authenticator, user, token, why string) {
	t.Helper()
	d, err := tokenLogin(a, user, token)
	if d != Deny || err == nil {
		t.Fatalf("Authenticate = %v, %v; want deny with an error", d, err)
	}
	if !strings.Contains(err.Error(), why) {
		t.Fatalf("error %q does not say %q", err, why)
	}
}

func TestJWTHS256(t *testing.T) {
	j := newJWT(t, hsConfig(t))
	tok := sign(t, jwt.SigningMethodHS256, []byte(testSecret), "", claims(nil))
	wantAllow(t, j, "alice", tok)
	wantAllow(t, j, "", tok) // no user name: nothing to match
	wantDeny(t, j, "bob", tok, "does not match the user name")
}

func TestJWTClaimChecks(t *testing.T) {
	j := newJWT(t, hsConfig(t))
	key := []byte(testSecret)
	for _, tc := range []struct {
		name string
		mod  func(jwt.MapClaims)
		why  string
	}{
		{"expired", func(c jwt.MapClaims) { c["exp"] = testNow.Add(-time.Minute).Unix() }, "expired"},
		{"no exp", func(c jwt.MapClaims) { delete(c, "exp") }, "exp claim is required"},
		{"not yet valid", func(c jwt.MapClaims) { c["nbf"] = testNow.Add(time.Minute).Unix() }, "not valid yet"},
		{"wrong audience", func(c jwt.MapClaims) { c["aud"] = "other" }, "audience"},
		{"no audience", func(c jwt.MapClaims) { delete(c, "aud") }, "aud"},
		{"wrong issuer", func(c jwt.MapClaims) { c["iss"] = "https://evil.example" }, "issuer"},
		{"no subject", func(c jwt.MapClaims) { delete(c, "sub") }, `no "sub" claim`},
		{"subject not a string", func(c jwt.MapClaims) { c["sub"] = 7 }, "does not match"},
		{"publish not an array", func(c jwt.MapClaims) { c["publish"] = "a/#" }, `"publish" claim is not an array`},
		{"subscribe with a number", func(c jwt.MapClaims) { c["subscribe"] = []any{"a", 1} }, `"subscribe" claim has a non-string`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantDeny(t, j, "alice", sign(t, jwt.SigningMethodHS256, key, "", claims(tc.mod)), tc.why)
		})
	}
}

func TestJWTLeeway(t *testing.T) {
	cfg := hsConfig(t)
	cfg.Leeway = time.Minute
	j := newJWT(t, cfg)
	key := []byte(testSecret)
	wantAllow(t, j, "alice", sign(t, jwt.SigningMethodHS256, key, "", claims(func(c jwt.MapClaims) {
		c["exp"] = testNow.Add(-30 * time.Second).Unix()
	})))
	wantAllow(t, j, "alice", sign(t, jwt.SigningMethodHS256, key, "", claims(func(c jwt.MapClaims) {
		c["nbf"] = testNow.Add(30 * time.Second).Unix()
	})))
	wantDeny(t, j, "alice", sign(t, jwt.SigningMethodHS256, key, "", claims(func(c jwt.MapClaims) {
		c["exp"] = testNow.Add(-2 * time.Minute).Unix()
	})), "expired")
}

func TestJWTUsernameClaim(t *testing.T) {
	cfg := hsConfig(t)
	cfg.UsernameClaim = "preferred_username"
	j := newJWT(t, cfg)
	tok := sign(t, jwt.SigningMethodHS256, []byte(testSecret), "", claims(func(c jwt.MapClaims) {
		c["preferred_username"] = "alice.smith"
	}))
	wantAllow(t, j, "alice.smith", tok)
	wantDeny(t, j, "alice", tok, `"preferred_username" claim does not match`)
}

func TestJWTWrongKey(t *testing.T) {
	j := newJWT(t, hsConfig(t))
	wantDeny(t, j, "alice", sign(t, jwt.SigningMethodHS256, []byte(strings.Repeat("x", 40)), "", claims(nil)), "signature is invalid")

	rj := newJWT(t, JWTConfig{Algorithms: []string{"RS256"}, PublicKeyFile: pemFile(t, &rsaKeys()[0].PublicKey)})
	wantDeny(t, rj, "alice", sign(t, jwt.SigningMethodRS256, rsaKeys()[1], "", claims(nil)), "verification error")

	// A tampered payload breaks the signature.
	tok := sign(t, jwt.SigningMethodHS256, []byte(testSecret), "", claims(nil))
	parts := strings.Split(tok, ".")
	payload, _ := json.Marshal(claims(func(c jwt.MapClaims) { c["sub"] = "admin" }))
	parts[1] = base64.RawURLEncoding.EncodeToString(payload)
	wantDeny(t, j, "admin", strings.Join(parts, "."), "signature is invalid")
}

func TestJWTAlgorithmNotAllowed(t *testing.T) {
	pub := &rsaKeys()[0].PublicKey
	keyFile := pemFile(t, pub)
	j := newJWT(t, JWTConfig{Algorithms: []string{"RS256"}, PublicKeyFile: keyFile})

	// HS256 when only RS256 is allowed, including the classic confusion of
	// using the public key file as the HMAC secret.
	pemBytes := []byte(readFile(t, keyFile))
	wantDeny(t, j, "alice", sign(t, jwt.SigningMethodHS256, pemBytes, "", claims(nil)), "signing method HS256 is invalid")

	// "none".
	none := sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "", claims(nil))
	wantDeny(t, j, "alice", none, "signing method none is invalid")

	// ES256 when only RS256 is allowed.
	wantDeny(t, j, "alice", sign(t, jwt.SigningMethodES256, ecKey(t), "", claims(nil)), "signing method ES256 is invalid")

	// An allowed algorithm without a fitting key: ES256 allowed, only an
	// RSA key configured.
	j2 := newJWT(t, JWTConfig{Algorithms: []string{"RS256", "ES256"}, PublicKeyFile: keyFile})
	wantDeny(t, j2, "alice", sign(t, jwt.SigningMethodES256, ecKey(t), "", claims(nil)), "no ES256 key")
	wantAllow(t, j2, "alice", sign(t, jwt.SigningMethodRS256, rsaKeys()[0], "", claims(nil)))
}

func TestJWTPublicKeyFiles(t *testing.T) {
	ec, ed, rk := ecKey(t), edKey(t), rsaKeys()[0]
	for _, tc := range []struct {
		alg    string
		method jwt.SigningMethod
		priv   any
		pub    crypto.PublicKey
	}{
		{"RS256", jwt.SigningMethodRS256, rk, &rk.PublicKey},
		{"ES256", jwt.SigningMethodES256, ec, &ec.PublicKey},
		{"EdDSA", jwt.SigningMethodEdDSA, ed, ed.Public()},
	} {
		t.Run(tc.alg, func(t *testing.T) {
			j := newJWT(t, JWTConfig{Algorithms: []string{tc.alg}, PublicKeyFile: pemFile(t, tc.pub), Issuer: "https://idp.example"})
			wantAllow(t, j, "alice", sign(t, tc.method, tc.priv, "", claims(nil)))
			wantAllow(t, j, "alice", sign(t, tc.method, tc.priv, "some-kid", claims(nil)))
			wantDeny(t, j, "alice", sign(t, tc.method, tc.priv, "", claims(func(c jwt.MapClaims) {
				c["exp"] = testNow.Add(-time.Hour).Unix()
			})), "expired")
		})
	}
}

func TestLoadPublicKeyFormats(t *testing.T) {
	rk := rsaKeys()[0]
	pkcs1 := writeFile(t, "rsa.pem", string(pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&rk.PublicKey)})))
	if _, err := loadPublicKey(pkcs1); err != nil {
		t.Errorf("PKCS #1: %v", err)
	}

	c := testpki.NewCA(t, "CA").Issue(t, testpki.Opts{CN: "jwt signer"})
	cert := writeFile(t, "cert.pem", string(c.CertPEM))
	if k, err := loadPublicKey(cert); err != nil || !c.Key.Public().(*ecdsa.PublicKey).Equal(k) {
		t.Errorf("certificate: %v, %v", k, err)
	}

	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := loadPublicKey(pemFile(t, &p384.PublicKey)); err == nil {
		t.Error("P-384 key accepted")
	}
	if _, err := loadPublicKey(writeFile(t, "junk.pem", "not a key\n")); err == nil {
		t.Error("file without PEM accepted")
	}
}

func TestJWTIgnores(t *testing.T) {
	j := newJWT(t, hsConfig(t))
	ctx := context.Background()
	for _, r := range []*Request{
		{Username: "alice", HasUsername: true},
		{Username: "alice", HasUsername: true, HasPassword: true},
		{Username: "alice", HasUsername: true, Password: []byte("plain password"), HasPassword: true},
		{Username: "alice", HasUsername: true, Password: []byte("a.b.c"), HasPassword: true},
		{Username: "alice", HasUsername: true, Password: []byte("a.b"), HasPassword: true},
		{Username: "alice", HasUsername: true, Password: []byte("e30.e30.x.y"), HasPassword: true},
	} {
		if d, err := j.Authenticate(ctx, r); d != Ignore || err != nil {
			t.Errorf("Authenticate(%q) = %v, %v; want ignore", r.Password, d, err)
		}
	}
	if d, err := j.Authenticate(ctx, nil); d != Deny || err == nil {
		t.Errorf("Authenticate(nil) = %v, %v", d, err)
	}

	// In a chain, a password file decides about a plain password.
	pf := mustLoad(t, writeFile(t, "passwd", sha512Entry("alice", "plain password")))
	chain := Chain{j, pf}
	if d := login(t, chain, "alice", "plain password"); d != Allow {
		t.Errorf("chain: plain password = %v", d)
	}
	tok := sign(t, jwt.SigningMethodHS256, []byte(testSecret), "", claims(nil))
	if d := login(t, chain, "alice", tok); d != Allow {
		t.Errorf("chain: token = %v", d)
	}
}

func TestJWTPermissions(t *testing.T) {
	j := newJWT(t, hsConfig(t))
	key := []byte(testSecret)
	tok := sign(t, jwt.SigningMethodHS256, key, "", claims(func(c jwt.MapClaims) {
		c["publish"] = []string{"devices/alice/#"}
		c["subscribe"] = []string{"devices/alice/#", "broadcast/+"}
	}))
	wantAllow(t, j, "alice", tok)
	req := &Request{Username: "alice", HasUsername: true, Password: []byte(tok), HasPassword: true}
	if d, err := j.Authenticate(context.Background(), req); d != Allow || err != nil || req.Grant == nil ||
		strings.Join(req.Grant.Publish, ",") != "devices/alice/#" || len(req.Grant.Subscribe) != 2 {
		t.Fatalf("Authenticate = %v, %v, grant %+v; want the claims in Request.Grant", d, err, req.Grant)
	}
	pub, sub, ok := j.Permissions(tok)
	if !ok || strings.Join(pub, ",") != "devices/alice/#" || strings.Join(sub, ",") != "devices/alice/#,broadcast/+" {
		t.Errorf("Permissions = %q, %q, %v", pub, sub, ok)
	}

	onlySub := sign(t, jwt.SigningMethodHS256, key, "", claims(func(c jwt.MapClaims) { c["subscribe"] = []string{} }))
	if pub, sub, ok := j.Permissions(onlySub); !ok || pub != nil || sub == nil || len(sub) != 0 {
		t.Errorf("Permissions(only subscribe) = %q, %q, %v", pub, sub, ok)
	}
	if _, _, ok := j.Permissions(sign(t, jwt.SigningMethodHS256, key, "", claims(nil))); ok {
		t.Error("Permissions ok for a token without permission claims")
	}
	forged := sign(t, jwt.SigningMethodHS256, []byte(strings.Repeat("y", 40)), "", claims(func(c jwt.MapClaims) {
		c["publish"] = []string{"#"}
	}))
	if _, _, ok := j.Permissions(forged); ok {
		t.Error("Permissions ok for a token with a bad signature")
	}
	if _, _, ok := j.Permissions("not a token"); ok {
		t.Error("Permissions ok for a non-token")
	}
}

func TestNewJWTErrors(t *testing.T) {
	secret := writeFile(t, "secret", testSecret)
	short := writeFile(t, "short", "too short\n")
	keyFile := pemFile(t, ed25519.PublicKey(make([]byte, ed25519.PublicKeySize)))
	for _, tc := range []struct {
		name string
		cfg  JWTConfig
	}{
		{"no algorithms", JWTConfig{HMACSecretFile: secret}},
		{"unknown algorithm", JWTConfig{Algorithms: []string{"HS512"}, HMACSecretFile: secret}},
		{"none", JWTConfig{Algorithms: []string{"none"}}},
		{"HS256 without secret", JWTConfig{Algorithms: []string{"HS256"}}},
		{"secret without HS256", JWTConfig{Algorithms: []string{"EdDSA"}, HMACSecretFile: secret, PublicKeyFile: keyFile}},
		{"short secret", JWTConfig{Algorithms: []string{"HS256"}, HMACSecretFile: short}},
		{"missing secret file", JWTConfig{Algorithms: []string{"HS256"}, HMACSecretFile: secret + ".missing"}},
		{"RS256 without key", JWTConfig{Algorithms: []string{"RS256"}}},
		{"key for HS256 only", JWTConfig{Algorithms: []string{"HS256"}, HMACSecretFile: secret, PublicKeyFile: keyFile}},
		{"key fits no algorithm", JWTConfig{Algorithms: []string{"RS256"}, PublicKeyFile: keyFile}},
		{"negative leeway", JWTConfig{Algorithms: []string{"HS256"}, HMACSecretFile: secret, Leeway: -1}},
		{"JWKS unreachable", JWTConfig{Algorithms: []string{"RS256"}, JWKSURL: "http://127.0.0.1:1/jwks"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewJWT(context.Background(), tc.cfg, nil); err == nil {
				t.Error("NewJWT succeeded")
			}
		})
	}
}

// jwksServer serves a JWKS document that tests can replace.
type jwksServer struct {
	*httptest.Server
	doc  atomic.Pointer[[]byte]
	hits atomic.Int32
}

func newJWKSServer(t *testing.T, keys ...map[string]string) *jwksServer {
	t.Helper()
	s := &jwksServer{}
	s.set(t, keys...)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s.hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(*s.doc.Load())
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) set(t *testing.T, keys ...map[string]string) {
	t.Helper()
	doc, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		t.Fatal(err)
	}
	s.doc.Store(&doc)
}

// toJWK returns pub as a JWK with key id kid.
func toJWK(t *testing.T, kid string, pub crypto.PublicKey) map[string]string {
	t.Helper()
	b64 := base64.RawURLEncoding.EncodeToString
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return map[string]string{"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
			"n": b64(k.N.Bytes()), "e": b64(big.NewInt(int64(k.E)).Bytes())}
	case *ecdsa.PublicKey:
		b, err := k.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		return map[string]string{"kty": "EC", "kid": kid, "crv": "P-256", "x": b64(b[1:33]), "y": b64(b[33:])}
	case ed25519.PublicKey:
		return map[string]string{"kty": "OKP", "kid": kid, "crv": "Ed25519", "x": b64(k)}
	}
	t.Fatalf("unsupported key %T", pub)
	return nil
}

func TestJWKSKeyTypes(t *testing.T) {
	ec, ed, rk := ecKey(t), edKey(t), rsaKeys()[0]
	s := newJWKSServer(t,
		toJWK(t, "rsa", &rk.PublicKey), toJWK(t, "ec", &ec.PublicKey), toJWK(t, "ed", ed.Public()),
		map[string]string{"kty": "oct", "kid": "secret", "k": "c2VjcmV0"},                   // skipped
		map[string]string{"kty": "EC", "kid": "p384", "crv": "P-384", "x": "AA", "y": "AA"}, // skipped
	)
	j := newJWT(t, JWTConfig{Algorithms: []string{"RS256", "ES256", "EdDSA"}, JWKSURL: s.URL})
	wantAllow(t, j, "alice", sign(t, jwt.SigningMethodRS256, rk, "rsa", claims(nil)))
	wantAllow(t, j, "alice", sign(t, jwt.SigningMethodES256, ec, "ec", claims(nil)))
	wantAllow(t, j, "alice", sign(t, jwt.SigningMethodEdDSA, ed, "ed", claims(nil)))
	wantAllow(t, j, "alice", sign(t, jwt.SigningMethodEdDSA, ed, "", claims(nil))) // no kid: any fitting key
	// A kid naming a key of another type.
	wantDeny(t, j, "alice", sign(t, jwt.SigningMethodEdDSA, ed, "rsa", claims(nil)), `no EdDSA key with id "rsa"`)
}

func TestParseJWKSErrors(t *testing.T) {
	for _, doc := range []string{
		`not json`,
		`{"keys":[]}`,
		`{"keys":[{"kty":"oct","k":"AA"}]}`,
		`{"keys":[{"kty":"RSA","n":"","e":"AQAB"}]}`,
		`{"keys":[{"kty":"RSA","n":"AQAB","e":"AA"}]}`,
		`{"keys":[{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}]}`,
		`{"keys":[{"kty":"OKP","crv":"Ed25519","x":"AA"}]}`,
	} {
		if _, err := parseJWKS([]byte(doc)); err == nil {
			t.Errorf("parseJWKS(%s) succeeded", doc)
		}
	}
	// A point that is not on the curve.
	bad := base64.RawURLEncoding.EncodeToString(make([]byte, 32))
	if _, err := parseJWKS([]byte(`{"keys":[{"kty":"EC","crv":"P-256","x":"` + bad + `","y":"` + bad + `"}]}`)); err == nil {
		t.Error("EC point off the curve accepted")
	}
}

func TestJWKSRotation(t *testing.T) {
	old, next := rsaKeys()[0], rsaKeys()[1]
	s := newJWKSServer(t, toJWK(t, "k1", &old.PublicKey))
	j := newJWT(t, JWTConfig{Algorithms: []string{"RS256"}, JWKSURL: s.URL, Audience: "baram"})
	now := testNow
	var mu sync.Mutex
	j.jwks.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }

	if s.hits.Load() != 1 {
		t.Fatalf("JWKS fetched %d times by NewJWT, want 1", s.hits.Load())
	}
	wantAllow(t, j, "alice", sign(t, jwt.SigningMethodRS256, old, "k1", claims(nil)))
	newTok := sign(t, jwt.SigningMethodRS256, next, "k2", claims(nil))

	// The provider rotates: k2 is unknown, so it fetches the JWKS again.
	s.set(t, toJWK(t, "k2", &next.PublicKey))
	wantAllow(t, j, "alice", newTok)
	if s.hits.Load() != 2 {
		t.Fatalf("JWKS fetched %d times, want 2", s.hits.Load())
	}
	wantAllow(t, j, "alice", newTok) // known now: no fetch
	// k1 is gone after the rotation.
	wantDeny(t, j, "alice", sign(t, jwt.SigningMethodRS256, old, "k1", claims(nil)), `no RS256 key with id "k1"`)
	if s.hits.Load() != 2 {
		t.Fatalf("JWKS fetched %d times, want 2: unknown k1 right after the k2 fetch", s.hits.Load())
	}

	// Unknown key ids fetch at most once every ten seconds.
	bogus := sign(t, jwt.SigningMethodRS256, next, "k3", claims(nil))
	advance(10 * time.Second)
	wantDeny(t, j, "alice", bogus, `no RS256 key with id "k3"`)
	wantDeny(t, j, "alice", bogus, `no RS256 key with id "k3"`)
	if s.hits.Load() != 3 {
		t.Fatalf("JWKS fetched %d times, want 3", s.hits.Load())
	}
	advance(9 * time.Second)
	wantDeny(t, j, "alice", bogus, "k3")
	if s.hits.Load() != 3 {
		t.Fatalf("JWKS fetched %d times within 10s, want 3", s.hits.Load())
	}
	advance(time.Second)
	s.set(t, toJWK(t, "k2", &next.PublicKey), toJWK(t, "k3", &next.PublicKey))
	wantAllow(t, j, "alice", bogus)
	if s.hits.Load() != 4 {
		t.Fatalf("JWKS fetched %d times, want 4", s.hits.Load())
	}

	// Permissions never fetches.
	s.set(t, toJWK(t, "k4", &next.PublicKey))
	if _, _, ok := j.Permissions(sign(t, jwt.SigningMethodRS256, next, "k4", claims(func(c jwt.MapClaims) { c["publish"] = []string{"x"} }))); ok {
		t.Error("Permissions ok for an unknown key id")
	}
	if s.hits.Load() != 4 {
		t.Fatalf("Permissions fetched the JWKS")
	}
}

func TestJWKSFailedRefreshKeepsKeys(t *testing.T) {
	rk := rsaKeys()[0]
	s := newJWKSServer(t, toJWK(t, "k1", &rk.PublicKey))
	j := newJWT(t, JWTConfig{Algorithms: []string{"RS256"}, JWKSURL: s.URL})
	broken := []byte("{")
	s.doc.Store(&broken)
	wantDeny(t, j, "alice", sign(t, jwt.SigningMethodRS256, rk, "k2", claims(nil)), "last JWKS fetch failed")
	wantAllow(t, j, "alice", sign(t, jwt.SigningMethodRS256, rk, "k1", claims(nil)))
}

func TestJWKSPeriodicRefresh(t *testing.T) {
	old, next := rsaKeys()[0], rsaKeys()[1]
	s := newJWKSServer(t, toJWK(t, "k1", &old.PublicKey))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	j, err := NewJWT(ctx, JWTConfig{Algorithms: []string{"RS256"}, JWKSURL: s.URL, JWKSRefresh: 10 * time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	j.now = func() time.Time { return testNow }
	s.set(t, toJWK(t, "k2", &next.PublicKey))
	deadline := time.Now().Add(5 * time.Second)
	for !j.jwks.has("k2") {
		if time.Now().After(deadline) {
			t.Fatal("JWKS not refreshed within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Known through the periodic refresh, not an unknown-kid fetch.
	j.jwks.refreshMu.Lock()
	kidFetched := !j.jwks.lastKidRefresh.IsZero()
	j.jwks.refreshMu.Unlock()
	if kidFetched {
		t.Error("unexpected unknown-kid refresh")
	}
	wantAllow(t, j, "alice", sign(t, jwt.SigningMethodRS256, next, "k2", claims(nil)))
	cancel() // the refresher ends; goleak in TestMain checks it
}
