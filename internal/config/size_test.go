package config

import (
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		in      string
		want    Size
		wantErr string // substring
	}{
		{"0", 0, ""},
		{"65536", 65536, ""},
		{"100B", 100, ""},
		{"64KiB", 64 << 10, ""},
		{"64 KiB", 64 << 10, ""},
		{"64kib", 64 << 10, ""},
		{"2KB", 2000, ""},
		{"1MiB", 1 << 20, ""},
		{"3MB", 3000000, ""},
		{"2GiB", 2 << 30, ""},
		{"5GB", 5000000000, ""},
		{"8589934591GiB", 8589934591 << 30, ""},
		{"8589934592GiB", 0, "too large"},
		{"9223372036854775807", 9223372036854775807, ""},
		{"9223372036854775808", 0, "too large"},
		{"99999999999999999999999", 0, "too large"},
		{"-1", 0, "cannot be negative"},
		{"-1KiB", 0, "cannot be negative"},
		{"", 0, "expected a size"},
		{"KiB", 0, "expected a size"},
		{"lots", 0, "expected a size"},
		{"1.5MiB", 0, "whole number"},
		{"10TB", 0, `unknown unit "TB"`},
		{"10 k", 0, `unknown unit "k"`},
		{"0x100", 0, `unknown unit "x100"`},
	}
	for _, tt := range tests {
		got, err := ParseSize(tt.in)
		if tt.wantErr == "" {
			if err != nil || got != tt.want {
				t.Errorf("ParseSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
			}
		} else if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("ParseSize(%q) = %d, %v; want error with %q", tt.in, got, err, tt.wantErr)
		}
	}
}

func TestSizeString(t *testing.T) {
	for s, want := range map[Size]string{
		0: "0B", 1: "1B", 1000: "1000B", 1024: "1KiB", 1536: "1536B",
		1 << 20: "1MiB", 3 << 30: "3GiB", 1<<30 + 1<<20: "1025MiB", MaxPacketSizeLimit: "268435455B",
	} {
		if got := s.String(); got != want {
			t.Errorf("Size(%d).String() = %q, want %q", int64(s), got, want)
		}
		if back, err := ParseSize(want); err != nil || back != s {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", want, back, err, int64(s))
		}
	}
}

func TestSizeYAML(t *testing.T) {
	var v struct{ S Size }
	for in, want := range map[string]Size{"s: 65536": 65536, "s: 64KiB": 64 << 10, `s: "1MiB"`: 1 << 20} {
		if err := yaml.Unmarshal([]byte(in), &v); err != nil || v.S != want {
			t.Errorf("Unmarshal(%q) = %d, %v; want %d", in, v.S, err, want)
		}
	}
	for _, in := range []string{"s: 1.5", "s: true", "s: [1]", "s: {a: 1}"} {
		if err := yaml.Unmarshal([]byte(in), &v); err == nil {
			t.Errorf("Unmarshal(%q) succeeded", in)
		}
	}
	out, err := yaml.Marshal(struct{ S Size }{64 << 10})
	if err != nil || string(out) != "s: 64KiB\n" {
		t.Errorf("Marshal = %q, %v", out, err)
	}
}
