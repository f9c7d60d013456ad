// Package listener opens the sockets that baram serves MQTT on: plain TCP
// and TLS, with optional client certificates (mTLS) whose certificate,
// key, client CA and CRL files are reloaded without a restart. Every
// listener yields net.Conn values; the broker does not care which kind.
//
// # TLS handshakes
//
// [Listen] wraps the TCP listener with [crypto/tls.NewListener]. Its
// Accept returns a *tls.Conn at once, without a handshake: the handshake
// runs on the connection's first Read or Write, in the goroutine that
// serves that connection, so a slow or silent client never holds up
// Accept for the others.
//
// The caller bounds the handshake by setting a read deadline before its
// first Read (the broker sets its connect timeout there); a client that
// stalls the handshake then fails that Read with an error for which
// errors.Is(err, os.ErrDeadlineExceeded) holds. The handshake's own writes
// are a few kilobytes and fit in the socket buffer.
//
// A refused handshake makes the first Read return the reason: for a
// client certificate it wraps [ErrClientCert] and says why (expired,
// unknown CA, revoked, not for client authentication).
//
// # Client certificates
//
// Go's handshake only asks for a client certificate (RequestClientCert,
// or RequireAnyClientCert when one is required); the certificate is then
// verified in VerifyConnection against the client CAs and CRL in use at
// that moment, for full and resumed handshakes alike, so a reloaded CA or
// CRL applies to the next handshake. The CertificateRequest names no
// acceptable CAs, since the pool can change; clients send the certificate
// they are configured with (OpenSSL, mosquitto and Go clients do). A CRL
// past its next update is still used, with a warning at load.
//
// # Client identity
//
// After the handshake, the broker asks [Identity] for the user name to
// give to authentication, from the connection's tls.ConnectionState.
package listener
