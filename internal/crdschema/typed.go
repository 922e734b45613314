package crdschema

import (
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Typed kinds: for the custom resources whose CRD no Go module here ships
// (or whose licence forbids reading it), a Go struct per spec written from
// the mesh's reference documentation. Decoding is strict (unknown and
// duplicate fields and wrong JSON types are errors) and struct tags add
// what a CRD schema would say:
//
//	check:"required"        the field must be set (non-zero)
//	check:"duration"        a Go duration string ("250ms", "1m30s"), as Consul and Linkerd parse them
//	check:"gwduration"      a Gateway API duration (GEP-2257: ^([0-9]{1,5}(h|m|s|ms)){1,4}$)
//	check:"enum=a|b|c"      one of the values (an empty string is allowed unless required)
//	check:"min=0" "max=100" numeric bounds
//	check:"regex"           a valid RE2 regular expression
//
// Several are separated by commas. A spec type (or any nested struct) may
// also implement crossChecker for rules across fields.

// typedKind is one kind validated by a typed struct.
type typedKind struct {
	// doc is the reference page the struct was written from.
	doc        string
	namespaced bool
	// newSpec returns a pointer to a zero spec struct.
	newSpec func() any
}

// crossChecker is implemented by typed structs with rules across fields
// ("exactly one of …", "weights sum to 100").
type crossChecker interface {
	crossCheck(p *field.Path) field.ErrorList
}

// typedKinds is filled by consul.go and linkerd.go.
var typedKinds = map[schema.GroupVersionKind]*typedKind{}

func registerTyped(apiVersion, kind, doc string, namespaced bool, newSpec func() any) {
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		panic(err)
	}
	typedKinds[gv.WithKind(kind)] = &typedKind{doc: doc, namespaced: namespaced, newSpec: newSpec}
}

// TypedKindDoc returns the reference documentation URL a typed kind's
// struct was written from, or "" if apiVersion/kind is not a typed kind.
func TypedKindDoc(apiVersion, kind string) string {
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return ""
	}
	if k := typedKinds[gv.WithKind(kind)]; k != nil {
		return k.doc
	}
	return ""
}

// validateTyped decodes u's spec strictly into the kind's struct and runs
// the tag and cross-field checks.
func validateTyped(u map[string]any, k *typedKind) field.ErrorList {
	p := field.NewPath("spec")
	raw, ok := u["spec"]
	if !ok {
		return field.ErrorList{field.Required(p, "")}
	}
	data, err := json.Marshal(raw)
	if err != nil {
		return field.ErrorList{field.Invalid(p, nil, err.Error())}
	}
	spec := k.newSpec()
	if errs := typeCheck(raw, reflect.TypeOf(spec), p); len(errs) > 0 {
		return errs
	}
	if errs := strictDecode(data, spec, p); len(errs) > 0 {
		return errs
	}
	errs := checkValue(reflect.ValueOf(spec), p)
	if status, ok := u["status"]; ok && status != nil {
		errs = append(errs, field.Forbidden(field.NewPath("status"), "status is written by the controller, not applied"))
	}
	return errs
}

// checkValue walks v applying struct tags and crossCheck methods.
func checkValue(v reflect.Value, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	switch v.Kind() {
	case reflect.Struct:
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name := strings.Split(f.Tag.Get("json"), ",")[0]
			if name == "" || name == "-" {
				continue
			}
			fp := p.Child(name)
			fv := v.Field(i)
			if tag := f.Tag.Get("check"); tag != "" {
				errs = append(errs, checkTags(fv, tag, fp)...)
			}
			errs = append(errs, checkValue(fv, fp)...)
		}
		if v.CanAddr() {
			if cc, ok := v.Addr().Interface().(crossChecker); ok {
				errs = append(errs, cc.crossCheck(p)...)
			}
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			errs = append(errs, checkValue(v.Index(i), p.Index(i))...)
		}
	case reflect.Map:
		keys := v.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(fmt.Sprint(a), fmt.Sprint(b)) })
		for _, k := range keys {
			// map values are not addressable: copy into a new value.
			c := reflect.New(v.Type().Elem())
			c.Elem().Set(v.MapIndex(k))
			errs = append(errs, checkValue(c, p.Key(fmt.Sprint(k)))...)
		}
	}
	return errs
}

var gwDurationRE = regexp.MustCompile(`^([0-9]{1,5}(h|m|s|ms)){1,4}$`)

// checkTags applies one field's check tag; slices of scalars are checked
// element by element.
func checkTags(v reflect.Value, tag string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	rules := strings.Split(tag, ",")
	if slices.Contains(rules, "required") && isZero(v) {
		errs = append(errs, field.Required(p, ""))
	}
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return errs
		}
		v = v.Elem()
	}
	if v.Kind() == reflect.Slice && v.Type().Elem().Kind() != reflect.Struct {
		for i := 0; i < v.Len(); i++ {
			errs = append(errs, checkScalar(v.Index(i), rules, p.Index(i))...)
		}
		return errs
	}
	return append(errs, checkScalar(v, rules, p)...)
}

func checkScalar(v reflect.Value, rules []string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, r := range rules {
		name, arg, _ := strings.Cut(r, "=")
		switch name {
		case "required":
		case "duration":
			if s := v.String(); s != "" {
				if _, err := time.ParseDuration(s); err != nil {
					errs = append(errs, field.Invalid(p, s, "must be a duration such as 250ms or 1m30s"))
				}
			}
		case "gwduration":
			if s := v.String(); s != "" && !gwDurationRE.MatchString(s) {
				errs = append(errs, field.Invalid(p, s, "must be a Gateway API duration (GEP-2257) such as 10s or 1h30m"))
			}
		case "regex":
			if s := v.String(); s != "" {
				if _, err := regexp.Compile(s); err != nil {
					errs = append(errs, field.Invalid(p, s, "must be a regular expression: "+err.Error()))
				}
			}
		case "enum":
			allowed := strings.Split(arg, "|")
			s := v.String()
			if v.Kind() != reflect.String {
				s = fmt.Sprint(v.Interface())
			}
			if s != "" && !slices.Contains(allowed, s) {
				errs = append(errs, field.NotSupported(p, s, allowed))
			}
		case "min", "max":
			bound, err := strconv.ParseFloat(arg, 64)
			if err != nil {
				panic("crdschema: bad check tag " + r)
			}
			x, ok := number(v)
			if !ok {
				continue
			}
			if name == "min" && x < bound {
				errs = append(errs, field.Invalid(p, v.Interface(), "must be greater than or equal to "+arg))
			}
			if name == "max" && x > bound {
				errs = append(errs, field.Invalid(p, v.Interface(), "must be less than or equal to "+arg))
			}
		default:
			panic("crdschema: unknown check tag " + r)
		}
	}
	return errs
}

func number(v reflect.Value) (float64, bool) {
	switch v.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return float64(v.Int()), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return float64(v.Uint()), true
	case reflect.Float32, reflect.Float64:
		return v.Float(), true
	}
	return 0, false
}

func isZero(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface, reflect.Map, reflect.Slice:
		return v.IsNil() || (v.Kind() != reflect.Pointer && v.Kind() != reflect.Interface && v.Len() == 0)
	}
	return v.IsZero()
}

// countSet counts the non-zero values (for "exactly one of" rules).
func countSet(vals ...any) int {
	n := 0
	for _, x := range vals {
		if rv := reflect.ValueOf(x); rv.IsValid() && !isZero(rv) {
			n++
		}
	}
	return n
}

// reflectString wraps s for checkScalar.
func reflectString(s string) reflect.Value { return reflect.ValueOf(s) }

var jsonUnmarshaler = reflect.TypeOf((*json.Unmarshaler)(nil)).Elem()

// typeCheck compares a decoded JSON value with the Go type it will be
// decoded into and reports each mismatch at its full path (with list
// indexes and map keys, which encoding/json's type errors lack). Types
// with their own UnmarshalJSON (IntOrString, Quantity) are left to the
// decoder; unknown fields too.
func typeCheck(val any, t reflect.Type, p *field.Path) field.ErrorList {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if val == nil || reflect.PointerTo(t).Implements(jsonUnmarshaler) {
		return nil
	}
	bad := func(want string) field.ErrorList {
		return field.ErrorList{field.Invalid(p, jsonTypeName(val), "must be of type "+want)}
	}
	switch t.Kind() {
	case reflect.String:
		if _, ok := val.(string); !ok {
			return bad("string")
		}
	case reflect.Bool:
		if _, ok := val.(bool); !ok {
			return bad("boolean")
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if _, ok := val.(int64); !ok {
			return bad("integer")
		}
	case reflect.Float32, reflect.Float64:
		switch val.(type) {
		case int64, float64:
		default:
			return bad("number")
		}
	case reflect.Slice:
		l, ok := val.([]any)
		if !ok {
			return bad("array")
		}
		var errs field.ErrorList
		for i, e := range l {
			errs = append(errs, typeCheck(e, t.Elem(), p.Index(i))...)
		}
		return errs
	case reflect.Map:
		m, ok := val.(map[string]any)
		if !ok {
			return bad("object")
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		var errs field.ErrorList
		for _, k := range keys {
			errs = append(errs, typeCheck(m[k], t.Elem(), p.Key(k))...)
		}
		return errs
	case reflect.Struct:
		m, ok := val.(map[string]any)
		if !ok {
			return bad("object")
		}
		var errs field.ErrorList
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name := strings.Split(f.Tag.Get("json"), ",")[0]
			if !f.IsExported() || name == "" || name == "-" {
				continue
			}
			if x, ok := m[name]; ok {
				errs = append(errs, typeCheck(x, f.Type, p.Child(name))...)
			}
		}
		return errs
	}
	return nil
}

// jsonTypeName names a decoded JSON value's type as the API server's
// messages do ("string", "integer", "number", "boolean", "array", "object").
func jsonTypeName(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case int64:
		return "integer"
	case float64:
		return "number"
	case bool:
		return "boolean"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}
