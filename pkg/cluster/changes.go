package cluster

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// Change is a setting that differs between two Specs, named by its key
// in the stored Spec ("retentionFull", "resources.cpuLimit").
type Change struct {
	Setting  string
	Old, New string
}

func (c Change) String() string {
	return fmt.Sprintf("%s: %s -> %s", c.Setting, orNone(c.Old), orNone(c.New))
}

// Changes lists the settings that differ from old to new, sorted by name.
// It compares the Specs as they are stored, so a setting added to the
// Spec is listed without a change here.
func Changes(old, new Spec) []Change {
	a, b := flatten(old), flatten(new)
	var out []Change
	for k, v := range a {
		if b[k] != v {
			out = append(out, Change{Setting: k, Old: v, New: b[k]})
		}
	}
	for k, v := range b {
		if _, ok := a[k]; !ok {
			out = append(out, Change{Setting: k, New: v})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Setting < out[j].Setting })
	return out
}

// flatten maps the dotted keys of a Spec's JSON to their values as text.
func flatten(s Spec) map[string]string {
	data, err := json.Marshal(s)
	if err != nil {
		panic(err) // a Spec is plain data
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		panic(err)
	}
	out := map[string]string{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				walk(strings.TrimPrefix(prefix+"."+k, "."), e)
			}
		case []any:
			parts := make([]string, len(v))
			for i, e := range v {
				parts[i] = fmt.Sprint(e)
			}
			out[prefix] = strings.Join(parts, ",")
		case nil:
		default:
			out[prefix] = fmt.Sprint(v)
		}
	}
	walk("", m)
	return out
}
