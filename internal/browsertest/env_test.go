//go:build unix

package browsertest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// chromiumPath is Debian's Chromium (apt-get install chromium). The tests
// never download a browser.
const chromiumPath = "/usr/bin/chromium"

// requireEnv names the variable that turns a missing browser, node or
// node_modules from a skip into a failure (CI sets it).
const requireEnv = "BARAM_REQUIRE_BROWSER"

// prerequisites returns the node command and the absolute js/ directory,
// or skips the test (fails it under BARAM_REQUIRE_BROWSER=1) naming what
// is missing and how to get it.
func prerequisites(t *testing.T) (node, jsDir string) {
	t.Helper()
	var missing []string
	node, err := exec.LookPath("node")
	if err != nil {
		missing = append(missing, "node in PATH (Node 18 or newer)")
	}
	if _, err := os.Stat(chromiumPath); err != nil {
		missing = append(missing, chromiumPath+" (apt-get install chromium)")
	}
	jsDir, err = filepath.Abs("js")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"node_modules/playwright-core/package.json", "node_modules/mqtt/dist/mqtt.min.js"} {
		if _, err := os.Stat(filepath.Join(jsDir, f)); err != nil {
			missing = append(missing, "js/"+f+" (cd internal/browsertest/js && npm ci)")
			break
		}
	}
	if len(missing) == 0 {
		return node, jsDir
	}
	msg := "the browser tests need " + strings.Join(missing, ", ")
	if os.Getenv(requireEnv) == "1" {
		t.Fatalf("%s; %s=1 makes this a failure", msg, requireEnv)
	}
	t.Skipf("%s; skipping (set %s=1 to make this a failure)", msg, requireEnv)
	return "", ""
}
