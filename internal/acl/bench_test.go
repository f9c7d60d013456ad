package acl

import (
	"fmt"
	"strings"
	"testing"
)

// benchACL builds an ACL of 1,000 users with 10 rules each, plus the usual
// patterns, and clients and topics to check against it.
func benchACL(b *testing.B) (*ACL, []Client, []string) {
	var sb strings.Builder
	sb.WriteString("topic read public/#\n")
	for u := range 1000 {
		fmt.Fprintf(&sb, "user user%d\n", u)
		fmt.Fprintf(&sb, "topic readwrite tenant/%d/devices/+/telemetry\n", u)
		fmt.Fprintf(&sb, "topic read tenant/%d/config/#\n", u)
		fmt.Fprintf(&sb, "topic write tenant/%d/commands/+\n", u)
		fmt.Fprintf(&sb, "topic deny tenant/%d/config/secret\n", u)
		fmt.Fprintf(&sb, "topic read fleet/+/status\n")
		fmt.Fprintf(&sb, "topic read alerts/%d/#\n", u%50)
		fmt.Fprintf(&sb, "topic readwrite chat/room%d\n", u%10)
		fmt.Fprintf(&sb, "topic read $SYS/broker/clients/+\n")
		fmt.Fprintf(&sb, "topic write logs/%d/+/+\n", u)
		fmt.Fprintf(&sb, "topic readwrite scratch/user%d/#\n", u)
	}
	sb.WriteString("pattern readwrite users/%u/#\npattern deny users/%u/locked\npattern write devices/%c/state\n")
	a, err := Parse(strings.NewReader(sb.String()), "bench.acl")
	if err != nil {
		b.Fatal(err)
	}
	var clients []Client
	var topics []string
	for u := range 1000 {
		clients = append(clients, Client{Username: fmt.Sprintf("user%d", u), HasUsername: true, ClientID: fmt.Sprintf("dev-%d", u)})
		topics = append(topics,
			fmt.Sprintf("tenant/%d/devices/d%d/telemetry", u, u), // allowed by rule 1
			fmt.Sprintf("scratch/user%d/a/b", u),                 // allowed by rule 10
			fmt.Sprintf("users/user%d/inbox", u),                 // allowed by a pattern
			fmt.Sprintf("tenant/%d/config/secret", u),            // denied by a deny rule
			fmt.Sprintf("tenant/%d/other/thing", (u+1)%1000),     // denied: no rule
		)
	}
	return a, clients, topics
}

// BenchmarkCanReceive is the per-delivery check: 1,000 users x 10 rules.
func BenchmarkCanReceive(b *testing.B) {
	a, clients, topics := benchACL(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		c := clients[i%len(clients)]
		a.CanReceive(c, topics[(i%len(clients))*5+i%5])
	}
}

// BenchmarkCanPublish checks publishes over the same rules.
func BenchmarkCanPublish(b *testing.B) {
	a, clients, topics := benchACL(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		c := clients[i%len(clients)]
		a.CanPublish(c, topics[(i%len(clients))*5+i%5])
	}
}

// BenchmarkCanSubscribe checks wildcard and shared filters.
func BenchmarkCanSubscribe(b *testing.B) {
	a, clients, _ := benchACL(b)
	filters := make([]string, len(clients))
	for u := range clients {
		filters[u] = fmt.Sprintf("$share/g/tenant/%d/config/+", u)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		u := i % len(clients)
		a.CanSubscribe(clients[u], filters[u])
	}
}

// BenchmarkParse measures loading the 10,000-rule file.
func BenchmarkParse(b *testing.B) {
	for b.Loop() {
		benchACL(b)
	}
}
