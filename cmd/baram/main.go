// Command baram is an MQTT broker. Run "baram serve" to start it and
// "baram --help" for the commands and flags.
package main

import (
	"context"
	"os"

	"github.com/baram-mqtt/baram/internal/cli"
)

func main() {
	os.Exit(cli.Execute(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}
