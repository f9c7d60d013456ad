// Package listener opens the sockets that baram serves MQTT on: plain TCP
// and TLS, with optional client certificates (mTLS) whose certificate,
// key, client CA and CRL files are reloaded without a restart; MQTT over
// WebSocket ([WebSocket]); and the PROXY protocol of load balancers
// ([ProxyProtocol]). Every listener yields net.Conn values; the broker
// does not care which kind.
//
// The wrappers stack in the order of the bytes on the wire: TCP, then
// the PROXY header, then TLS, then HTTP and WebSocket, then MQTT:
//
//	ln := ProxyProtocol(tcp, trusted, 0, log) // optional
//	ln = tls.NewListener(ln, tlsCfg.Config())  // mqtts, wss
//	ln = WebSocket(ln, WSOptions{}, log)       // ws, wss
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
// give to authentication, from the connection's tls.ConnectionState. A
// wss connection has a ConnectionState method too, so a client
// certificate works over wss as over mqtts.
//
// # WebSocket
//
// [WebSocket] runs an HTTP server on a listener and yields one net.Conn
// per upgraded request (MQTT over WebSocket, MQTT 5.0 chapter 6): the
// payloads of the client's binary messages as one byte stream, so that a
// packet may span messages and a message may hold several packets. The
// handshake (TLS for wss, the HTTP request, the answer) runs in the HTTP
// server's goroutine under a timeout, never in Accept. Its read deadline
// behaves as on TCP: it ends the Read and leaves the connection usable
// (see wsConn for the goroutine that costs).
//
// # PROXY protocol
//
// [ProxyProtocol] reads the header that a load balancer (HAProxy, AWS NLB,
// ...) sends before the client's bytes, and makes the client it names the
// connection's RemoteAddr, so that logs, per-address limits and bans see
// the client and not the balancer. It trusts only the listed addresses;
// those must send a header, all others must not.
package listener
