package auth

// ParsePasswords parses data as [LoadPasswordFile] parses the contents of
// a password file: "user:hash" lines, "#" comments and blank lines. name
// stands for the file in errors, as in "admin.users:2: ...". The admin
// API checks its users with the result, so they get the same hash formats,
// the same constant-time checks and the same cost for unknown users.
func ParsePasswords(name string, data []byte) (*PasswordFile, error) {
	return parsePasswordFile(name, data)
}

// CheckHash reports whether s is a password hash in a format this package
// verifies (argon2id, "$7$", "$6$" or bcrypt). The error never quotes the
// salt or hash.
func CheckHash(s string) error {
	_, err := parseHash(s)
	return err
}
