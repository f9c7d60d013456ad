package auth

import (
	"regexp"
	"strings"
	"testing"
)

// TestReferenceHashes checks every supported hash type against hashes made
// by other tools (see testdata/passwd).
func TestReferenceHashes(t *testing.T) {
	f := mustLoad(t, "testdata/passwd")
	users := map[string]string{
		"argon":       "argon-pass",
		"argon2lanes": "argon-pass",
		"pbuser":      "pbkdf2-pass",
		"shauser":     "sha512-pass",
		"bcuser":      "bcrypt-pass",
		"bcuser2":     "bcrypt-pass",
		"bcuser3":     "bcrypt-pass",
	}
	if f.Users() != len(users) {
		t.Fatalf("Users() = %d, want %d", f.Users(), len(users))
	}
	for user, pw := range users {
		t.Run(user, func(t *testing.T) {
			if d := login(t, f, user, pw); d != Allow {
				t.Errorf("right password: %v, want allow", d)
			}
			for _, wrong := range []string{"", pw + "x", pw[:len(pw)-1], strings.ToUpper(pw)} {
				if d := login(t, f, user, wrong); d != Deny {
					t.Errorf("password %q: %v, want deny", wrong, d)
				}
			}
		})
	}
}

func TestHashArgon2id(t *testing.T) {
	h1, err := HashArgon2id([]byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	h2, err := HashArgon2id([]byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	phc := regexp.MustCompile(`^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)
	if !phc.MatchString(h1) {
		t.Fatalf("HashArgon2id = %q, not PHC with the documented parameters", h1)
	}
	if h1 == h2 {
		t.Error("two hashes of one password are equal: salt is not random")
	}
	v, err := parseHash(h1)
	if err != nil {
		t.Fatal(err)
	}
	if !v.verify([]byte("pw")) || v.verify([]byte("pW")) || v.verify(nil) {
		t.Error("argon2id hash does not tell right from wrong")
	}
	if s := v.(*argon2idHash).String(); s != h1 {
		t.Errorf("round trip: %q, want %q", s, h1)
	}
}

func TestParseHashErrors(t *testing.T) {
	const salt12 = "MDEyMzQ1Njc4OWFi" // 12 bytes
	key64 := strings.Repeat("A", 86) + "=="
	tests := []struct{ hash, want string }{
		{"secret", "plaintext passwords are not supported"},
		{"$9$abc$def", `unknown hash format "$9$..."`},
		{"$argon2i$v=19$m=1024,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", `unknown hash format "$argon2i$..."`},
		{"$nodollar", `unknown hash format "$..."`},
		{"$argon2id$v=19$m=1024,t=2,p=1$c2FsdHNhbHQ", "malformed argon2id hash"},
		{"$argon2id$v=16$m=1024,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "unsupported argon2id version"},
		{"$argon2id$v=19$t=2,m=1024,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "malformed argon2id parameters"},
		{"$argon2id$v=19$m=1024,t=2,p=0$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "parallelism p=0"},
		{"$argon2id$v=19$m=1024,t=2,p=256$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "malformed argon2id parameters"},
		{"$argon2id$v=19$m=4,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "memory m=4 KiB"},
		{"$argon2id$v=19$m=99999999,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "memory m=99999999 KiB"},
		{"$argon2id$v=19$m=1024,t=0,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "passes t=0"},
		{"$argon2id$v=19$m=1024,t=2,p=1$c2FsdA$aGFzaGhhc2hoYXNoaGFzaA", "argon2id salt"},
		{"$argon2id$v=19$m=1024,t=2,p=1$c2FsdHNhbHQ$aGFzaA", "argon2id hash"},
		{"$argon2id$v=19$m=1024,t=2,p=1$c2F*dHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "argon2id salt"},
		{"$7$101$" + salt12, "malformed PBKDF2 hash"},
		{"$7$0$" + salt12 + "$" + key64, `PBKDF2 iterations "0"`},
		{"$7$x$" + salt12 + "$" + key64, `PBKDF2 iterations "x"`},
		{"$7$101$" + salt12 + "$AAAA", "PBKDF2 hash: want 64 bytes"},
		{"$7$101$!!$" + key64, "PBKDF2 salt"},
		{"$6$" + salt12 + "$AAAA", "SHA-512 hash: want 64 bytes"},
		{"$6$" + salt12, "malformed SHA-512 hash"},
		{"$2y$04$short", "malformed bcrypt hash"},
		{"$2y$03$F2bRpROT2vw4IYBhoqI3JOmZ/4azFSjdfPTzf3mGHG2neTgXpMzmW", `bcrypt cost "03"`},
		{"$2y$31$F2bRpROT2vw4IYBhoqI3JOmZ/4azFSjdfPTzf3mGHG2neTgXpMzmW", `bcrypt cost "31"`},
		{"$2y$04$F2bRpROT2vw4IYBhoqI3JOmZ/4azFSjdfPTzf3mGHG2neTgXpMz!W", "malformed bcrypt hash"},
	}
	for _, tt := range tests {
		_, err := parseHash(tt.hash)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("parseHash(%q) = %v, want an error containing %q", tt.hash, err, tt.want)
		}
	}
}

// TestDummyCost checks that the stand-in for unknown users costs the same as
// the hash it copies and matches none of the test passwords.
func TestDummyCost(t *testing.T) {
	f := mustLoad(t, "testdata/passwd")
	for user, v := range f.users {
		d := v.dummy()
		if d.cost() != v.cost() {
			t.Errorf("%s: dummy cost %q, want %q", user, d.cost(), v.cost())
		}
		for _, pw := range []string{"", "argon-pass", "pbkdf2-pass", "sha512-pass", "bcrypt-pass"} {
			if d.verify([]byte(pw)) {
				t.Errorf("%s: dummy matches %q", user, pw)
			}
		}
	}
	if fixedDummy.cost() != "argon2id m=19456 t=2 p=1 key=32" {
		t.Errorf("fixed dummy cost %q, want the default argon2id parameters", fixedDummy.cost())
	}
}
