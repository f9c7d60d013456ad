package auth

import (
	"crypto/pbkdf2"
	"crypto/sha512"
	"crypto/subtle"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// Limits on iteration counts read from files, against typos (Mosquitto's
// mosquitto_passwd uses 101 PBKDF2 iterations; bcrypt's usual cost is 10-12).
const (
	pbkdf2MaxIterations = 10_000_000
	bcryptMaxCost       = 20
)

// pbkdf2Hash is Mosquitto's "$7$iterations$salt$hash": PBKDF2-HMAC-SHA512
// over the password and the base64-decoded salt, giving 64 bytes.
type pbkdf2Hash struct {
	iterations int
	salt, key  []byte
}

func (h *pbkdf2Hash) verify(password []byte) bool {
	got, err := pbkdf2.Key(sha512.New, string(password), h.salt, h.iterations, len(h.key))
	return err == nil && subtle.ConstantTimeCompare(got, h.key) == 1
}

func (h *pbkdf2Hash) cost() string {
	return fmt.Sprintf("pbkdf2-sha512 i=%d", h.iterations)
}

func (h *pbkdf2Hash) dummy() verifier {
	return &pbkdf2Hash{iterations: h.iterations, salt: make([]byte, len(h.salt)), key: make([]byte, len(h.key))}
}

func parsePBKDF2(s string) (verifier, error) {
	parts := strings.Split(s, "$")
	if len(parts) != 5 {
		return nil, fmt.Errorf("malformed PBKDF2 hash: want $7$iterations$salt$hash")
	}
	n, err := strconv.Atoi(parts[2])
	if err != nil || n < 1 || n > pbkdf2MaxIterations {
		return nil, fmt.Errorf("PBKDF2 iterations %q: want 1 to %d", parts[2], pbkdf2MaxIterations)
	}
	salt, key, err := mosquittoSaltHash(parts[3], parts[4])
	if err != nil {
		return nil, fmt.Errorf("PBKDF2 %w", err)
	}
	return &pbkdf2Hash{iterations: n, salt: salt, key: key}, nil
}

// sha512Hash is Mosquitto's older "$6$salt$hash": SHA-512 of the password
// followed by the base64-decoded salt. It is fast, so it is weak against
// guessing; it is read for compatibility only.
type sha512Hash struct {
	salt, key []byte
}

func (h *sha512Hash) verify(password []byte) bool {
	d := sha512.New()
	d.Write(password)
	d.Write(h.salt)
	return subtle.ConstantTimeCompare(d.Sum(nil), h.key) == 1
}

func (h *sha512Hash) cost() string { return "sha512" }

func (h *sha512Hash) dummy() verifier {
	return &sha512Hash{salt: make([]byte, len(h.salt)), key: make([]byte, len(h.key))}
}

func parseSHA512(s string) (verifier, error) {
	parts := strings.Split(s, "$")
	if len(parts) != 4 {
		return nil, fmt.Errorf("malformed SHA-512 hash: want $6$salt$hash")
	}
	salt, key, err := mosquittoSaltHash(parts[2], parts[3])
	if err != nil {
		return nil, fmt.Errorf("SHA-512 %w", err)
	}
	return &sha512Hash{salt: salt, key: key}, nil
}

// mosquittoSaltHash decodes the base64 salt and 64-byte hash of a Mosquitto
// "$6$" or "$7$" entry.
func mosquittoSaltHash(salt64, key64 string) (salt, key []byte, err error) {
	salt, err = decodeBase64(salt64)
	if err != nil || len(salt) == 0 {
		return nil, nil, fmt.Errorf("salt: want base64")
	}
	key, err = decodeBase64(key64)
	if err != nil || len(key) != sha512.Size {
		return nil, nil, fmt.Errorf("hash: want %d bytes in base64", sha512.Size)
	}
	return salt, key, nil
}

// bcryptHash is a bcrypt hash, "$2a$", "$2b$" or "$2y$" (the same algorithm
// in every implementation without the 2011 crypt_blowfish bug).
type bcryptHash struct {
	raw       []byte
	costParam int
}

func (h *bcryptHash) verify(password []byte) bool {
	return bcrypt.CompareHashAndPassword(h.raw, password) == nil
}

func (h *bcryptHash) cost() string { return fmt.Sprintf("bcrypt cost=%d", h.costParam) }

func (h *bcryptHash) dummy() verifier {
	raw := []byte(fmt.Sprintf("$2a$%02d$%s", h.costParam, strings.Repeat(".", bcryptLen-7)))
	return &bcryptHash{raw: raw, costParam: h.costParam}
}

// bcryptLen is the length of "$2a$10$" + 22 characters of salt + 31 of hash.
const bcryptLen = 60

const bcryptAlphabet = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

func parseBcrypt(s string) (verifier, error) {
	if len(s) != bcryptLen || s[6] != '$' {
		return nil, fmt.Errorf("malformed bcrypt hash: want $2b$NN$ and 53 characters")
	}
	cost, err := strconv.Atoi(s[4:6])
	if err != nil || cost < bcrypt.MinCost || cost > bcryptMaxCost {
		return nil, fmt.Errorf("bcrypt cost %q: want %d to %d", s[4:6], bcrypt.MinCost, bcryptMaxCost)
	}
	for _, c := range s[7:] {
		if !strings.ContainsRune(bcryptAlphabet, c) {
			return nil, fmt.Errorf("malformed bcrypt hash: character %q", c)
		}
	}
	return &bcryptHash{raw: []byte(s), costParam: cost}, nil
}
