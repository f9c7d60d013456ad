package cli

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/baram-mqtt/baram/internal/mqttclient"
	"github.com/baram-mqtt/baram/internal/packet"
	"github.com/baram-mqtt/baram/internal/topic"
)

// pubFlags are the flags of baram pub.
type pubFlags struct {
	conn        connFlags
	topic       string
	message     string
	file        string
	stdin       bool
	lines       bool
	null        bool
	retain      bool
	qos         int
	repeat      int
	repeatDelay string
	maxInflight int
}

// newPubCommand returns the "pub" command, a client as mosquitto_pub.
func newPubCommand() *cobra.Command {
	var f pubFlags
	cmd := &cobra.Command{
		Use:   "pub -t TOPIC {-m MESSAGE | -f FILE | -s | -l | -n} [flags]",
		Short: "Publish messages to an MQTT broker, as mosquitto_pub does",
		Long: "baram pub connects to an MQTT broker (baram or any other), publishes, and\n" +
			"disconnects: one message from -m, -f, -s (all of standard input) or -n (empty),\n" +
			"--repeat times, or one message per line of standard input with -l.\n\n" +
			"At QoS 1 and 2 it waits for every PUBACK or PUBCOMP before it disconnects.\n" +
			"The exit status is 1 when the broker refuses the connection (the reason is\n" +
			"printed: Bad User Name or Password (0x86), ...), answers a publish with an\n" +
			"MQTT 5 failure reason code (Not authorized (0x87), ...), does not answer in\n" +
			"--response-timeout, or the connection is lost; 2 for bad flags. Ctrl-C stops\n" +
			"publishing, waits for what is in flight, and disconnects.\n\n" +
			"The flags follow mosquitto_pub's: -h is the host (help is --help), -p the\n" +
			"port, -L a URL (mqtt://, mqtts://, ws://, wss://). It connects with the\n" +
			"dialer of baram bench.\n\n" + propHelp,
		Example: "  baram pub -t sensors/t1 -m 21.5\n" +
			"  baram pub -h broker.example -p 8883 --cafile ca.pem -u alice -P secret -t a/b -m hi -q 1\n" +
			"  baram pub -L mqtt://alice:secret@broker.example/alerts -m fire -r\n" +
			"  baram pub -L wss://broker.example/mqtt -t a -f photo.jpg -q 2\n" +
			"  tail -f app.log | baram pub -t logs/app -l -q 1\n" +
			"  baram pub -V 5 -t jobs -m '{}' -D publish user-property trace 42 -D publish content-type application/json",
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return f.run(cmd, args) },
	}
	f.conn.bind(cmd)
	fs := cmd.Flags()
	fs.StringVarP(&f.topic, "topic", "t", "", "`TOPIC` to publish on")
	fs.StringVarP(&f.message, "message", "m", "", "the `MESSAGE` to send")
	fs.StringVarP(&f.file, "file", "f", "", "send the contents of `FILE` as the message")
	fs.BoolVarP(&f.stdin, "stdin-file", "s", false, "send all of standard input as one message")
	fs.BoolVarP(&f.lines, "stdin-line", "l", false, "send each line of standard input as a message (without its line ending)")
	fs.BoolVarP(&f.null, "null-message", "n", false, "send an empty message (with -r: clears the retained message)")
	fs.BoolVarP(&f.retain, "retain", "r", false, "retain the message")
	fs.IntVarP(&f.qos, "qos", "q", 0, "`QOS`: 0, 1 or 2")
	fs.IntVar(&f.repeat, "repeat", 1, "publish the message `N` times (not with -l)")
	fs.StringVar(&f.repeatDelay, "repeat-delay", "0", "wait `SECONDS` (or a duration: 500ms) between repeats")
	fs.IntVarP(&f.maxInflight, "max-inflight", "M", 20, "at most `N` messages at QoS 1 and 2 waiting for their acknowledgement")
	return cmd
}

// pubSource is where the messages come from.
type pubSource struct {
	payload []byte // -m, -f, -s, -n
	lines   bool   // -l: read standard input line by line
	delay   time.Duration
}

// check reads the flags; its errors are usage errors.
func (f *pubFlags) check(cmd *cobra.Command, args []string) (*connSpec, *packet.Publish, error) {
	spec, err := f.conn.resolve(cmd, args, []string{"connect", "publish", "will", "disconnect"})
	if err != nil {
		return nil, nil, err
	}
	msg := &packet.Publish{Topic: f.topic, Retain: f.retain}
	switch {
	case spec.hasTopic && f.topic != "":
		return nil, nil, errors.New("give the topic in --url or with --topic, not both")
	case spec.hasTopic:
		msg.Topic = spec.urlTopic
	case f.topic == "":
		return nil, nil, errors.New("give a topic: -t TOPIC")
	}
	if err := topic.ValidName(msg.Topic); err != nil {
		return nil, nil, fmt.Errorf("topic %q: %w", msg.Topic, err)
	}
	if f.qos < 0 || f.qos > 2 {
		return nil, nil, fmt.Errorf("--qos %d: want 0, 1 or 2", f.qos)
	}
	msg.QoS = byte(f.qos)
	if p := spec.props["publish"]; p != nil {
		msg.Props = *p
	}
	if f.maxInflight < 1 || f.maxInflight > 65535 {
		return nil, nil, fmt.Errorf("--max-inflight %d: want 1..65535", f.maxInflight)
	}
	return spec, msg, nil
}

// source reads the message flags: exactly one of -m, -f, -s, -l, -n.
func (f *pubFlags) source(cmd *cobra.Command) (*pubSource, error) {
	var given []string
	for _, name := range []string{"message", "file", "stdin-file", "stdin-line", "null-message"} {
		if cmd.Flags().Changed(name) {
			given = append(given, "--"+name)
		}
	}
	switch {
	case len(given) == 0:
		return nil, usageError{errors.New("give the message: -m MESSAGE, -f FILE, -s (standard input), -l (a message per line) or -n (empty)")}
	case len(given) > 1:
		return nil, usageError{fmt.Errorf("give one message source, not %s", strings.Join(given, " and "))}
	}
	src := &pubSource{}
	delay, err := parseSeconds(f.repeatDelay)
	if err != nil {
		return nil, usageError{fmt.Errorf("--repeat-delay %q: %w", f.repeatDelay, err)}
	}
	src.delay = delay
	if f.repeat < 1 {
		return nil, usageError{fmt.Errorf("--repeat %d: want at least 1", f.repeat)}
	}
	if f.lines && (cmd.Flags().Changed("repeat") || cmd.Flags().Changed("repeat-delay")) {
		return nil, usageError{errors.New("--repeat and --repeat-delay are for -m, -f, -s and -n, not -l")}
	}
	switch {
	case f.lines:
		src.lines = true
	case cmd.Flags().Changed("message"):
		src.payload = []byte(f.message)
	case f.file != "":
		if src.payload, err = os.ReadFile(f.file); err != nil {
			return nil, fmt.Errorf("--file: %w", err)
		}
	case f.stdin:
		if src.payload, err = io.ReadAll(cmd.InOrStdin()); err != nil {
			return nil, fmt.Errorf("reading standard input: %w", err)
		}
	case cmd.Flags().Changed("file"):
		return nil, usageError{errors.New("--file: empty; name a file")}
	}
	return src, nil
}

// run publishes as the flags say.
func (f *pubFlags) run(cmd *cobra.Command, args []string) error {
	spec, msg, err := f.check(cmd, args)
	if err != nil {
		return usageError{err}
	}
	src, err := f.source(cmd)
	if err != nil {
		return err
	}
	// The first Ctrl-C (or SIGTERM) stops publishing; from then on a
	// second one kills the process the default way.
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	unwatch := context.AfterFunc(ctx, stop)
	defer unwatch()

	stderr := &lockedWriter{w: cmd.ErrOrStderr()}
	c, err := spec.dial(ctx, "pub", f.conn.debug, stderr, nil)
	if err != nil {
		return err
	}
	p := &publisher{c: c, msg: msg, window: f.maxInflight}
	if ack := c.Connack(); ack.Props.Has(packet.PropReceiveMaximum) && ack.Props.ReceiveMaximum > 0 {
		p.window = min(p.window, int(ack.Props.ReceiveMaximum)) // so that Send never waits for room
	}
	if src.lines {
		err = p.lines(ctx, cmd.InOrStdin())
	} else {
		err = p.repeat(ctx, src.payload, f.repeat, src.delay)
	}
	if err2 := p.drain(); err == nil {
		err = err2
	}
	derr := c.Disconnect(&spec.disconnect)
	if err != nil {
		return fmt.Errorf("publish to %q: %w", msg.Topic, err)
	}
	return derr
}

// publisher sends messages with up to window of them unacknowledged.
type publisher struct {
	c       *mqttclient.Client
	msg     *packet.Publish // the template: topic, QoS, retain, properties
	window  int
	flights []*mqttclient.Flight
}

// send publishes payload, first waiting for the oldest message in flight
// when the window is full.
func (p *publisher) send(ctx context.Context, payload []byte) error {
	for len(p.flights) >= p.window {
		if err := p.waitOldest(); err != nil {
			return err
		}
	}
	m := *p.msg
	m.Payload = payload
	fl, err := p.c.Send(ctx, &m)
	if err != nil {
		return err
	}
	if m.QoS > 0 {
		p.flights = append(p.flights, fl)
	}
	return nil
}

// waitOldest waits for the acknowledgement of the oldest message in
// flight; each wait is bounded by the client's timeout.
func (p *publisher) waitOldest() error {
	fl := p.flights[0]
	p.flights = p.flights[1:]
	return fl.Wait(context.Background())
}

// drain waits for every message in flight.
func (p *publisher) drain() error {
	var first error
	for len(p.flights) > 0 {
		if err := p.waitOldest(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// repeat publishes payload n times, delay apart, until ctx ends.
func (p *publisher) repeat(ctx context.Context, payload []byte, n int, delay time.Duration) error {
	for i := range n {
		if i > 0 && delay > 0 {
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-ctx.Done():
			case <-p.c.Done():
			}
			t.Stop()
		}
		if ctx.Err() != nil {
			return nil // interrupted: what was sent is still waited for
		}
		if err := p.send(ctx, payload); err != nil {
			return err
		}
	}
	return nil
}

// lines publishes each line of in until its end or ctx's; a lost
// connection ends it even while no line comes.
func (p *publisher) lines(ctx context.Context, in io.Reader) error {
	lines := make(chan []byte)
	readErr := make(chan error, 1)
	quit := make(chan struct{})
	defer close(quit)
	go func() {
		defer close(lines)
		br := bufio.NewReader(in)
		for {
			line, err := br.ReadBytes('\n')
			if len(line) > 0 {
				line = bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
				select {
				case lines <- line:
				case <-quit:
					return
				}
			}
			if err != nil {
				if !errors.Is(err, io.EOF) {
					readErr <- err
				}
				return
			}
		}
	}()
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				select {
				case err := <-readErr:
					return fmt.Errorf("reading standard input: %w", err)
				default:
					return nil
				}
			}
			if err := p.send(ctx, line); err != nil {
				return err
			}
		case <-ctx.Done():
			return nil
		case <-p.c.Done():
			return fmt.Errorf("connection lost: %w", p.c.Err())
		}
	}
}
