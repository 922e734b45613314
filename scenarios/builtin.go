package scenarios

import (
	"embed"
	"io/fs"
	"path"
	"slices"
	"strings"
)

//go:embed builtin/*.yaml
var builtinFS embed.FS

// BuiltinInfo describes one embedded scenario for `meshgym list`.
type BuiltinInfo struct {
	Name        string // what Builtin takes, e.g. "retries"
	Description string // one line
}

// BuiltinNames lists the embedded scenarios, sorted by name, each with its
// one-line description.
func BuiltinNames() []BuiltinInfo {
	var out []BuiltinInfo
	for _, name := range builtinList() {
		info := BuiltinInfo{Name: name}
		if s, err := Builtin(name); err == nil {
			info.Description = s.Description
		}
		out = append(out, info)
	}
	return out
}

// Builtin loads the embedded scenario name (e.g. "retries"). Its Source is
// "builtin:<name>".
func Builtin(name string) (*Scenario, error) {
	data, ok := builtinFile(name)
	if !ok {
		return nil, Errors{{File: name, Msg: "no built-in scenario " + quote(name), Hint: "built-in scenarios: " + strings.Join(builtinList(), ", ")}}
	}
	s, err := LoadBytes("builtin/"+name+".yaml", data)
	if err != nil {
		return nil, err
	}
	s.Source = "builtin:" + name
	return s, nil
}

func builtinFile(name string) ([]byte, bool) {
	if name == "" || strings.ContainsAny(name, `/\.`) {
		return nil, false
	}
	data, err := builtinFS.ReadFile("builtin/" + name + ".yaml")
	return data, err == nil
}

func builtinList() []string {
	entries, err := fs.ReadDir(builtinFS, "builtin")
	if err != nil {
		return nil
	}
	var names []string
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), path.Ext(e.Name())))
	}
	slices.Sort(names)
	return names
}
