package interop

import (
	"bufio"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/baram-mqtt/baram/internal/broker"
	"github.com/baram-mqtt/baram/internal/brokertest"
	"github.com/baram-mqtt/baram/internal/proctest"
)

var versions = []string{"mqttv31", "mqttv311", "mqttv5"}

// sub runs mosquitto_sub and returns once its SUBACK arrived; lines
// yields its output lines ("topic payload" with -v).
type sub struct {
	cmd   *exec.Cmd
	lines chan string
}

func startSub(t *testing.T, port string, args ...string) *sub {
	t.Helper()
	bin := proctest.Tool(t, "mosquitto_sub", "mosquitto-clients")
	stdbuf, err := exec.LookPath("stdbuf")
	if err != nil {
		t.Fatal("stdbuf (coreutils) is needed to read mosquitto_sub line by line")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	// stdbuf: mosquitto_sub's stdout is block-buffered on a pipe.
	all := append([]string{"-oL", bin, "-h", "127.0.0.1", "-p", port, "-d", "-v"}, args...)
	cmd := exec.CommandContext(ctx, stdbuf, all...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); cmd.Wait() })
	s := &sub{cmd: cmd, lines: make(chan string, 100)}
	subacked := make(chan struct{})
	go func() {
		defer close(s.lines)
		sc := bufio.NewScanner(out)
		acked := false
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.Contains(line, "received SUBACK"):
				if !acked {
					close(subacked)
					acked = true
				}
			case strings.HasPrefix(line, "Client "), strings.HasPrefix(line, "Subscribed "):
			default:
				s.lines <- line
			}
		}
	}()
	select {
	case <-subacked:
	case <-time.After(10 * time.Second):
		t.Fatal("mosquitto_sub got no SUBACK")
	}
	return s
}

func (s *sub) expect(t *testing.T, want string) {
	t.Helper()
	select {
	case got, ok := <-s.lines:
		if !ok {
			t.Fatalf("mosquitto_sub ended before %q", want)
		}
		if got != want {
			t.Fatalf("mosquitto_sub printed %q, want %q", got, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("mosquitto_sub did not print %q", want)
	}
}

func pub(t *testing.T, port string, args ...string) {
	t.Helper()
	bin := proctest.Tool(t, "mosquitto_pub", "mosquitto-clients")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	all := append([]string{"-h", "127.0.0.1", "-p", port}, args...)
	if out, err := exec.CommandContext(ctx, bin, all...).CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_pub %v: %v\n%s", args, err, out)
	}
}

func start(t *testing.T) string {
	_, addr := brokertest.Start(t, broker.Options{})
	return addr[strings.LastIndexByte(addr, ':')+1:]
}

// TestMosquittoClientsEveryVersionPair publishes with each protocol
// version to a subscriber of each version, at every QoS.
func TestMosquittoClientsEveryVersionPair(t *testing.T) {
	port := start(t)
	for _, sv := range versions {
		s := startSub(t, port, "-V", sv, "-q", "2", "-t", "interop/"+sv+"/#")
		for _, pv := range versions {
			for qos := 0; qos <= 2; qos++ {
				topic := fmt.Sprintf("interop/%s/%s/q%d", sv, pv, qos)
				pub(t, port, "-V", pv, "-q", fmt.Sprint(qos), "-t", topic, "-m", "from "+pv)
				s.expect(t, topic+" from "+pv)
			}
		}
	}
}

// TestMosquittoRetained sets a retained message with mosquitto_pub and
// reads it with a later mosquitto_sub of each version.
func TestMosquittoRetained(t *testing.T) {
	port := start(t)
	pub(t, port, "-V", "mqttv311", "-q", "1", "-r", "-t", "interop/retained", "-m", "kept")
	for _, v := range versions {
		s := startSub(t, port, "-V", v, "-t", "interop/+")
		s.expect(t, "interop/retained kept")
	}
}

// TestMosquittoUserProperties checks v5 user properties survive the trip.
func TestMosquittoUserProperties(t *testing.T) {
	port := start(t)
	s := startSub(t, port, "-V", "mqttv5", "-t", "interop/props", "-F", "%t %P %p")
	pub(t, port, "-V", "mqttv5", "-t", "interop/props", "-m", "x",
		"-D", "publish", "user-property", "k", "v")
	s.expect(t, "interop/props k:v x")
}

// TestMosquittoWill checks a mosquitto_sub will fires when it is killed.
func TestMosquittoWill(t *testing.T) {
	port := start(t)
	watcher := startSub(t, port, "-V", "mqttv311", "-t", "interop/will")
	victim := startSub(t, port, "-V", "mqttv5", "-t", "nothing",
		"--will-topic", "interop/will", "--will-payload", "gone")
	if err := victim.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	watcher.expect(t, "interop/will gone")
}
