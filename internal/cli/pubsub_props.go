package cli

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/baram-mqtt/baram/internal/packet"
	"github.com/baram-mqtt/baram/internal/topic"
)

// propSet holds the MQTT 5 properties of -D, by command (connect,
// publish, subscribe, unsubscribe, will, disconnect).
type propSet map[string]*packet.Properties

// propKind is how a property's value is written on the command line.
type propKind byte

const (
	kindByte   propKind = iota // 0..255
	kindU16                    // 0..65535
	kindU32                    // 0..4294967295
	kindVarint                 // 1..268435455
	kindString                 // UTF-8
	kindBinary                 // bytes, given as text
	kindPair                   // user property: key and value
)

// propDefs are the properties -D takes, with mosquitto's names and the
// commands each belongs to.
var propDefs = map[string]struct {
	id   packet.PropID
	kind propKind
	cmds []string
}{
	"payload-format-indicator":     {packet.PropPayloadFormat, kindByte, []string{"publish", "will"}},
	"message-expiry-interval":      {packet.PropMessageExpiry, kindU32, []string{"publish", "will"}},
	"content-type":                 {packet.PropContentType, kindString, []string{"publish", "will"}},
	"response-topic":               {packet.PropResponseTopic, kindString, []string{"publish", "will"}},
	"correlation-data":             {packet.PropCorrelationData, kindBinary, []string{"publish", "will"}},
	"subscription-identifier":      {packet.PropSubscriptionID, kindVarint, []string{"subscribe"}},
	"session-expiry-interval":      {packet.PropSessionExpiry, kindU32, []string{"connect", "disconnect"}},
	"request-problem-information":  {packet.PropRequestProblemInfo, kindByte, []string{"connect"}},
	"request-response-information": {packet.PropRequestResponseInfo, kindByte, []string{"connect"}},
	"receive-maximum":              {packet.PropReceiveMaximum, kindU16, []string{"connect"}},
	"maximum-packet-size":          {packet.PropMaximumPacketSize, kindU32, []string{"connect"}},
	"will-delay-interval":          {packet.PropWillDelay, kindU32, []string{"will"}},
	"user-property":                {packet.PropUserProperty, kindPair, []string{"connect", "publish", "subscribe", "unsubscribe", "will", "disconnect"}},
}

// propHelp is the -D part of pub's and sub's help.
const propHelp = `MQTT 5 properties (-V 5) are given as mosquitto gives them, each -D
followed by a command, an identifier and a value, or a key and a value
for user-property:
  -D publish user-property KEY VALUE      (connect, publish, subscribe,
                                           unsubscribe, will, disconnect)
  -D publish content-type TYPE            (publish, will)
  -D publish message-expiry-interval SECONDS
  -D publish response-topic TOPIC
  -D publish correlation-data DATA
  -D publish payload-format-indicator 0|1
  -D will will-delay-interval SECONDS
  -D connect session-expiry-interval SECONDS   (also disconnect)
  -D connect receive-maximum N, maximum-packet-size BYTES,
             request-problem-information 0|1, request-response-information 0|1
  -D subscribe subscription-identifier N`

// parseProps reads the -D flags: each names a command, and the
// identifier and value(s) follow it as positional arguments (pflag sets
// them aside in order). args must be used up exactly. cmds are the
// commands the caller takes.
func parseProps(defs, args []string, version byte, cmds []string) (propSet, error) {
	if len(defs) > 0 && version != packet.V5 {
		return nil, errors.New("-D (--property) needs MQTT 5: add -V 5")
	}
	set := propSet{}
	i := 0
	for _, cmd := range defs {
		cmd = strings.ToLower(cmd)
		if !slices.Contains(cmds, cmd) {
			return nil, fmt.Errorf("-D %s: not a command here; want one of %s", cmd, strings.Join(cmds, ", "))
		}
		if i >= len(args) {
			return nil, fmt.Errorf("-D %s: missing the property identifier and value", cmd)
		}
		name := strings.ToLower(args[i])
		def, ok := propDefs[name]
		if !ok {
			return nil, fmt.Errorf("-D %s %s: unknown or unsupported property", cmd, args[i])
		}
		if !slices.Contains(def.cmds, cmd) {
			return nil, fmt.Errorf("-D %s %s: %s goes with %s", cmd, name, name, strings.Join(def.cmds, ", "))
		}
		n := 1
		if def.kind == kindPair {
			n = 2
		}
		if i+1+n > len(args) {
			return nil, fmt.Errorf("-D %s %s: missing its value", cmd, name)
		}
		vals := args[i+1 : i+1+n]
		i += 1 + n
		p := set[cmd]
		if p == nil {
			p = new(packet.Properties)
			set[cmd] = p
		}
		if err := setProp(p, def.id, def.kind, vals); err != nil {
			return nil, fmt.Errorf("-D %s %s %s: %w", cmd, name, strings.Join(vals, " "), err)
		}
	}
	if i < len(args) {
		return nil, fmt.Errorf("unexpected argument %q: only -D takes more than one value (COMMAND IDENTIFIER VALUE); quote a value with spaces", args[i])
	}
	return set, nil
}

// setProp sets property id of p from its command-line value(s).
func setProp(p *packet.Properties, id packet.PropID, kind propKind, vals []string) error {
	if p.Has(id) && kind != kindPair {
		return errors.New("given twice")
	}
	var n uint64
	var err error
	switch kind {
	case kindByte:
		n, err = strconv.ParseUint(vals[0], 10, 8)
	case kindU16:
		n, err = strconv.ParseUint(vals[0], 10, 16)
	case kindU32:
		n, err = strconv.ParseUint(vals[0], 10, 32)
	case kindVarint:
		n, err = strconv.ParseUint(vals[0], 10, 32)
		if err == nil && (n == 0 || n > packet.MaxRemainingLength) {
			err = errors.New("out of range")
		}
	}
	if err != nil {
		return fmt.Errorf("not a number in range: %w", err)
	}
	p.Set(id)
	switch id {
	case packet.PropPayloadFormat:
		if n > 1 {
			return errors.New("want 0 (bytes) or 1 (UTF-8)")
		}
		p.PayloadFormat = byte(n)
	case packet.PropRequestProblemInfo, packet.PropRequestResponseInfo:
		if n > 1 {
			return errors.New("want 0 or 1")
		}
		if id == packet.PropRequestProblemInfo {
			p.RequestProblemInfo = byte(n)
		} else {
			p.RequestResponseInfo = byte(n)
		}
	case packet.PropReceiveMaximum:
		if n == 0 {
			return errors.New("want 1..65535")
		}
		p.ReceiveMaximum = uint16(n)
	case packet.PropMessageExpiry:
		p.MessageExpiry = uint32(n)
	case packet.PropSessionExpiry:
		p.SessionExpiry = uint32(n)
	case packet.PropMaximumPacketSize:
		if n == 0 {
			return errors.New("want 1..4294967295")
		}
		p.MaximumPacketSize = uint32(min(n, math.MaxUint32))
	case packet.PropWillDelay:
		p.WillDelay = uint32(n)
	case packet.PropSubscriptionID:
		p.SubscriptionIDs = []uint32{uint32(n)}
	case packet.PropContentType:
		p.ContentType = vals[0]
	case packet.PropResponseTopic:
		if err := topic.ValidName(vals[0]); err != nil {
			return err
		}
		p.ResponseTopic = vals[0]
	case packet.PropCorrelationData:
		p.CorrelationData = []byte(vals[0])
	case packet.PropUserProperty:
		p.User = append(p.User, packet.UserProperty{Key: vals[0], Value: vals[1]})
	}
	return nil
}
