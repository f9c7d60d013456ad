package config

import (
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr string // substring
	}{
		{"0", 0, ""},
		{"0s", 0, ""},
		{"10s", 10 * time.Second, ""},
		{"1h30m", 90 * time.Minute, ""},
		{"250ms", 250 * time.Millisecond, ""},
		{"-5s", -5 * time.Second, ""}, // Validate rejects it with the key's rule
		{"10", 0, `bare number 10 has no unit; write "10s" for seconds`},
		{"00", 0, `bare number 00 has no unit`},
		{"1.5", 0, `"1.5": expected a duration`},
		{"ten seconds", 0, `"ten seconds": expected a duration`},
		{"", 0, `"": expected a duration`},
		{"10d", 0, `"10d": expected a duration`},
	}
	for _, tt := range tests {
		got, err := ParseDuration(tt.in)
		if tt.wantErr == "" {
			if err != nil || time.Duration(got) != tt.want {
				t.Errorf("ParseDuration(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		} else if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("ParseDuration(%q) = %v, %v; want error with %q", tt.in, got, err, tt.wantErr)
		}
	}
}

func TestDurationYAML(t *testing.T) {
	var v struct{ D Duration }
	for in, want := range map[string]time.Duration{"d: 0": 0, "d: 10s": 10 * time.Second, `d: "1m"`: time.Minute} {
		if err := yaml.Unmarshal([]byte(in), &v); err != nil || time.Duration(v.D) != want {
			t.Errorf("Unmarshal(%q) = %v, %v; want %v", in, v.D, err, want)
		}
	}
	for _, in := range []string{"d: 10", "d: 1.5", "d: true", "d: [1s]"} {
		if err := yaml.Unmarshal([]byte(in), &v); err == nil {
			t.Errorf("Unmarshal(%q) succeeded", in)
		}
	}
	out, err := yaml.Marshal(struct{ D Duration }{Duration(90 * time.Second)})
	if err != nil || string(out) != "d: 1m30s\n" {
		t.Errorf("Marshal = %q, %v", out, err)
	}
}
