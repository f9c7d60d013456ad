// Package auth decides whether a connecting MQTT client may connect.
//
// An [Authenticator] looks at a [Request] — what the client presented in
// CONNECT plus what the transport knows (certificate identity, peer address,
// listener) — and answers [Allow], [Deny] or [Ignore]. A [Chain] asks several
// authenticators in order and fails closed on errors.
//
// [PasswordFile] reads Mosquitto-compatible password files: one "user:hash"
// line per user, "#" comments and blank lines. It verifies argon2id hashes in
// PHC format, Mosquitto's PBKDF2-SHA512 ("$7$") and older SHA-512 ("$6$")
// hashes, and bcrypt ("$2a$", "$2b$", "$2y$"). [WatchPasswordFile] keeps a
// password file current, reloading it when it changes on disk and on demand.
// [SetPassword] and [DeleteUser] edit such files for "baram passwd"; the
// entries they write are argon2id hashes made by [HashArgon2id].
//
// Salted challenge-response credentials (SCRAM-SHA-256, for MQTT 5 enhanced
// authentication) are not part of this package yet; they come in a later
// version as a separate credential store.
package auth
