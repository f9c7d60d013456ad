package config

import (
	"log/slog"
	"reflect"
	"testing"
	"time"

	"github.com/baram-mqtt/baram/internal/broker"
	"github.com/baram-mqtt/baram/internal/store/open"
)

func TestEffectiveListeners(t *testing.T) {
	c := Default()
	ls, def := c.EffectiveListeners()
	if !def || !reflect.DeepEqual(ls, DefaultListeners()) {
		t.Errorf("Default().EffectiveListeners() = %v, %v; want the defaults", ls, def)
	}
	want := []Listener{{Protocol: "mqtt", Address: ":1883"}}
	c.Listeners = want
	ls, def = c.EffectiveListeners()
	if def || !reflect.DeepEqual(ls, want) {
		t.Errorf("EffectiveListeners() = %v, %v; want %v, false", ls, def, want)
	}
}

func TestAnonymousAllowed(t *testing.T) {
	yes, no := true, false
	tests := []struct {
		name      string
		listeners []string
		allow     *bool
		want      bool
	}{
		{"default listeners", nil, nil, true},
		{"loopback only", []string{"127.0.0.1:1", "[::1]:2", "localhost:3"}, nil, true},
		{"one public", []string{"127.0.0.1:1", "0.0.0.0:2"}, nil, false},
		{"all interfaces", []string{":1883"}, nil, false},
		{"host name", []string{"broker.example.com:1883"}, nil, false},
		{"explicitly allowed on public", []string{"0.0.0.0:1883"}, &yes, true},
		{"explicitly refused on loopback", []string{"127.0.0.1:1883"}, &no, false},
		{"explicitly refused on default", nil, &no, false},
	}
	for _, tt := range tests {
		c := Default()
		for _, a := range tt.listeners {
			c.Listeners = append(c.Listeners, Listener{Protocol: ProtocolMQTT, Address: a})
		}
		c.Auth.AllowAnonymous = tt.allow
		if got := c.AnonymousAllowed(); got != tt.want {
			t.Errorf("%s: AnonymousAllowed() = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestBrokerOptions(t *testing.T) {
	logger := slog.New(slog.DiscardHandler)
	c := Default()
	got := c.BrokerOptions(logger)
	want := broker.Options{
		Logger:            logger,
		AllowAnonymous:    true,
		MaxPacketSize:     1 << 20,
		MaxInflight:       32,
		MaxQueuedMessages: 1000,
		KeepAliveMax:      65535,
		ConnectTimeout:    10 * time.Second,
		MaxTopicAlias:     64,
		Sync:              broker.SyncAlways,
		SyncInterval:      100 * time.Millisecond,
		FlapCount:         30,
		FlapWindow:        10 * time.Second,
		FlapBan:           time.Minute,
		AuthFailures:      10,
		AuthFailureWindow: time.Minute,
		AuthBackoff:       30 * time.Second,
		AuthBackoffMax:    10 * time.Minute,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Default().BrokerOptions:\n got %+v\nwant %+v", got, want)
	}

	c, err := Load("testdata/baram.yaml")
	if err != nil {
		t.Fatal(err)
	}
	got = c.BrokerOptions(logger)
	want = broker.Options{
		Logger:            logger,
		AllowAnonymous:    false,
		MaxPacketSize:     256 << 10,
		MaxConnections:    10000,
		MaxInflight:       64,
		MaxQueuedMessages: 5000,
		MaxQueuedBytes:    64 << 20,
		QueueQoS0:         true,
		KeepAliveMax:      600,
		ConnectTimeout:    5 * time.Second,
		SessionExpiry:     168 * time.Hour,
		MaxTopicAlias:     16,
		Sync:              broker.SyncBatch,
		SyncInterval:      250 * time.Millisecond,
		ConnectRatePerIP:  5,
		ConnectBurstPerIP: 10,
		PublishRate:       1000,
		PublishBytesRate:  1 << 20,
		FlapCount:         20,
		FlapWindow:        30 * time.Second,
		FlapBan:           5 * time.Minute,
		AuthFailures:      5,
		AuthFailureWindow: 2 * time.Minute,
		AuthBackoff:       time.Minute,
		AuthBackoffMax:    time.Hour,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("BrokerOptions of testdata/baram.yaml:\n got %+v\nwant %+v", got, want)
	}
}

func TestBrokerOptionsMatchBrokerDefaults(t *testing.T) {
	// The config defaults are documented as the broker's; keep them equal.
	c := Default()
	got, d := c.BrokerOptions(nil), broker.Defaults
	if got.MaxPacketSize != d.MaxPacketSize || got.MaxInflight != d.MaxInflight ||
		got.MaxQueuedMessages != d.MaxQueuedMessages || got.KeepAliveMax != d.KeepAliveMax ||
		got.ConnectTimeout != d.ConnectTimeout || got.MaxTopicAlias != d.MaxTopicAlias {
		t.Errorf("config defaults %+v differ from broker.Defaults %+v", got, d)
	}
}

func TestStoreSyncMode(t *testing.T) {
	for in, want := range map[string]broker.SyncMode{
		"always": broker.SyncAlways, "batch": broker.SyncBatch, "none": broker.SyncNone,
	} {
		if got, err := (Store{Sync: in}).SyncMode(); err != nil || got != want {
			t.Errorf("SyncMode(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := (Store{Sync: "Always"}).SyncMode(); err == nil {
		t.Error(`SyncMode("Always") succeeded`)
	}
}

func TestStoreTypesAreOpens(t *testing.T) {
	// Validate accepts exactly the engines that open.Open does.
	if StoreAuto != open.Auto || StorePebble != open.Pebble || StoreBolt != open.Bolt || StoreMemory != open.Memory {
		t.Error("config's store types differ from package open's")
	}
}

func TestLogSlogLevel(t *testing.T) {
	for in, want := range map[string]slog.Level{
		"debug": slog.LevelDebug, "info": slog.LevelInfo, "Warn": slog.LevelWarn, "ERROR": slog.LevelError,
	} {
		if got, err := (Log{Level: in}).SlogLevel(); err != nil || got != want {
			t.Errorf("SlogLevel(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := (Log{Level: "warning"}).SlogLevel(); err == nil {
		t.Error(`SlogLevel("warning") succeeded`)
	}
}
