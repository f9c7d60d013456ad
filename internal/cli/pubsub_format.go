package cli

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/baram-mqtt/baram/internal/packet"
)

// Output formats of baram sub (-F).
const (
	formatPayload = "payload" // the payload alone
	formatTopic   = "topic"   // "TOPIC PAYLOAD", as -v
	formatJSON    = "json"    // one JSON object per message
)

// subFormat turns a received message into its line of output.
type subFormat struct {
	kind   string // formatPayload, formatTopic, formatJSON, or "" for template
	tmpl   string // a mosquitto_sub -F template with % and \ escapes
	eol    bool   // end each message with a newline
	now    func() time.Time
	buffer []byte
}

// newSubFormat reads -F, -v and -N.
func newSubFormat(format string, verbose, noEOL bool) (*subFormat, error) {
	f := &subFormat{kind: formatPayload, eol: !noEOL, now: time.Now}
	switch {
	case format == "" && verbose:
		f.kind = formatTopic
	case format == "", format == formatPayload, format == formatTopic, format == formatJSON:
		if format != "" {
			f.kind = format
		}
	case strings.ContainsAny(format, `%\`):
		f.kind, f.tmpl = "", format
	default:
		return nil, errors.New("--format " + strconv.Quote(format) + ": want payload, topic, json, or a template with % escapes such as '%t %p'")
	}
	return f, nil
}

// format returns the output for p; it is valid until the next call.
func (f *subFormat) format(p *packet.Publish) []byte {
	b := f.buffer[:0]
	switch f.kind {
	case formatPayload:
		b = append(b, p.Payload...)
	case formatTopic:
		b = append(b, p.Topic...)
		b = append(b, ' ')
		b = append(b, p.Payload...)
	case formatJSON:
		b = appendJSON(b, p)
	default:
		b = f.appendTemplate(b, p)
	}
	if f.eol {
		b = append(b, '\n')
	}
	if cap(b) <= 64<<10 {
		f.buffer = b
	}
	return b
}

// jsonMessage is a message as -F json prints it.
type jsonMessage struct {
	Topic                 string         `json:"topic"`
	QoS                   byte           `json:"qos"`
	Retain                bool           `json:"retain"`
	Payload               *string        `json:"payload,omitempty"`
	PayloadBase64         []byte         `json:"payload_base64,omitempty"`
	ContentType           string         `json:"content_type,omitempty"`
	PayloadFormat         *byte          `json:"payload_format_indicator,omitempty"`
	MessageExpiry         *uint32        `json:"message_expiry_interval,omitempty"`
	ResponseTopic         string         `json:"response_topic,omitempty"`
	CorrelationData       *string        `json:"correlation_data,omitempty"`
	CorrelationDataBase64 []byte         `json:"correlation_data_base64,omitempty"`
	UserProperties        []jsonUserProp `json:"user_properties,omitempty"`
}

// jsonUserProp is one MQTT 5 user property; a list keeps their order
// and duplicates.
type jsonUserProp struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// appendJSON appends p as one JSON object: the payload as text when it is
// valid UTF-8, else as payload_base64, and the MQTT 5 properties a reader
// of messages cares about.
func appendJSON(b []byte, p *packet.Publish) []byte {
	m := jsonMessage{Topic: p.Topic, QoS: p.QoS, Retain: p.Retain}
	m.Payload, m.PayloadBase64 = textOrBase64(p.Payload)
	props := &p.Props
	m.ContentType, m.ResponseTopic = props.ContentType, props.ResponseTopic
	if props.Has(packet.PropPayloadFormat) {
		m.PayloadFormat = &props.PayloadFormat
	}
	if props.Has(packet.PropMessageExpiry) {
		m.MessageExpiry = &props.MessageExpiry
	}
	if props.Has(packet.PropCorrelationData) {
		m.CorrelationData, m.CorrelationDataBase64 = textOrBase64(props.CorrelationData)
	}
	for _, u := range props.User {
		m.UserProperties = append(m.UserProperties, jsonUserProp(u))
	}
	out, err := json.Marshal(m)
	if err != nil { // cannot happen: every field marshals
		return append(b, `{"error":"json"}`...)
	}
	return append(b, out...)
}

// textOrBase64 returns data as text when it is valid UTF-8, else as
// bytes that encoding/json writes in base64.
func textOrBase64(data []byte) (*string, []byte) {
	if utf8.Valid(data) {
		s := string(data)
		return &s, nil
	}
	return nil, data
}

// appendTemplate expands a mosquitto_sub -F template: %t topic, %p
// payload, %q QoS, %r retain (0 or 1), %l payload length, %m packet id, %x
// and %X payload in hex, %j the JSON of -F json, %I ISO 8601 time, %U Unix
// time, %C content type, %R response topic, %D correlation data, %E
// message expiry, %F payload format indicator, %P user properties
// (key:value, space-separated), %% a percent sign; \n, \t, \r, \\ and \0
// ... \e as in C. Anything else is copied.
func (f *subFormat) appendTemplate(b []byte, p *packet.Publish) []byte {
	s := f.tmpl
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c != '%' && c != '\\') || i+1 == len(s) {
			b = append(b, c)
			continue
		}
		i++
		if c == '\\' {
			b = appendEscape(b, s[i])
			continue
		}
		b = f.appendField(b, s[i], p)
	}
	return b
}

// appendEscape appends the character of backslash escape e.
func appendEscape(b []byte, e byte) []byte {
	switch e {
	case 'n':
		return append(b, '\n')
	case 't':
		return append(b, '\t')
	case 'r':
		return append(b, '\r')
	case '0':
		return append(b, 0)
	case 'a':
		return append(b, '\a')
	case 'e':
		return append(b, 0x1b)
	case 'v':
		return append(b, '\v')
	case '\\':
		return append(b, '\\')
	}
	return append(b, '\\', e)
}

// appendField appends the value of % escape e.
func (f *subFormat) appendField(b []byte, e byte, p *packet.Publish) []byte {
	props := &p.Props
	switch e {
	case 't':
		return append(b, p.Topic...)
	case 'p':
		return append(b, p.Payload...)
	case 'q':
		return strconv.AppendUint(b, uint64(p.QoS), 10)
	case 'r':
		if p.Retain {
			return append(b, '1')
		}
		return append(b, '0')
	case 'l':
		return strconv.AppendInt(b, int64(len(p.Payload)), 10)
	case 'm':
		return strconv.AppendUint(b, uint64(p.PacketID), 10)
	case 'x':
		return hex.AppendEncode(b, p.Payload)
	case 'X':
		return append(b, strings.ToUpper(hex.EncodeToString(p.Payload))...)
	case 'j':
		return appendJSON(b, p)
	case 'I':
		return f.now().AppendFormat(b, time.RFC3339)
	case 'U':
		now := f.now()
		b = strconv.AppendInt(b, now.Unix(), 10)
		b = append(b, '.')
		ns := strconv.Itoa(now.Nanosecond() + 1e9) // 1 and nine digits
		return append(b, ns[1:]...)
	case 'C':
		return append(b, props.ContentType...)
	case 'R':
		return append(b, props.ResponseTopic...)
	case 'D':
		return append(b, props.CorrelationData...)
	case 'E':
		if props.Has(packet.PropMessageExpiry) {
			return strconv.AppendUint(b, uint64(props.MessageExpiry), 10)
		}
		return b
	case 'F':
		if props.Has(packet.PropPayloadFormat) {
			return strconv.AppendUint(b, uint64(props.PayloadFormat), 10)
		}
		return b
	case 'P':
		for i, u := range props.User {
			if i > 0 {
				b = append(b, ' ')
			}
			b = append(b, u.Key...)
			b = append(b, ':')
			b = append(b, u.Value...)
		}
		return b
	case '%':
		return append(b, '%')
	}
	return append(b, '%', e)
}
