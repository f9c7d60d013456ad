// Package browsertest holds baram's browser tests: they build the real
// binary, run "baram serve" with ws, wss and admin listeners, and drive
// Debian's headless Chromium (playwright-core, from js/) with MQTT.js in
// the page, as users of web applications meet baram. Go clients over TCP
// stand on the other side of each exchange.
//
// The package has only tests. They need node, /usr/bin/chromium and
// "npm ci" in js/; without them they skip, unless BARAM_REQUIRE_BROWSER=1,
// which makes a missing piece fail the test. The dashboard's full-page
// screenshot lands in testdata/output/ (not committed).
package browsertest
