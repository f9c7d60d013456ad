// Package interop holds tests that run third-party MQTT clients (the
// Mosquitto command-line clients) against baram over real sockets.
package interop
