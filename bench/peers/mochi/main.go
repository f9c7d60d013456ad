// Command mochi runs mochi-mqtt v2.7.9 (github.com/mochi-mqtt/server/v2),
// the Go peer of baram's benchmarks, with its default capabilities and
// an allow-all authenticator, on one TCP address and optionally one
// WebSocket address, until SIGINT or SIGTERM. It is its own Go module so
// that baram's go.mod does not depend on mochi.
//
//	cd bench/peers/mochi && go build -o /tmp/mochi .
//	/tmp/mochi -addr 127.0.0.1:18832 [-ws 127.0.0.1:18833]
package main

import (
	"flag"
	"log"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:1883", "MQTT over TCP `host:port`")
	ws := flag.String("ws", "", "MQTT over WebSocket `host:port` (none when empty)")
	verbose := flag.Bool("v", false, "log at info level (default: warnings only)")
	flag.Parse()

	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	server := mqtt.New(&mqtt.Options{
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})),
	})
	if err := server.AddHook(new(auth.AllowHook), nil); err != nil {
		log.Fatal(err)
	}
	if err := server.AddListener(listeners.NewTCP(listeners.Config{ID: "tcp", Address: *addr})); err != nil {
		log.Fatal(err)
	}
	if *ws != "" {
		if err := server.AddListener(listeners.NewWebsocket(listeners.Config{ID: "ws", Address: *ws})); err != nil {
			log.Fatal(err)
		}
	}

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	// Serve starts the listeners' goroutines and returns.
	if err := server.Serve(); err != nil {
		log.Fatal(err)
	}
	log.Printf("mochi-mqtt v2.7.9 listening on %s", *addr)
	log.Printf("%v: stopping", <-sigs)
	if err := server.Close(); err != nil {
		log.Fatal(err)
	}
}
