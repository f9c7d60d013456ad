package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// verifier checks passwords against one stored hash.
type verifier interface {
	// verify reports whether password matches, in time that depends only on
	// the hash's algorithm and parameters.
	verify(password []byte) bool
	// cost names the algorithm and its parameters: verifiers with equal cost
	// take equal time.
	cost() string
	// dummy returns a verifier with the same cost that is used for unknown
	// users; whatever it answers is discarded.
	dummy() verifier
}

// parseHash parses the hash field of a password file line.
func parseHash(s string) (verifier, error) {
	switch {
	case strings.HasPrefix(s, "$argon2id$"):
		return parseArgon2id(s)
	case strings.HasPrefix(s, "$7$"):
		return parsePBKDF2(s)
	case strings.HasPrefix(s, "$6$"):
		return parseSHA512(s)
	case strings.HasPrefix(s, "$2a$"), strings.HasPrefix(s, "$2b$"), strings.HasPrefix(s, "$2y$"):
		return parseBcrypt(s)
	case !strings.HasPrefix(s, "$"):
		return nil, fmt.Errorf("unknown hash format (plaintext passwords are not supported; set them with baram passwd)")
	}
	return nil, fmt.Errorf("unknown hash format %q", schemeOf(s))
}

// schemeOf returns the scheme prefix of a hash ("$9$...") for error messages,
// without the salt or hash.
func schemeOf(s string) string {
	if i := strings.IndexByte(s[1:], '$'); i >= 0 && i < 16 {
		return s[:i+2] + "..."
	}
	return s[:1] + "..."
}

// Parameters of new argon2id hashes: OWASP's minimum recommendation (19 MiB,
// two passes, one lane), which takes about 35 ms on a desktop CPU and several
// times that on a Raspberry Pi.
const (
	argon2Memory  = 19 * 1024 // KiB
	argon2Time    = 2
	argon2Threads = 1
	argon2SaltLen = 16
	argon2KeyLen  = 32
)

// Limits on argon2id parameters read from files: a typo must not let every
// login allocate gigabytes or run for minutes.
const (
	argon2MaxMemory = 1 << 20 // KiB (1 GiB)
	argon2MaxTime   = 64
)

// HashArgon2id hashes password with argon2id and a random 16-byte salt, and
// returns it in PHC format: "$argon2id$v=19$m=19456,t=2,p=1$salt$hash". The
// parameters are OWASP's minimum for argon2id (19 MiB of memory, 2 passes,
// parallelism 1), chosen so that a Raspberry Pi verifies a login in well
// under a second.
func HashArgon2id(password []byte) (string, error) {
	salt := make([]byte, argon2SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("auth: argon2id salt: %w", err)
	}
	h := &argon2idHash{time: argon2Time, memory: argon2Memory, threads: argon2Threads, salt: salt}
	h.key = h.derive(password, argon2KeyLen)
	return h.String(), nil
}

type argon2idHash struct {
	time, memory uint32
	threads      uint8
	salt, key    []byte
}

func (h *argon2idHash) derive(password []byte, keyLen int) []byte {
	return argon2.IDKey(password, h.salt, h.time, h.memory, h.threads, uint32(keyLen))
}

func (h *argon2idHash) verify(password []byte) bool {
	return subtle.ConstantTimeCompare(h.derive(password, len(h.key)), h.key) == 1
}

func (h *argon2idHash) cost() string {
	return fmt.Sprintf("argon2id m=%d t=%d p=%d key=%d", h.memory, h.time, h.threads, len(h.key))
}

func (h *argon2idHash) dummy() verifier {
	return &argon2idHash{time: h.time, memory: h.memory, threads: h.threads,
		salt: make([]byte, len(h.salt)), key: make([]byte, len(h.key))}
}

// String returns the hash in PHC format.
func (h *argon2idHash) String() string {
	return fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$%s$%s", h.memory, h.time, h.threads,
		base64.RawStdEncoding.EncodeToString(h.salt), base64.RawStdEncoding.EncodeToString(h.key))
}

// fixedDummy is what unknown users are checked against when a file has no
// users to copy the cost from: an argon2id hash with the default parameters.
var fixedDummy verifier = &argon2idHash{time: argon2Time, memory: argon2Memory,
	threads: argon2Threads, salt: make([]byte, argon2SaltLen), key: make([]byte, argon2KeyLen)}

// parseArgon2id parses "$argon2id$v=19$m=M,t=T,p=P$salt$hash".
func parseArgon2id(s string) (verifier, error) {
	parts := strings.Split(s, "$")
	if len(parts) != 6 {
		return nil, fmt.Errorf("malformed argon2id hash: want $argon2id$v=19$m=M,t=T,p=P$salt$hash")
	}
	if parts[2] != "v=19" {
		return nil, fmt.Errorf("unsupported argon2id version %q: want v=19", parts[2])
	}
	params := strings.Split(parts[3], ",")
	if len(params) != 3 {
		return nil, fmt.Errorf("malformed argon2id parameters %q: want m=M,t=T,p=P", parts[3])
	}
	m, err1 := phcParam(params[0], "m", 32)
	t, err2 := phcParam(params[1], "t", 32)
	p, err3 := phcParam(params[2], "p", 8)
	if err1 != nil || err2 != nil || err3 != nil {
		return nil, fmt.Errorf("malformed argon2id parameters %q: want m=M,t=T,p=P", parts[3])
	}
	switch {
	case p < 1:
		return nil, fmt.Errorf("argon2id parallelism p=%d: want at least 1", p)
	case m < 8*p || m > argon2MaxMemory:
		return nil, fmt.Errorf("argon2id memory m=%d KiB: want %d to %d", m, 8*p, argon2MaxMemory)
	case t < 1 || t > argon2MaxTime:
		return nil, fmt.Errorf("argon2id passes t=%d: want 1 to %d", t, argon2MaxTime)
	}
	salt, err := decodeBase64(parts[4])
	if err != nil || len(salt) < 8 || len(salt) > 64 {
		return nil, fmt.Errorf("argon2id salt: want 8 to 64 bytes in base64")
	}
	key, err := decodeBase64(parts[5])
	if err != nil || len(key) < 16 || len(key) > 1024 {
		return nil, fmt.Errorf("argon2id hash: want 16 to 1024 bytes in base64")
	}
	return &argon2idHash{time: uint32(t), memory: uint32(m), threads: uint8(p), salt: salt, key: key}, nil
}

// phcParam parses "name=value" as an unsigned integer of the given bit size.
func phcParam(s, name string, bits int) (uint64, error) {
	v, ok := strings.CutPrefix(s, name+"=")
	if !ok {
		return 0, fmt.Errorf("want %s=", name)
	}
	return strconv.ParseUint(v, 10, bits)
}

// decodeBase64 decodes standard base64 with or without padding, as used by
// both PHC strings (unpadded) and Mosquitto (padded).
func decodeBase64(s string) ([]byte, error) {
	return base64.RawStdEncoding.Strict().DecodeString(strings.TrimRight(s, "="))
}
