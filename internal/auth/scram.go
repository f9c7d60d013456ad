package auth

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/crypto/pbkdf2"
)

// SCRAM-SHA-256 (RFC 5802, RFC 7677), server side.

const (
	scramPrefix = "$scram-sha-256$"
	// scramDefaultIterations is the iteration count announced for unknown
	// users; RFC 7677 recommends at least 4096.
	scramDefaultIterations = 4096
	scramMaxIterations     = 10_000_000
	scramKeyLen            = sha256.Size
	scramMaxMessage        = 4096 // bytes; longer client messages are rejected
)

// ErrScramAuthFailed is returned by [ScramServer.Step] when the client proof
// does not verify. It is the same whether or not the user exists.
var ErrScramAuthFailed = errors.New("scram: authentication failed")

// errScramMalformed is the error for messages that do not parse.
func errScramMalformed(what string) error {
	return fmt.Errorf("scram: malformed message: %s", what)
}

// ScramCredential is what the server stores for a user (never the password).
type ScramCredential struct {
	Salt       []byte
	Iterations int
	StoredKey  []byte
	ServerKey  []byte
}

// NewScramCredential derives the SCRAM-SHA-256 credential of a password. The
// password should already be SASLprep-normalized; ASCII passwords are
// unchanged by SASLprep. It panics if iterations < 1 or salt is empty.
func NewScramCredential(password []byte, salt []byte, iterations int) ScramCredential {
	if iterations < 1 || len(salt) == 0 {
		panic("auth: NewScramCredential: need iterations >= 1 and a non-empty salt")
	}
	salted := pbkdf2.Key(password, salt, iterations, scramKeyLen, sha256.New)
	clientKey := scramHMAC(salted, []byte("Client Key"))
	stored := sha256.Sum256(clientKey)
	return ScramCredential{
		Salt:       bytes.Clone(salt),
		Iterations: iterations,
		StoredKey:  stored[:],
		ServerKey:  scramHMAC(salted, []byte("Server Key")),
	}
}

// String returns the storage form
// "$scram-sha-256$i=<iterations>$<b64 salt>$<b64 StoredKey>$<b64 ServerKey>".
func (c ScramCredential) String() string {
	enc := base64.StdEncoding
	return scramPrefix + "i=" + strconv.Itoa(c.Iterations) + "$" +
		enc.EncodeToString(c.Salt) + "$" +
		enc.EncodeToString(c.StoredKey) + "$" +
		enc.EncodeToString(c.ServerKey)
}

// ParseScramCredential parses the form written by [ScramCredential.String].
func ParseScramCredential(s string) (ScramCredential, error) {
	rest, ok := strings.CutPrefix(s, scramPrefix)
	if !ok {
		return ScramCredential{}, errors.New("scram credential: missing $scram-sha-256$ prefix")
	}
	parts := strings.Split(rest, "$")
	if len(parts) != 4 {
		return ScramCredential{}, errors.New("scram credential: want 4 fields after the prefix")
	}
	is, ok := strings.CutPrefix(parts[0], "i=")
	if !ok {
		return ScramCredential{}, errors.New("scram credential: missing i=")
	}
	iter, err := strconv.Atoi(is)
	if err != nil || iter < 1 || iter > scramMaxIterations || is != strconv.Itoa(iter) {
		return ScramCredential{}, fmt.Errorf("scram credential: bad iteration count %q", is)
	}
	enc := base64.StdEncoding.Strict()
	var c ScramCredential
	c.Iterations = iter
	if c.Salt, err = enc.DecodeString(parts[1]); err != nil || len(c.Salt) == 0 {
		return ScramCredential{}, errors.New("scram credential: bad salt")
	}
	if c.StoredKey, err = enc.DecodeString(parts[2]); err != nil || len(c.StoredKey) != scramKeyLen {
		return ScramCredential{}, errors.New("scram credential: bad StoredKey")
	}
	if c.ServerKey, err = enc.DecodeString(parts[3]); err != nil || len(c.ServerKey) != scramKeyLen {
		return ScramCredential{}, errors.New("scram credential: bad ServerKey")
	}
	return c, nil
}

func (c ScramCredential) valid() bool {
	return c.Iterations >= 1 && c.Iterations <= scramMaxIterations && len(c.Salt) > 0 &&
		len(c.StoredKey) == scramKeyLen && len(c.ServerKey) == scramKeyLen
}

func scramHMAC(key, msg []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(msg)
	return m.Sum(nil)
}

// scramSecret keys the fake credentials of unknown users. It is random per
// process, so a fake credential is stable for a username within a process
// (an unknown user always sees the same salt) but cannot be predicted.
var scramSecret = sync.OnceValue(func() []byte {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return b
})

// scramFakeCredential is the credential used for a user that does not exist
// (or whose stored credential is unusable). No proof verifies against it.
func scramFakeCredential(user string) ScramCredential {
	secret := scramSecret()
	derive := func(label string) []byte {
		return scramHMAC(secret, []byte(label+"\x00"+user))
	}
	return ScramCredential{
		Salt:       derive("salt")[:16],
		Iterations: scramDefaultIterations,
		StoredKey:  derive("stored"),
		ServerKey:  derive("server"),
	}
}

// scramDefaultNonce returns 24 random bytes in base64 (printable, no ',').
func scramDefaultNonce() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return base64.RawStdEncoding.EncodeToString(b)
}

type scramState int

const (
	scramWantFirst scramState = iota
	scramWantFinal
	scramDone
	scramFailed
)

// ScramServer runs one SCRAM-SHA-256 exchange on the server side. It is
// independent of the transport: feed it each client message with Step and send
// back the reply. A ScramServer is not safe for concurrent use.
type ScramServer struct {
	lookup func(user string) (ScramCredential, bool)
	nonce  func() string

	state       scramState
	gs2Header   string
	user        string
	clientFirst string // client-first-message-bare
	serverFirst string
	fullNonce   string
	cred        ScramCredential
	known       bool
	authedUser  string
}

// NewScramServer returns a server for one exchange. lookup returns the stored
// credential of a username; ok=false means the user is unknown, and the
// exchange then continues with a fake credential so that the client only
// learns of the failure at the final step. nonce returns the server's nonce
// part (printable ASCII without ','); nil uses 24 random bytes.
func NewScramServer(lookup func(user string) (ScramCredential, bool), nonce func() string) *ScramServer {
	if nonce == nil {
		nonce = scramDefaultNonce
	}
	return &ScramServer{lookup: lookup, nonce: nonce}
}

// Username returns the authenticated username after a successful exchange,
// and "" otherwise.
func (s *ScramServer) Username() string {
	return s.authedUser
}

// Step takes the client's next message and returns the server's reply. done is
// true once the exchange has succeeded (the reply then holds the server
// signature "v=..."). A non-nil err means the exchange failed: the reply is
// nil and every later Step fails too. A failed proof returns
// [ErrScramAuthFailed] whether or not the user exists.
func (s *ScramServer) Step(clientMsg []byte) (reply []byte, done bool, err error) {
	if len(clientMsg) > scramMaxMessage {
		s.state = scramFailed
		return nil, false, errScramMalformed("message too long")
	}
	switch s.state {
	case scramWantFirst:
		reply, err = s.first(string(clientMsg))
	case scramWantFinal:
		reply, err = s.final(string(clientMsg))
		done = err == nil
	case scramDone:
		return nil, false, errors.New("scram: exchange already complete")
	default:
		return nil, false, errors.New("scram: exchange already failed")
	}
	if err != nil {
		s.state = scramFailed
		return nil, false, err
	}
	s.state++
	return reply, done, nil
}

func (s *ScramServer) first(msg string) ([]byte, error) {
	// gs2-header = gs2-cbind-flag "," [ authzid ] ","
	flag, rest, ok := strings.Cut(msg, ",")
	if !ok {
		return nil, errScramMalformed("missing GS2 header")
	}
	switch {
	case flag == "n" || flag == "y":
	case strings.HasPrefix(flag, "p="):
		return nil, errors.New("scram: channel binding is not supported")
	default:
		return nil, errScramMalformed("bad GS2 channel-binding flag")
	}
	authzid, bare, ok := strings.Cut(rest, ",")
	if !ok {
		return nil, errScramMalformed("missing GS2 header")
	}
	if authzid != "" {
		if !strings.HasPrefix(authzid, "a=") {
			return nil, errScramMalformed("bad authzid")
		}
		// An authzid is accepted only if it names the user itself; checked
		// below once the username is known.
	}

	// client-first-message-bare = [reserved-mext ","] username "," nonce ["," extensions]
	attrs := strings.Split(bare, ",")
	if len(attrs) < 2 {
		return nil, errScramMalformed("client-first message too short")
	}
	if strings.HasPrefix(attrs[0], "m=") {
		return nil, errors.New("scram: mandatory extensions are not supported")
	}
	nameAttr, ok := strings.CutPrefix(attrs[0], "n=")
	if !ok {
		return nil, errScramMalformed("missing username")
	}
	user, err := scramDecodeName(nameAttr)
	if err != nil {
		return nil, err
	}
	if authzid != "" {
		az, err := scramDecodeName(authzid[2:])
		if err != nil {
			return nil, err
		}
		if az != user {
			return nil, errors.New("scram: authorization identity differs from username")
		}
	}
	cnonce, ok := strings.CutPrefix(attrs[1], "r=")
	if !ok || !scramValidNonce(cnonce) {
		return nil, errScramMalformed("bad client nonce")
	}
	for _, a := range attrs[2:] {
		if len(a) < 2 || a[1] != '=' || !scramIsAlpha(a[0]) {
			return nil, errScramMalformed("bad extension")
		}
	}

	snonce := s.nonce()
	if !scramValidNonce(snonce) {
		return nil, errors.New("scram: server nonce generator returned an invalid nonce")
	}

	cred, known := ScramCredential{}, false
	if s.lookup != nil {
		cred, known = s.lookup(user)
	}
	if !known || !cred.valid() {
		cred, known = scramFakeCredential(user), false
	}

	s.gs2Header = flag + "," + authzid + ","
	s.user = user
	s.clientFirst = bare
	s.fullNonce = cnonce + snonce
	s.cred = cred
	s.known = known
	s.serverFirst = "r=" + s.fullNonce + ",s=" + base64.StdEncoding.EncodeToString(cred.Salt) +
		",i=" + strconv.Itoa(cred.Iterations)
	return []byte(s.serverFirst), nil
}

func (s *ScramServer) final(msg string) ([]byte, error) {
	// client-final-message = channel-binding "," nonce ["," extensions] "," proof
	idx := strings.LastIndex(msg, ",p=")
	if idx < 0 {
		return nil, errScramMalformed("missing proof")
	}
	withoutProof, proofB64 := msg[:idx], msg[idx+len(",p="):]
	attrs := strings.Split(withoutProof, ",")
	if len(attrs) < 2 {
		return nil, errScramMalformed("client-final message too short")
	}
	cb, ok := strings.CutPrefix(attrs[0], "c=")
	if !ok {
		return nil, errScramMalformed("missing channel binding")
	}
	cbData, err := base64.StdEncoding.Strict().DecodeString(cb)
	if err != nil {
		return nil, errScramMalformed("bad channel binding encoding")
	}
	if subtle.ConstantTimeCompare(cbData, []byte(s.gs2Header)) != 1 {
		return nil, errors.New("scram: channel binding does not match GS2 header")
	}
	rn, ok := strings.CutPrefix(attrs[1], "r=")
	if !ok {
		return nil, errScramMalformed("missing nonce")
	}
	if subtle.ConstantTimeCompare([]byte(rn), []byte(s.fullNonce)) != 1 {
		return nil, errors.New("scram: nonce mismatch")
	}
	for _, a := range attrs[2:] {
		if len(a) < 2 || a[1] != '=' || !scramIsAlpha(a[0]) {
			return nil, errScramMalformed("bad extension")
		}
	}
	proof, err := base64.StdEncoding.Strict().DecodeString(proofB64)
	if err != nil || len(proof) != scramKeyLen {
		return nil, errScramMalformed("bad proof")
	}

	authMessage := []byte(s.clientFirst + "," + s.serverFirst + "," + withoutProof)
	clientSig := scramHMAC(s.cred.StoredKey, authMessage)
	clientKey := make([]byte, scramKeyLen)
	subtle.XORBytes(clientKey, proof, clientSig)
	got := sha256.Sum256(clientKey)
	match := subtle.ConstantTimeCompare(got[:], s.cred.StoredKey) == 1
	if !match || !s.known {
		return nil, ErrScramAuthFailed
	}
	s.authedUser = s.user
	serverSig := scramHMAC(s.cred.ServerKey, authMessage)
	return []byte("v=" + base64.StdEncoding.EncodeToString(serverSig)), nil
}

// scramDecodeName decodes a saslname ("=2C" is ',', "=3D" is '=') and applies
// the part of SASLprep this server supports: printable ASCII names are used
// as-is; control characters and non-ASCII names are rejected.
func scramDecodeName(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '=':
			if i+3 > len(s) {
				return "", errScramMalformed("bad escape in username")
			}
			switch s[i+1 : i+3] {
			case "2C":
				b.WriteByte(',')
			case "3D":
				b.WriteByte('=')
			default:
				return "", errScramMalformed("bad escape in username")
			}
			i += 2
		case c == ',':
			return "", errScramMalformed("unescaped ',' in username")
		case c < 0x20 || c == 0x7f:
			return "", errScramMalformed("control character in username")
		case c >= 0x80:
			return "", errors.New("scram: non-ASCII usernames are not supported")
		default:
			b.WriteByte(c)
		}
	}
	if b.Len() == 0 {
		return "", errScramMalformed("empty username")
	}
	return b.String(), nil
}

// scramValidNonce reports whether n is a valid nonce: non-empty printable
// ASCII except ','.
func scramValidNonce(n string) bool {
	if n == "" {
		return false
	}
	for i := 0; i < len(n); i++ {
		if c := n[i]; c < 0x21 || c > 0x7e || c == ',' {
			return false
		}
	}
	return true
}

func scramIsAlpha(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}
