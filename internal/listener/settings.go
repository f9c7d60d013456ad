package listener

import (
	"crypto/tls"
	"fmt"
	"strings"
)

// parseMinVersion maps a min_version setting to a crypto/tls version.
func parseMinVersion(s string) (uint16, error) {
	switch s {
	case "", "1.2":
		return tls.VersionTLS12, nil
	case "1.3":
		return tls.VersionTLS13, nil
	}
	return 0, fmt.Errorf("tls: unknown min_version %q (want 1.2 or 1.3)", s)
}

// parseCipherSuites maps cipher suite names to crypto/tls ids. Unknown,
// insecure and TLS 1.3 names are errors that list them all, and so is
// any name when minVersion is TLS 1.3, where they would have no effect.
func parseCipherSuites(names []string, minVersion uint16) ([]uint16, error) {
	if len(names) == 0 {
		return nil, nil
	}
	if minVersion >= tls.VersionTLS13 {
		return nil, fmt.Errorf("tls: cipher_suites apply to TLS 1.2 only and min_version is 1.3")
	}
	secure := make(map[string]*tls.CipherSuite)
	for _, cs := range tls.CipherSuites() {
		secure[cs.Name] = cs
	}
	insecure := make(map[string]bool)
	for _, cs := range tls.InsecureCipherSuites() {
		insecure[cs.Name] = true
	}
	var ids []uint16
	var unknown, weak, only13 []string
	for _, name := range names {
		cs, ok := secure[name]
		switch {
		case insecure[name]:
			weak = append(weak, name)
		case !ok:
			unknown = append(unknown, name)
		case !supports12(cs):
			only13 = append(only13, name)
		default:
			ids = append(ids, cs.ID)
		}
	}
	var msgs []string
	if len(unknown) > 0 {
		msgs = append(msgs, "unknown cipher suites: "+strings.Join(unknown, ", "))
	}
	if len(weak) > 0 {
		msgs = append(msgs, "insecure cipher suites: "+strings.Join(weak, ", "))
	}
	if len(only13) > 0 {
		msgs = append(msgs, "TLS 1.3 cipher suites are not configurable: "+strings.Join(only13, ", "))
	}
	if len(msgs) > 0 {
		return nil, fmt.Errorf("tls: %s", strings.Join(msgs, "; "))
	}
	return ids, nil
}

// supports12 reports whether cs can be used with TLS 1.2.
func supports12(cs *tls.CipherSuite) bool {
	for _, v := range cs.SupportedVersions {
		if v == tls.VersionTLS12 {
			return true
		}
	}
	return false
}
