package cli

import (
	"bytes"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/baram-mqtt/baram/internal/proctest"
)

// mosquitto_sub receives what baram pub sends, and baram sub what
// mosquitto_pub sends, in MQTT 3.1.1 and 5 (with a user property). The
// test is skipped without the mosquitto clients, unless
// BARAM_REQUIRE_INTEROP is set.
func TestPubSubInteropMosquitto(t *testing.T) {
	mosquittoSub := proctest.Tool(t, "mosquitto_sub", "mosquitto-clients")
	mosquittoPub := proctest.Tool(t, "mosquitto_pub", "mosquitto-clients")
	b := startPubsubBroker(t)
	for _, v := range []struct{ baram, mosquitto, format, want string }{
		{"311", "mqttv311", "%t %q %p", "interop/to-mosquitto/311 1 from baram pub\n"},
		{"5", "mqttv5", "%t %q %p %P", "interop/to-mosquitto/5 1 from baram pub k:v\n"},
	} {
		t.Run("baram pub to mosquitto_sub "+v.baram, func(t *testing.T) {
			topicName := "interop/to-mosquitto/" + v.baram
			var out, errOut bytes.Buffer
			cmd := exec.Command(mosquittoSub, "-h", b.host, "-p", b.port, "-V", v.mosquitto, "-t", topicName,
				"-q", "1", "-C", "1", "-W", "10", "-F", v.format)
			cmd.Stdout, cmd.Stderr = &out, &errOut
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			// Nothing says when mosquitto_sub has subscribed: publish until
			// it has received one message and exited.
			pubArgs := append(b.hostPort(), "-V", v.baram, "-q", "1", "-t", topicName, "-m", "from baram pub")
			if v.baram == "5" {
				pubArgs = append(pubArgs, "-D", "publish", "user-property", "k", "v")
			}
			deadline := time.After(pubsubWait)
			for done := false; !done; {
				pub(t, pubArgs...)
				select {
				case err := <-exited:
					if err != nil {
						t.Fatalf("mosquitto_sub: %v\n%s", err, &errOut)
					}
					done = true
				case <-time.After(100 * time.Millisecond):
				case <-deadline:
					_ = cmd.Process.Kill()
					<-exited
					t.Fatalf("mosquitto_sub received nothing in %v: %q %q", pubsubWait, &out, &errOut)
				}
			}
			if got := out.String(); got != v.want {
				t.Errorf("mosquitto_sub printed %q, want %q", got, v.want)
			}
		})
		t.Run("mosquitto_pub to baram sub "+v.baram, func(t *testing.T) {
			topicName := "interop/from-mosquitto/" + v.baram
			sub := startSub(t, append(b.hostPort(), "-V", v.baram, "-q", "2", "-t", topicName, "-C", "1", "-F", "json")...)
			args := []string{"-h", b.host, "-p", b.port, "-V", v.mosquitto, "-t", topicName, "-q", "2", "-m", "from mosquitto_pub"}
			if v.baram == "5" {
				args = append(args, "-D", "publish", "user-property", "k", "v")
			}
			if out, err := exec.Command(mosquittoPub, args...).CombinedOutput(); err != nil {
				t.Fatalf("mosquitto_pub: %v\n%s", err, out)
			}
			if code := sub.wait(t); code != ExitOK {
				t.Fatalf("sub = %d:\n%s", code, sub.stderr)
			}
			var m jsonMessage
			if err := json.Unmarshal([]byte(sub.stdout.String()), &m); err != nil {
				t.Fatalf("%v: %q", err, sub.stdout)
			}
			if m.Topic != topicName || m.QoS != 2 || m.Payload == nil || *m.Payload != "from mosquitto_pub" ||
				v.baram == "5" && (len(m.UserProperties) != 1 || m.UserProperties[0] != jsonUserProp{Key: "k", Value: "v"}) {
				t.Errorf("sub printed %s", sub.stdout)
			}
		})
	}
}

// baram pub and sub work against another broker: Mosquitto, at QoS 0, 1
// and 2, in MQTT 3.1.1 and 5, with a persistent session.
func TestPubSubAgainstMosquitto(t *testing.T) {
	bin := proctest.Tool(t, "mosquitto", "mosquitto")
	dir := t.TempDir()
	addr := proctest.FreeAddr(t)
	host, port, _ := net.SplitHostPort(addr)
	conf := filepath.Join(dir, "mosquitto.conf")
	if err := os.WriteFile(conf, []byte("listener "+port+" "+host+"\nallow_anonymous true\npersistence false\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	logFile, err := os.Create(filepath.Join(dir, "mosquitto.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	cmd := exec.Command(bin, "-c", conf)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	p, err := proctest.Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := p.Stop(5*time.Second, 5*time.Second); err != nil {
			t.Errorf("mosquitto: %v", err)
		}
	}()
	if err := p.WaitListening(pubsubWait, addr); err != nil {
		t.Fatalf("mosquitto: %v\n%s", err, proctest.Tail(logFile.Name(), 0, 4096))
	}
	hp := []string{"-h", host, "-p", port}
	for _, v := range []string{"311", "5"} {
		sub := startSub(t, append(hp, "-V", v, "-q", "2", "-t", "m/#", "-C", "3", "-F", "%q %t %p")...)
		for _, qos := range []string{"0", "1", "2"} {
			pub(t, append(hp, "-V", v, "-q", qos, "-t", "m/"+v, "-m", "at qos "+qos)...)
		}
		if code := sub.wait(t); code != ExitOK {
			t.Fatalf("-V %s: sub = %d:\n%s", v, code, sub.stderr)
		}
		want := []string{"0 m/" + v + " at qos 0", "1 m/" + v + " at qos 1", "2 m/" + v + " at qos 2"}
		if got := sortedLines(sub.stdout.String()); !slices.Equal(got, want) {
			t.Errorf("-V %s: sub printed %q, want %q", v, got, want)
		}

		args := append(hp, "-V", v, "-c", "-i", "baram-persist-"+v, "-q", "2", "-t", "mp/"+v)
		if code, _, errOut := run(t, append(append([]string{"sub"}, args...), "-E")...); code != ExitOK {
			t.Fatalf("-V %s: sub -E = %d, %q", v, code, errOut)
		}
		pub(t, append(hp, "-V", v, "-q", "2", "-t", "mp/"+v, "-m", "queued")...)
		if code, out, errOut := run(t, append(append([]string{"sub"}, args...), "-C", "1", "-W", "5")...); code != ExitOK || out != "queued\n" {
			t.Errorf("-V %s: persistent sub = %d, %q, %q", v, code, out, errOut)
		}
	}
}
