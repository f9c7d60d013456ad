package baram_test

import (
	"context"
	"testing"
	"time"

	"github.com/baram-mqtt/baram"
)

// A broker embedded with a DataDir keeps retained messages across a
// restart of the program.
func TestDataDirSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	b, err := baram.New(baram.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Publish("state/door", []byte("open"), 1, true); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(context.Background()); err != nil {
		t.Fatal(err)
	}

	b, err = baram.New(baram.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close(context.Background())
	got := make(chan baram.Message, 1)
	unsubscribe, err := b.Subscribe("state/#", func(m baram.Message) { got <- m })
	if err != nil {
		t.Fatal(err)
	}
	defer unsubscribe()
	select {
	case m := <-got:
		if m.Topic != "state/door" || string(m.Payload) != "open" || !m.Retained {
			t.Fatalf("got %+v", m)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("retained message lost across the restart")
	}
}

// Close ends in-process subscriptions that were never unsubscribed (the
// leak check in TestMain fails otherwise).
func TestCloseEndsSubscriptions(t *testing.T) {
	b, err := baram.New(baram.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Subscribe("x/#", func(baram.Message) {}); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}
