package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Load reads the YAML file at path over Default and returns the result.
// Unknown and repeated keys, and values of the wrong type, are errors
// naming the file, the line and the key, as in
//
//	config baram.yaml: line 7: unknown key "max_packet_sise" in limits
//
// An empty file yields Default. Load lowercases listener protocols and
// fills empty ones with "mqtt", but does not call Validate: flags may
// still change the result.
func Load(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("read config: %w", err)
	}
	cfg, err := parse(data)
	if err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

// parse decodes one YAML document over Default.
//
// It walks the yaml.Node tree itself rather than relying on
// yaml.Decoder.KnownFields, whose errors name the Go type
// ("field x not found in type config.Limits") instead of the key path,
// and which does not report the key of a bad value.
func parse(data []byte) (Config, error) {
	cfg := Default()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return cfg, nil
		}
		return Config{}, err
	}
	var next yaml.Node
	if err := dec.Decode(&next); !errors.Is(err, io.EOF) {
		if err != nil {
			return Config{}, err
		}
		return Config{}, fmt.Errorf("line %d: a second YAML document; a config file holds one", next.Line)
	}
	if err := decodeNode(&doc, reflect.ValueOf(&cfg).Elem(), ""); err != nil {
		return Config{}, err
	}
	for i := range cfg.Listeners {
		l := &cfg.Listeners[i]
		l.Protocol = strings.ToLower(l.Protocol)
		if l.Protocol == "" {
			l.Protocol = ProtocolMQTT
		}
	}
	return cfg, nil
}

// unmarshalerType is the interface of types that decode themselves.
var unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()

// decodeNode decodes n into v, whose key path in the file is path. A null
// value leaves v as it is, so that an empty section keeps its defaults.
func decodeNode(n *yaml.Node, v reflect.Value, path string) error {
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return nil
		}
		n = n.Content[0]
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	if reflect.PointerTo(v.Type()).Implements(unmarshalerType) {
		if err := n.Decode(v.Addr().Interface()); err != nil {
			return fmt.Errorf("line %d: %s: %w", n.Line, path, err)
		}
		return nil
	}
	switch v.Kind() {
	case reflect.Struct:
		return decodeStruct(n, v, path)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return fmt.Errorf("line %d: %s: expected a list, got %s", n.Line, path, describe(n))
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, e := range n.Content {
			if err := decodeNode(e, s.Index(i), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		v.Set(s)
		return nil
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return fmt.Errorf("line %d: %s: expected keys (key: value), got %s", n.Line, path, describe(n))
		}
		m := reflect.New(v.Type())
		if err := n.Decode(m.Interface()); err != nil {
			return fmt.Errorf("line %d: %s: %w", n.Line, path, err)
		}
		v.Set(m.Elem())
		return nil
	case reflect.Pointer:
		if v.Type().Elem().Kind() == reflect.Struct { // an optional section, as a listener's tls
			p := reflect.New(v.Type().Elem())
			if !v.IsNil() {
				p.Elem().Set(v.Elem())
			}
			if err := decodeStruct(n, p.Elem(), path); err != nil {
				return err
			}
			v.Set(p)
			return nil
		}
	}
	kind := v.Kind()
	if kind == reflect.Pointer {
		kind = v.Type().Elem().Kind()
	}
	// yaml.v3 truncates 1.5 into an int; only accept integers there.
	if n.Kind != yaml.ScalarNode || (kind == reflect.Int && n.Tag != "!!int") || n.Decode(v.Addr().Interface()) != nil {
		want := map[reflect.Kind]string{reflect.Int: "an integer", reflect.Bool: "true or false"}[kind]
		if want == "" {
			want = "a single value"
		}
		return fmt.Errorf("line %d: %s: expected %s, got %s", n.Line, path, want, describe(n))
	}
	return nil
}

// decodeStruct decodes the mapping n into the struct v, matching keys to
// the fields' yaml tags.
func decodeStruct(n *yaml.Node, v reflect.Value, path string) error {
	if n.Kind != yaml.MappingNode {
		what := path
		if what == "" {
			what = "the top level"
		}
		return fmt.Errorf("line %d: %s: expected keys (key: value), got %s", n.Line, what, describe(n))
	}
	t := v.Type()
	var known []string
	fields := make(map[string]int)
	for i := range t.NumField() {
		if name := t.Field(i).Tag.Get("yaml"); name != "" && name != "-" {
			fields[name] = i
			known = append(known, name)
		}
	}
	in := ""
	if path != "" {
		in = " in " + path
	}
	seen := make(map[string]int)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		idx, ok := fields[k.Value]
		if !ok || k.Kind != yaml.ScalarNode {
			if k.Tag == "!!merge" {
				return fmt.Errorf("line %d: merge keys (<<) are not supported%s", k.Line, in)
			}
			return fmt.Errorf("line %d: unknown key %q%s (known keys: %s)", k.Line, k.Value, in, strings.Join(known, ", "))
		}
		key := k.Value
		if path != "" {
			key = path + "." + k.Value
		}
		if line, dup := seen[k.Value]; dup {
			return fmt.Errorf("line %d: %s is set twice (first on line %d)", k.Line, key, line)
		}
		seen[k.Value] = k.Line
		if err := decodeNode(val, v.Field(idx), key); err != nil {
			return err
		}
	}
	return nil
}

// describe names what n holds, for error messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "keys (a mapping)"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("%q", n.Value)
	}
	return "something else"
}
