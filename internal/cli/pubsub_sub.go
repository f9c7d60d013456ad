package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/baram-mqtt/baram/internal/mqttclient"
	"github.com/baram-mqtt/baram/internal/packet"
	"github.com/baram-mqtt/baram/internal/topic"
)

// subFlags are the flags of baram sub.
type subFlags struct {
	conn         connFlags
	filters      []string
	hide         []string
	qos          int
	count        int
	wait         string
	noRetained   bool
	retainedOnly bool
	verbose      bool
	format       string
	noEOL        bool
	exitAfterSub bool
	unsubscribe  bool
}

// newSubCommand returns the "sub" command, a client as mosquitto_sub.
func newSubCommand() *cobra.Command {
	var f subFlags
	cmd := &cobra.Command{
		Use:   "sub -t FILTER [-t FILTER ...] [flags]",
		Short: "Subscribe to an MQTT broker and print what arrives, as mosquitto_sub does",
		Long: "baram sub connects to an MQTT broker (baram or any other), subscribes to the\n" +
			"-t filters, and prints each message on standard output: the payload (-F\n" +
			"payload, the default), the topic and the payload (-v or -F topic), or one JSON\n" +
			"object per line (-F json: topic, qos, retain, payload, or payload_base64 when\n" +
			"it is not UTF-8, and the MQTT 5 content type and user properties). -F also\n" +
			"takes a mosquitto_sub template such as '%t %p' (%t topic, %p payload, %q QoS,\n" +
			"%r retain, %l length, %x hex payload, %j JSON, %I time, %P user properties).\n\n" +
			"It runs until Ctrl-C (which disconnects and exits 0), until -C messages were\n" +
			"printed, or until -W seconds have passed. The exit status is 1 when the\n" +
			"broker refuses the connection or every subscription (refused filters are\n" +
			"named with their reason code), when -W ends before -C messages came, or\n" +
			"when the connection is lost; 2 for bad flags.\n\n" +
			"The flags follow mosquitto_sub's: -h is the host (help is --help), -p the\n" +
			"port, -L a URL (mqtt://, mqtts://, ws://, wss://). It connects with the\n" +
			"dialer of baram bench.\n\n" + propHelp,
		Example: "  baram sub -t 'sensors/#' -v\n" +
			"  baram sub -h broker.example -p 8883 --cafile ca.pem -u alice -P secret -t a/b -q 1\n" +
			"  baram sub -t jobs -C 1 -W 10          # wait up to 10s for one message\n" +
			"  baram sub -t 'status/#' --retained-only -F json\n" +
			"  baram sub -c -i worker-1 -q 1 -t jobs # persistent session: gets what was queued\n" +
			"  baram sub -V 5 -L ws://broker.example:8080/mqtt -t '#' -T '$SYS/#' -F json",
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return f.run(cmd, args) },
	}
	f.conn.bind(cmd)
	fs := cmd.Flags()
	fs.StringArrayVarP(&f.filters, "topic", "t", nil, "topic `FILTER` to subscribe to (repeatable)")
	fs.StringArrayVarP(&f.hide, "filter-out", "T", nil, "do not print messages whose topic matches `FILTER` (repeatable)")
	fs.IntVarP(&f.qos, "qos", "q", 0, "`QOS` of the subscriptions: 0, 1 or 2")
	fs.IntVarP(&f.count, "count", "C", 0, "exit after printing `N` messages")
	fs.StringVarP(&f.wait, "timeout", "W", "", "exit after `SECONDS` (or a duration: 500ms); status 1 if -C messages did not all come")
	fs.BoolVarP(&f.noRetained, "no-retained", "R", false, "do not print retained (stale) messages")
	fs.BoolVar(&f.retainedOnly, "retained-only", false, "print only retained messages; exit at the first message that is not")
	fs.BoolVarP(&f.verbose, "verbose", "v", false, "print the topic before the payload (-F topic)")
	fs.StringVarP(&f.format, "format", "F", "", "output `FORMAT`: payload, topic, json, or a template such as '%t %p' (default payload)")
	fs.BoolVarP(&f.noEOL, "no-eol", "N", false, "do not end each message with a newline")
	fs.BoolVarP(&f.exitAfterSub, "exit-after-subscribe", "E", false, "exit once the broker acknowledged the subscriptions (to set up a persistent session)")
	fs.BoolVar(&f.unsubscribe, "unsubscribe-on-exit", false, "unsubscribe before disconnecting (a persistent session then keeps no subscription)")
	return cmd
}

// subPlan is what sub does once connected.
type subPlan struct {
	subscribe *packet.Subscribe
	wait      time.Duration // -W; 0: none
	recv      *receiver
}

// check reads the flags; its errors are usage errors.
func (f *subFlags) check(cmd *cobra.Command, args []string) (*connSpec, *subPlan, error) {
	spec, err := f.conn.resolve(cmd, args, []string{"connect", "subscribe", "unsubscribe", "will", "disconnect"})
	if err != nil {
		return nil, nil, err
	}
	filters := f.filters
	if spec.hasTopic {
		filters = append([]string{spec.urlTopic}, filters...)
	}
	if len(filters) == 0 {
		return nil, nil, errors.New("give a topic filter: -t FILTER")
	}
	if f.qos < 0 || f.qos > 2 {
		return nil, nil, fmt.Errorf("--qos %d: want 0, 1 or 2", f.qos)
	}
	plan := &subPlan{subscribe: &packet.Subscribe{}}
	for _, filter := range filters {
		if err := topic.ValidFilter(filter); err != nil {
			return nil, nil, fmt.Errorf("topic filter %q: %w", filter, err)
		}
		plan.subscribe.Subs = append(plan.subscribe.Subs, packet.Subscription{Filter: filter, QoS: byte(f.qos)})
	}
	if p := spec.props["subscribe"]; p != nil {
		plan.subscribe.Props = *p
	}
	for _, filter := range f.hide {
		if err := topic.ValidFilter(filter); err != nil || strings.HasPrefix(filter, topic.SharedPrefix) {
			return nil, nil, fmt.Errorf("--filter-out %q: not a topic filter (%v)", filter, err)
		}
	}
	if f.count < 0 {
		return nil, nil, fmt.Errorf("--count %d: want a positive number", f.count)
	}
	if cmd.Flags().Changed("timeout") {
		if plan.wait, err = parseSeconds(f.wait); err != nil || plan.wait == 0 {
			return nil, nil, fmt.Errorf("--timeout %q: want a positive number of seconds or a duration", f.wait)
		}
	}
	if f.noRetained && f.retainedOnly {
		return nil, nil, errors.New("give --no-retained (-R) or --retained-only, not both")
	}
	format, err := newSubFormat(f.format, f.verbose, f.noEOL)
	if err != nil {
		return nil, nil, err
	}
	plan.recv = &receiver{out: cmd.OutOrStdout(), format: format, hide: f.hide, noRetained: f.noRetained,
		retainedOnly: f.retainedOnly, count: int64(f.count), stop: make(chan struct{})}
	return spec, plan, nil
}

// run subscribes and prints what arrives.
func (f *subFlags) run(cmd *cobra.Command, args []string) error {
	spec, plan, err := f.check(cmd, args)
	if err != nil {
		return usageError{err}
	}
	// The first Ctrl-C (or SIGTERM) ends the subscription; from then on a
	// second one kills the process the default way.
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	unwatch := context.AfterFunc(ctx, stop)
	defer unwatch()

	stderr := &lockedWriter{w: cmd.ErrOrStderr()}
	c, err := spec.dial(ctx, "sub", f.conn.debug, stderr, plan.recv.onPublish)
	if err != nil {
		return err
	}
	err = f.receive(ctx, c, plan, stderr)
	if err == nil && f.unsubscribe {
		err = unsubscribe(c, plan.subscribe, spec.props["unsubscribe"])
	}
	derr := c.Disconnect(&spec.disconnect)
	if err == nil {
		err = derr
	}
	return err
}

// receive subscribes and waits for the end: -C messages printed, -W
// passed, -E, Ctrl-C, or the connection lost.
func (f *subFlags) receive(ctx context.Context, c *mqttclient.Client, plan *subPlan, stderr io.Writer) error {
	// Start -W's clock before subscribing, so it also bounds that.
	var timeout <-chan time.Time
	if plan.wait > 0 {
		t := time.NewTimer(plan.wait)
		defer t.Stop()
		timeout = t.C
	}
	ack, err := c.Subscribe(ctx, plan.subscribe)
	if err != nil {
		if ctx.Err() != nil {
			return nil // interrupted
		}
		return fmt.Errorf("subscribe: %w", err)
	}
	refused := c.SubackErrors(plan.subscribe, ack)
	for _, e := range refused {
		fmt.Fprintf(stderr, "baram sub: %v\n", e)
	}
	if len(refused) == len(plan.subscribe.Subs) {
		if len(refused) == 1 {
			return errors.New("the subscription was refused")
		}
		return fmt.Errorf("all %d subscriptions were refused", len(refused))
	}
	if f.exitAfterSub {
		return nil
	}
	r := plan.recv
	select {
	case <-r.stop:
		return r.err
	case <-ctx.Done():
		return nil
	case <-timeout:
		if r.count > 0 {
			return fmt.Errorf("timed out after %v with %d of %d messages", plan.wait, r.printed.Load(), r.count)
		}
		return nil
	case <-c.Done():
		return fmt.Errorf("connection lost: %w", c.Err())
	}
}

// unsubscribe removes the subscriptions of s, waiting for the UNSUBACK.
func unsubscribe(c *mqttclient.Client, s *packet.Subscribe, props *packet.Properties) error {
	u := &packet.Unsubscribe{}
	for _, sub := range s.Subs {
		u.Filters = append(u.Filters, sub.Filter)
	}
	if props != nil {
		u.Props = *props
	}
	if _, err := c.Unsubscribe(context.Background(), u); err != nil {
		return fmt.Errorf("unsubscribe: %w", err)
	}
	return nil
}

// receiver prints the messages; its onPublish runs on the client's reader
// goroutine.
type receiver struct {
	out          io.Writer
	format       *subFormat
	hide         []string
	noRetained   bool
	retainedOnly bool
	count        int64 // -C; 0: no limit
	printed      atomic.Int64
	stopped      atomic.Bool
	stopOnce     sync.Once
	stop         chan struct{} // closed when sub should end
	err          error         // why, when it is a failure; written before stop closes
}

// onPublish prints p unless a flag hides it; it returns false (leaving
// the message unacknowledged) once sub is done.
func (r *receiver) onPublish(p *packet.Publish) bool {
	if r.stopped.Load() {
		return false
	}
	for _, h := range r.hide {
		if topic.Match(h, p.Topic) {
			return true
		}
	}
	if r.retainedOnly && !p.Retain {
		r.finish(nil)
		return false
	}
	if r.noRetained && p.Retain {
		return true
	}
	if _, err := r.out.Write(r.format.format(p)); err != nil {
		r.finish(fmt.Errorf("writing a message to standard output: %w", err))
		return false
	}
	if n := r.printed.Add(1); r.count > 0 && n >= r.count {
		r.finish(nil)
	}
	return true
}

// finish ends sub with err (nil: success).
func (r *receiver) finish(err error) {
	r.stopOnce.Do(func() {
		r.stopped.Store(true)
		r.err = err
		close(r.stop)
	})
}
