package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"sync"
	"time"
)

// DefaultJWKSRefresh is the [JWTConfig] JWKSRefresh used when none is set.
const DefaultJWKSRefresh = 5 * time.Minute

// jwksKidRefreshMin is the least time between two refreshes caused by an
// unknown key id, so tokens with made-up key ids cannot hammer the server.
const jwksKidRefreshMin = 10 * time.Second

// jwksFetchTimeout bounds a JWKS request made by the refresher goroutine.
const jwksFetchTimeout = 30 * time.Second

// jwksBodyMax bounds the size of a JWKS document.
const jwksBodyMax = 1 << 20

// jwk is one key of a JWKS document (RFC 7517), the fields used here.
type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	Crv string `json:"crv"`
	N   string `json:"n"`
	E   string `json:"e"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

// jwksKey is a usable public key from a JWKS.
type jwksKey struct {
	kid string
	alg string // "" when the JWK does not restrict it
	key crypto.PublicKey
}

// parseJWKS parses a JWKS document. Keys that cannot be used to verify
// signatures with RS256, ES256 or EdDSA (another key type or curve, "use"
// other than "sig", private parts) are skipped; a malformed key of a
// supported type is an error, as is a document without any usable key.
func parseJWKS(data []byte) ([]jwksKey, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("invalid JWKS: %w", err)
	}
	var keys []jwksKey
	for i, raw := range doc.Keys {
		var k jwk
		if err := json.Unmarshal(raw, &k); err != nil {
			return nil, fmt.Errorf("invalid JWKS key %d: %w", i, err)
		}
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		pub, err := k.publicKey()
		if err != nil {
			return nil, fmt.Errorf("invalid JWKS key %d (kid %q): %w", i, k.Kid, err)
		}
		if pub == nil {
			continue
		}
		keys = append(keys, jwksKey{kid: k.Kid, alg: k.Alg, key: pub})
	}
	if len(keys) == 0 {
		return nil, errors.New("JWKS has no usable signing key")
	}
	return keys, nil
}

// publicKey returns k's public key, or nil for a key type this package
// does not use.
func (k *jwk) publicKey() (crypto.PublicKey, error) {
	b64 := base64.RawURLEncoding
	switch k.Kty {
	case "RSA":
		n, err := b64.DecodeString(k.N)
		if err != nil || len(n) == 0 {
			return nil, errors.New(`bad RSA "n"`)
		}
		e, err := b64.DecodeString(k.E)
		if err != nil || len(e) == 0 || len(e) > 4 {
			return nil, errors.New(`bad RSA "e"`)
		}
		exp := new(big.Int).SetBytes(e)
		if exp.Int64() < 3 || exp.Int64() > 1<<31-1 || exp.Bit(0) == 0 {
			return nil, errors.New(`bad RSA "e"`)
		}
		return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(exp.Int64())}, nil
	case "EC":
		if k.Crv != "P-256" {
			return nil, nil
		}
		x, errX := b64.DecodeString(k.X)
		y, errY := b64.DecodeString(k.Y)
		if errX != nil || errY != nil || len(x) != 32 || len(y) != 32 {
			return nil, errors.New(`bad EC "x" or "y"`)
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
		if err != nil {
			return nil, fmt.Errorf("bad EC point: %w", err)
		}
		return pub, nil
	case "OKP":
		if k.Crv != "Ed25519" {
			return nil, nil
		}
		x, err := b64.DecodeString(k.X)
		if err != nil || len(x) != ed25519.PublicKeySize {
			return nil, errors.New(`bad Ed25519 "x"`)
		}
		return ed25519.PublicKey(x), nil
	}
	return nil, nil
}

// jwks holds the keys fetched from a JWKS URL and refreshes them.
type jwks struct {
	url    string
	client *http.Client
	now    func() time.Time

	mu      sync.RWMutex
	keys    []jwksKey
	lastErr error // of the latest fetch, nil if it succeeded

	refreshMu      sync.Mutex // serializes fetches
	lastKidRefresh time.Time
	fetches        int // for tests; guarded by refreshMu
}

// fetch downloads the JWKS and, if it is valid, replaces the keys. On
// failure the previous keys stay in use.
func (s *jwks) fetch(ctx context.Context) error {
	s.refreshMu.Lock()
	defer s.refreshMu.Unlock()
	return s.fetchLocked(ctx)
}

func (s *jwks) fetchLocked(ctx context.Context) error {
	s.fetches++
	keys, err := s.download(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastErr = err
	if err != nil {
		return err
	}
	s.keys = keys
	return nil
}

func (s *jwks) download(ctx context.Context) ([]jwksKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return nil, fmt.Errorf("fetching JWKS: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetching JWKS: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, jwksBodyMax+1))
	if err != nil {
		return nil, fmt.Errorf("fetching JWKS: %w", err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, fmt.Errorf("fetching JWKS: server answered %s", resp.Status)
	}
	if len(data) > jwksBodyMax {
		return nil, fmt.Errorf("fetching JWKS: longer than %d bytes", jwksBodyMax)
	}
	return parseJWKS(data)
}

// refreshForKid fetches the JWKS because a token named a key id it does not
// hold, unless that already happened less than jwksKidRefreshMin ago. It
// reports whether it fetched.
func (s *jwks) refreshForKid(ctx context.Context, kid string) bool {
	s.refreshMu.Lock()
	defer s.refreshMu.Unlock()
	if s.has(kid) { // another goroutine's fetch found it meanwhile
		return true
	}
	now := s.now()
	if !s.lastKidRefresh.IsZero() && now.Sub(s.lastKidRefresh) < jwksKidRefreshMin {
		return false
	}
	s.lastKidRefresh = now
	_ = s.fetchLocked(ctx) // on failure the old keys stay; the error is kept in lastErr
	return true
}

// has reports whether a key with id kid is held.
func (s *jwks) has(kid string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, k := range s.keys {
		if k.kid == kid {
			return true
		}
	}
	return false
}

// candidates returns the held keys usable for alg: those with id kid, or all
// of them when kid is "".
func (s *jwks) candidates(kid, alg string) ([]crypto.PublicKey, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []crypto.PublicKey
	for _, k := range s.keys {
		if (kid == "" || k.kid == kid) && (k.alg == "" || k.alg == alg) && keyFitsAlg(k.key, alg) {
			out = append(out, k.key)
		}
	}
	return out, s.lastErr
}

// run refreshes the keys every interval until ctx ends.
func (s *jwks) run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fctx, cancel := context.WithTimeout(ctx, jwksFetchTimeout)
			_ = s.fetch(fctx) // kept in lastErr; old keys stay in use
			cancel()
		}
	}
}

// keyFitsAlg reports whether key can verify signatures made with alg.
func keyFitsAlg(key crypto.PublicKey, alg string) bool {
	switch k := key.(type) {
	case *rsa.PublicKey:
		return alg == "RS256"
	case *ecdsa.PublicKey:
		return alg == "ES256" && k.Curve == elliptic.P256()
	case ed25519.PublicKey:
		return alg == "EdDSA"
	}
	return false
}
