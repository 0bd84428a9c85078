package main

// Values as Helm builds them: the chart's values.yaml, overridden by each -f file in order, then each
// --set / --set-string expression. A null in an override deletes the chart's default for that key.

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"
)

type values = map[string]interface{}

func readValuesFile(path string) (values, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	v := values{}
	if err := yaml.Unmarshal(data, &v); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return v, nil
}

// mergeOverride merges src into dst (src wins); maps merge key by key, nulls are kept so that
// coalesce can delete the defaults they override.
func mergeOverride(dst, src values) values {
	for k, v := range src {
		if sm, ok := v.(values); ok {
			if dm, ok := dst[k].(values); ok {
				dst[k] = mergeOverride(dm, sm)
				continue
			}
		}
		dst[k] = v
	}
	return dst
}

// coalesce returns defaults overridden by user values; a user null removes the key.
func coalesce(defaults, user values) values {
	out := values{}
	for k, v := range defaults {
		out[k] = v
	}
	for k, uv := range user {
		if uv == nil {
			delete(out, k)
			continue
		}
		um, uok := uv.(values)
		dm, dok := out[k].(values)
		if uok && dok {
			out[k] = coalesce(dm, um)
			continue
		}
		if uok {
			out[k] = coalesce(values{}, um)
			continue
		}
		out[k] = uv
	}
	return out
}

// splitTopLevel splits on commas that are neither escaped nor inside {...}.
func splitTopLevel(s string) []string {
	var parts []string
	var cur strings.Builder
	depth := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			cur.WriteByte(c)
			cur.WriteByte(s[i+1])
			i++
		case c == '{':
			depth++
			cur.WriteByte(c)
		case c == '}':
			depth--
			cur.WriteByte(c)
		case c == ',' && depth == 0:
			parts = append(parts, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	return append(parts, cur.String())
}

func unescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// typed converts a --set value the way Helm does: true/false, null, and integers without a leading
// zero become typed; everything else (and every --set-string value) stays a string.
func typed(s string, asString bool) interface{} {
	if asString {
		return s
	}
	switch s {
	case "true":
		return true
	case "false":
		return false
	case "null":
		return nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && (s == "0" || !strings.HasPrefix(strings.TrimPrefix(s, "-"), "0")) {
		return n
	}
	return s
}

type pathPart struct {
	key   string
	index int // -1: a map key
}

// parseKey splits "a.b[0].c" (dots escaped as \.) into parts.
func parseKey(key string) ([]pathPart, error) {
	var parts []pathPart
	var cur strings.Builder
	flush := func() {
		if cur.Len() > 0 {
			parts = append(parts, pathPart{key: cur.String(), index: -1})
			cur.Reset()
		}
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
		case c == '\\' && i+1 < len(key):
			cur.WriteByte(key[i+1])
			i++
		case c == '.':
			flush()
		case c == '[':
			flush()
			end := strings.IndexByte(key[i:], ']')
			if end < 0 {
				return nil, fmt.Errorf("key %q: unclosed [", key)
			}
			n, err := strconv.Atoi(key[i+1 : i+end])
			if err != nil || n < 0 || n > 1000 {
				return nil, fmt.Errorf("key %q: bad list index %q", key, key[i+1:i+end])
			}
			parts = append(parts, pathPart{index: n})
			i += end
		default:
			cur.WriteByte(c)
		}
	}
	flush()
	if len(parts) == 0 || parts[0].index >= 0 {
		return nil, fmt.Errorf("key %q: must start with a name", key)
	}
	return parts, nil
}

// setPath stores v at path under container (a map or a list), creating what is missing.
func setPath(container interface{}, path []pathPart, v interface{}) (interface{}, error) {
	p := path[0]
	if p.index < 0 {
		m, ok := container.(values)
		if !ok || m == nil {
			m = values{}
		}
		if len(path) == 1 {
			m[p.key] = v
			return m, nil
		}
		child, err := setPath(m[p.key], path[1:], v)
		if err != nil {
			return nil, err
		}
		m[p.key] = child
		return m, nil
	}
	l, _ := container.([]interface{})
	for len(l) <= p.index {
		l = append(l, nil)
	}
	if len(path) == 1 {
		l[p.index] = v
		return l, nil
	}
	child, err := setPath(l[p.index], path[1:], v)
	if err != nil {
		return nil, err
	}
	l[p.index] = child
	return l, nil
}

// applySet applies one --set (or --set-string) expression "a.b=1,c={x,y}" to dst.
func applySet(dst values, expr string, asString bool) error {
	for _, assignment := range splitTopLevel(expr) {
		eq := strings.IndexByte(assignment, '=')
		if eq <= 0 {
			return fmt.Errorf("--set %q: %q is not key=value", expr, assignment)
		}
		path, err := parseKey(assignment[:eq])
		if err != nil {
			return err
		}
		raw := assignment[eq+1:]
		var v interface{}
		if !asString && strings.HasPrefix(raw, "{") && strings.HasSuffix(raw, "}") {
			list := []interface{}{}
			if inner := raw[1 : len(raw)-1]; inner != "" {
				for _, item := range splitTopLevel(inner) {
					list = append(list, typed(unescape(item), false))
				}
			}
			v = list
		} else {
			v = typed(unescape(raw), asString)
		}
		if _, err := setPath(dst, path, v); err != nil {
			return err
		}
	}
	return nil
}
