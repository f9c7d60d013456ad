package auth

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// hmacSecretMin is the shortest HS256 secret accepted: 256 bits, as RFC 7518
// section 3.2 requires.
const hmacSecretMin = 32

// JWTConfig configures a [JWT] authenticator.
type JWTConfig struct {
	// Algorithms lists the accepted signing algorithms, a non-empty subset
	// of "HS256", "RS256", "ES256" and "EdDSA". A token signed otherwise,
	// including "none", is denied.
	Algorithms []string
	// HMACSecretFile holds the HS256 secret, at least 32 bytes. Trailing
	// line breaks are not part of the secret. Required when HS256 is
	// allowed, and only allowed then.
	HMACSecretFile string
	// PublicKeyFile is a PEM public key (PKIX "PUBLIC KEY", PKCS #1 "RSA
	// PUBLIC KEY" or a "CERTIFICATE"): RSA, ECDSA P-256 or Ed25519.
	PublicKeyFile string
	// JWKSURL is a JWKS (RFC 7517) endpoint with further public keys. It is
	// fetched when the JWT is made, every JWKSRefresh after that, and when a
	// token names a key id ("kid") it does not hold, at most once every ten
	// seconds.
	JWKSURL string
	// JWKSRefresh is how often JWKSURL is fetched. Zero means
	// [DefaultJWKSRefresh].
	JWKSRefresh time.Duration
	// Audience, when set, must be in the token's "aud" claim.
	Audience string
	// Issuer, when set, must be the token's "iss" claim.
	Issuer string
	// UsernameClaim names the string claim that must equal the MQTT user
	// name when the client gives a non-empty one. Empty means "sub".
	UsernameClaim string
	// Leeway is the clock skew allowed when checking "exp" and "nbf".
	Leeway time.Duration
}

// JWT is an [Authenticator] for clients whose MQTT password is a JSON Web
// Token. It is safe for concurrent use.
//
// Authenticate answers:
//   - Ignore when there is no password, or the password does not look like
//     a JWT (three dot-separated parts whose first decodes to a JSON
//     object), so that a password file later in a [Chain] can decide;
//   - Deny with an error saying why when the token's signature, algorithm,
//     key, "exp" (which is required), "nbf", "aud", "iss", user name claim
//     or permission claims are wrong;
//   - Allow otherwise.
//
// A token's key is chosen by algorithm: HS256 uses the HMAC secret; the
// others use the PEM public key and the JWKS keys, those with the token's
// "kid" if it has one.
type JWT struct {
	algs          []string
	hmacSecret    []byte
	publicKey     crypto.PublicKey
	jwks          *jwks // nil without JWKSURL
	audience      string
	issuer        string
	usernameClaim string
	leeway        time.Duration
	now           func() time.Time // replaced by tests
}

// NewJWT returns a [JWT] authenticator for cfg. A nil client means
// [http.DefaultClient]. With a JWKSURL, NewJWT fetches the keys (failing if
// it cannot, within ctx) and starts a goroutine that refreshes them until
// ctx ends.
func NewJWT(ctx context.Context, cfg JWTConfig, client *http.Client) (*JWT, error) {
	j := &JWT{
		audience:      cfg.Audience,
		issuer:        cfg.Issuer,
		usernameClaim: cfg.UsernameClaim,
		leeway:        cfg.Leeway,
		now:           time.Now,
	}
	if j.usernameClaim == "" {
		j.usernameClaim = "sub"
	}
	if cfg.Leeway < 0 {
		return nil, fmt.Errorf("auth: jwt: negative leeway %v", cfg.Leeway)
	}
	if cfg.JWKSRefresh < 0 {
		return nil, fmt.Errorf("auth: jwt: negative JWKS refresh interval %v", cfg.JWKSRefresh)
	}
	if len(cfg.Algorithms) == 0 {
		return nil, errors.New("auth: jwt: no algorithms configured")
	}
	asymmetric := false
	for _, a := range cfg.Algorithms {
		switch a {
		case "HS256":
		case "RS256", "ES256", "EdDSA":
			asymmetric = true
		default:
			return nil, fmt.Errorf("auth: jwt: unsupported algorithm %q (want HS256, RS256, ES256 or EdDSA)", a)
		}
		if !slices.Contains(j.algs, a) {
			j.algs = append(j.algs, a)
		}
	}
	hs := slices.Contains(j.algs, "HS256")
	switch {
	case hs && cfg.HMACSecretFile == "":
		return nil, errors.New("auth: jwt: HS256 is allowed but no HMAC secret file is set")
	case !hs && cfg.HMACSecretFile != "":
		return nil, errors.New("auth: jwt: an HMAC secret file is set but HS256 is not allowed")
	case hs:
		data, err := os.ReadFile(cfg.HMACSecretFile)
		if err != nil {
			return nil, fmt.Errorf("auth: jwt: %w", err)
		}
		j.hmacSecret = bytes.TrimRight(data, "\r\n")
		if len(j.hmacSecret) < hmacSecretMin {
			return nil, fmt.Errorf("auth: jwt: %s: HMAC secret shorter than %d bytes", cfg.HMACSecretFile, hmacSecretMin)
		}
	}
	if !asymmetric && (cfg.PublicKeyFile != "" || cfg.JWKSURL != "") {
		return nil, errors.New("auth: jwt: a public key file or JWKS URL is set but only HS256 is allowed")
	}
	if asymmetric && cfg.PublicKeyFile == "" && cfg.JWKSURL == "" {
		return nil, errors.New("auth: jwt: RS256, ES256 or EdDSA is allowed but neither a public key file nor a JWKS URL is set")
	}
	if cfg.PublicKeyFile != "" {
		key, err := loadPublicKey(cfg.PublicKeyFile)
		if err != nil {
			return nil, fmt.Errorf("auth: jwt: %w", err)
		}
		fits := false
		for _, a := range j.algs {
			fits = fits || keyFitsAlg(key, a)
		}
		if !fits {
			return nil, fmt.Errorf("auth: jwt: %s: a %T fits none of the allowed algorithms %v", cfg.PublicKeyFile, key, j.algs)
		}
		j.publicKey = key
	}
	if cfg.JWKSURL != "" {
		if client == nil {
			client = http.DefaultClient
		}
		j.jwks = &jwks{url: cfg.JWKSURL, client: client, now: time.Now}
		fctx, cancel := context.WithTimeout(ctx, jwksFetchTimeout)
		err := j.jwks.fetch(fctx)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("auth: jwt: %w", err)
		}
		interval := cfg.JWKSRefresh
		if interval == 0 {
			interval = DefaultJWKSRefresh
		}
		go j.jwks.run(ctx, interval)
	}
	return j, nil
}

// loadPublicKey reads the first PEM public key or certificate in path.
func loadPublicKey(path string) (crypto.PublicKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, fmt.Errorf("%s: no PEM public key or certificate", path)
		}
		var key crypto.PublicKey
		switch block.Type {
		case "PUBLIC KEY":
			key, err = x509.ParsePKIXPublicKey(block.Bytes)
		case "RSA PUBLIC KEY":
			key, err = x509.ParsePKCS1PublicKey(block.Bytes)
		case "CERTIFICATE":
			var cert *x509.Certificate
			cert, err = x509.ParseCertificate(block.Bytes)
			if err == nil {
				key = cert.PublicKey
			}
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		switch k := key.(type) {
		case *rsa.PublicKey, ed25519.PublicKey:
		case *ecdsa.PublicKey:
			if k.Curve != elliptic.P256() {
				return nil, fmt.Errorf("%s: ECDSA key is not on P-256", path)
			}
		default:
			return nil, fmt.Errorf("%s: unsupported key type %T", path, key)
		}
		return key, nil
	}
}

// looksLikeJWT reports whether s has three dot-separated parts and the
// first is a base64url-encoded JSON object.
func looksLikeJWT(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return false
	}
	header, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[0], "="))
	if err != nil {
		return false
	}
	var m map[string]any
	return json.Unmarshal(header, &m) == nil
}

// Authenticate implements [Authenticator].
func (j *JWT) Authenticate(ctx context.Context, r *Request) (Decision, error) {
	if r == nil {
		return Deny, errors.New("auth: nil request")
	}
	if !r.HasPassword || len(r.Password) == 0 {
		return Ignore, nil
	}
	token := string(r.Password)
	if !looksLikeJWT(token) {
		return Ignore, nil
	}
	claims, err := j.verify(ctx, token, true)
	if err != nil {
		return Deny, err
	}
	if r.HasUsername && r.Username != "" {
		v, ok := claims[j.usernameClaim]
		if !ok {
			return Deny, fmt.Errorf("auth: jwt: token has no %q claim to match the user name", j.usernameClaim)
		}
		if s, ok := v.(string); !ok || s != r.Username {
			return Deny, fmt.Errorf("auth: jwt: token's %q claim does not match the user name %q", j.usernameClaim, r.Username)
		}
	}
	pub, sub, err := permissionClaims(claims)
	if err != nil {
		return Deny, err
	}
	if pub != nil || sub != nil {
		r.Grant = &Grant{Publish: pub, Subscribe: sub}
	}
	return Allow, nil
}

// Permissions verifies token as Authenticate does (except for the user
// name) and returns its optional "publish" and "subscribe" claims, arrays of
// MQTT topic filters the client may publish to and subscribe to. ok is false
// when the token is not valid, a claim is not an array of strings, or the
// token has neither claim; a missing claim gives a nil slice.
//
// Authenticate hands the same claims to the broker in Request.Grant, which
// restricts the client to them on top of the ACL. Permissions does not
// fetch the JWKS for an unknown key id: call it after Authenticate allowed
// the same token.
func (j *JWT) Permissions(token string) (pub, sub []string, ok bool) {
	if !looksLikeJWT(token) {
		return nil, nil, false
	}
	claims, err := j.verify(context.Background(), token, false)
	if err != nil {
		return nil, nil, false
	}
	pub, sub, err = permissionClaims(claims)
	if err != nil || (pub == nil && sub == nil) {
		return nil, nil, false
	}
	return pub, sub, true
}

// permissionClaims returns the "publish" and "subscribe" claims, nil when
// absent.
func permissionClaims(claims jwt.MapClaims) (pub, sub []string, err error) {
	pub, err = stringsClaim(claims, "publish")
	if err != nil {
		return nil, nil, err
	}
	sub, err = stringsClaim(claims, "subscribe")
	if err != nil {
		return nil, nil, err
	}
	return pub, sub, nil
}

func stringsClaim(claims jwt.MapClaims, name string) ([]string, error) {
	v, ok := claims[name]
	if !ok {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("auth: jwt: %q claim is not an array", name)
	}
	out := make([]string, 0, len(list))
	for _, e := range list {
		s, ok := e.(string)
		if !ok {
			return nil, fmt.Errorf("auth: jwt: %q claim has a non-string element", name)
		}
		out = append(out, s)
	}
	return out, nil
}

// verify checks token's algorithm, signature and registered claims. With
// refresh, an unknown key id may fetch the JWKS.
func (j *JWT) verify(ctx context.Context, token string, refresh bool) (jwt.MapClaims, error) {
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(j.algs),
		jwt.WithLeeway(j.leeway),
		jwt.WithTimeFunc(j.now),
		jwt.WithExpirationRequired(),
	}
	if j.audience != "" {
		opts = append(opts, jwt.WithAudience(j.audience))
	}
	if j.issuer != "" {
		opts = append(opts, jwt.WithIssuer(j.issuer))
	}
	claims := jwt.MapClaims{}
	_, err := jwt.NewParser(opts...).ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		return j.key(ctx, t, refresh)
	})
	if err != nil {
		return nil, fmt.Errorf("auth: jwt: %w", err)
	}
	return claims, nil
}

// key returns the key or keys that may have signed t.
func (j *JWT) key(ctx context.Context, t *jwt.Token, refresh bool) (any, error) {
	alg := t.Method.Alg()
	if alg == "HS256" {
		if j.hmacSecret == nil {
			return nil, errors.New("no HMAC secret")
		}
		return j.hmacSecret, nil
	}
	var kid string
	if v, ok := t.Header["kid"]; ok {
		s, ok := v.(string)
		if !ok {
			return nil, errors.New(`"kid" header is not a string`)
		}
		kid = s
	}
	var set jwt.VerificationKeySet
	if j.publicKey != nil && keyFitsAlg(j.publicKey, alg) {
		set.Keys = append(set.Keys, j.publicKey)
	}
	var jwksErr error
	if j.jwks != nil {
		if kid != "" && refresh && !j.jwks.has(kid) {
			j.jwks.refreshForKid(ctx, kid)
		}
		var keys []crypto.PublicKey
		keys, jwksErr = j.jwks.candidates(kid, alg)
		for _, k := range keys {
			set.Keys = append(set.Keys, k)
		}
	}
	if len(set.Keys) == 0 {
		switch {
		case kid != "" && jwksErr != nil:
			return nil, fmt.Errorf("no %s key with id %q (last JWKS fetch failed: %w)", alg, kid, jwksErr)
		case kid != "":
			return nil, fmt.Errorf("no %s key with id %q", alg, kid)
		}
		return nil, fmt.Errorf("no %s key", alg)
	}
	return set, nil
}
