// Package crdschema validates Kubernetes objects — the resources meshgym's
// mesh plugins render and server-side apply — the way the API server would
// before it accepts them, without a cluster:
//
//   - custom resources with a published CRD (Istio's networking.istio.io …
//     from istio.io/api, Gateway API's gateway.networking.k8s.io from
//     sigs.k8s.io/gateway-api) against the CRD's structural schema, read at
//     run time from the module cache at the version go.mod requires
//     (Module, Load): unknown fields (what the API server prunes silently),
//     types, enums, required fields, patterns, bounds, list-type
//     invariants and the CEL rules (x-kubernetes-validations), with
//     k8s.io/apiextensions-apiserver's own code;
//   - built-in kinds (v1 Service, Namespace, apps/v1 Deployment …) by strict
//     decoding into the k8s.io/api types (unknown and duplicate fields are
//     errors) plus apimachinery's name, label and annotation rules and a
//     few of the API server's spec checks (Service ports);
//   - kinds whose CRD no Go module here ships, or whose licence forbids
//     using it (Consul's consul.hashicorp.com config entries, Linkerd's
//     policy.linkerd.io and linkerd.io kinds), by strict decoding into
//     typed structs of this package written from the meshes' public
//     reference documentation (consul.go, linkerd.go), with type, enum,
//     duration and bound checks.
//
// Every error is one line naming the object and the field path, e.g.
// `VirtualService meshgym/payments: spec.http[0].retries.attempts: Invalid
// value: "string": …must be of type integer`.
package crdschema

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	apiextensionsinternal "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	structurallisttype "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/listtype"
	schemaobjectmeta "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/objectmeta"
	structuralpruning "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	sjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// Method says how a kind is validated.
type Method string

const (
	// MethodNone: the kind is unknown to the Validator (Validate reports it).
	MethodNone Method = ""
	// MethodCRD: against a CRD's structural schema (pruning, OpenAPI
	// validation, list types, CEL rules).
	MethodCRD Method = "crd-schema"
	// MethodBuiltin: strict decoding into the k8s.io/api type plus
	// apimachinery's metadata rules.
	MethodBuiltin Method = "builtin-strict"
	// MethodTyped: strict decoding into this package's typed structs
	// written from the mesh's reference documentation.
	MethodTyped Method = "typed-strict"
)

// Module returns the directory of modulePath ("istio.io/api") in the Go
// module cache, at the version the main module's go.mod selects. It runs
// `go list -m -json modulePath` from the current directory, which must be
// inside the meshgym module (tests run in their package directory). It
// does not download: a module missing from the cache is an error naming it
// (run `go mod download modulePath`).
func Module(modulePath string) (string, error) {
	cmd := exec.Command("go", "list", "-m", "-json", modulePath)
	cmd.Env = append(os.Environ(), "GOPROXY=off")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go list -m %s: %v: %s", modulePath, err, strings.TrimSpace(stderr.String()))
	}
	var m struct {
		Path, Version, Dir string
		Replace            *struct{ Dir string }
	}
	if err := json.Unmarshal(out, &m); err != nil {
		return "", fmt.Errorf("go list -m %s: %v", modulePath, err)
	}
	if m.Replace != nil && m.Replace.Dir != "" {
		m.Dir = m.Replace.Dir
	}
	if m.Dir == "" {
		return "", fmt.Errorf("module %s@%s is not in the module cache (go mod download %s)", modulePath, m.Version, modulePath)
	}
	return m.Dir, nil
}

// IstioCRDFiles returns the file of every Istio CRD shipped by the
// istio.io/api module go.mod requires:
// kubernetes/customresourcedefinitions.gen.yaml.
func IstioCRDFiles() ([]string, error) {
	dir, err := Module("istio.io/api")
	if err != nil {
		return nil, err
	}
	return []string{filepath.Join(dir, "kubernetes", "customresourcedefinitions.gen.yaml")}, nil
}

// GatewayAPICRDFiles returns the CRD files of a Gateway API release
// channel ("standard" or "experimental") of the sigs.k8s.io/gateway-api
// module go.mod requires: config/crd/<channel>/*.yaml (non-CRD documents in
// them, such as the ValidatingAdmissionPolicy, are skipped by Load).
func GatewayAPICRDFiles(channel string) ([]string, error) {
	if channel != "standard" && channel != "experimental" {
		return nil, fmt.Errorf("gateway API channel %q: want standard or experimental", channel)
	}
	dir, err := Module("sigs.k8s.io/gateway-api")
	if err != nil {
		return nil, err
	}
	files, err := filepath.Glob(filepath.Join(dir, "config", "crd", channel, "*.yaml"))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, f := range files {
		if filepath.Base(f) != "kustomization.yaml" {
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no CRD files in %s", filepath.Join(dir, "config", "crd", channel))
	}
	return out, nil
}

// Default loads the Istio CRDs and the Gateway API standard channel (what
// Linkerd 2.18+ reads HTTPRoutes from), i.e. Load(IstioCRDFiles()...,
// GatewayAPICRDFiles("standard")...).
func Default() (*Validator, error) {
	istio, err := IstioCRDFiles()
	if err != nil {
		return nil, err
	}
	gw, err := GatewayAPICRDFiles("standard")
	if err != nil {
		return nil, err
	}
	return Load(append(istio, gw...)...)
}

// crdVersion is one served version of a CRD, ready to validate.
type crdVersion struct {
	crd        string // CRD name ("virtualservices.networking.istio.io")
	namespaced bool
	structural *structuralschema.Structural
	validator  apiservervalidation.SchemaValidator
	cel        *cel.Validator // nil without x-kubernetes-validations
}

// Validator validates objects against the loaded CRDs, the built-in
// Kubernetes kinds and this package's typed kinds. It is safe for
// concurrent use once loaded.
type Validator struct {
	crds map[schema.GroupVersionKind]*crdVersion
}

// Load reads CustomResourceDefinitions (apiextensions.k8s.io/v1) from YAML
// files (several documents per file allowed; documents of other kinds are
// skipped) and indexes every served version by group, version and kind. A
// later file's definition of the same group/version/kind replaces an
// earlier one. Errors: an unreadable file, a document that does not
// decode, or a schema that is not structural (the API server would refuse
// the CRD).
func Load(files ...string) (*Validator, error) {
	v := &Validator{crds: map[schema.GroupVersionKind]*crdVersion{}}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		docs, err := splitYAML(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		for i, doc := range docs {
			var head struct{ APIVersion, Kind string }
			if err := yaml.Unmarshal(doc, &head); err != nil {
				return nil, fmt.Errorf("%s: document %d: %w", f, i+1, err)
			}
			if head.Kind != "CustomResourceDefinition" {
				continue
			}
			if head.APIVersion != "apiextensions.k8s.io/v1" {
				return nil, fmt.Errorf("%s: document %d: CRD apiVersion %s, want apiextensions.k8s.io/v1", f, i+1, head.APIVersion)
			}
			var crd apiextensionsv1.CustomResourceDefinition
			if err := yaml.Unmarshal(doc, &crd); err != nil {
				return nil, fmt.Errorf("%s: document %d: %w", f, i+1, err)
			}
			if err := v.addCRD(&crd); err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
		}
	}
	return v, nil
}

// addCRD prepares every served version of crd as the API server's
// customresource handler does (apiextensions-apiserver
// pkg/apiserver/customresource_handler.go, pkg/registry/customresource).
func (v *Validator) addCRD(crd *apiextensionsv1.CustomResourceDefinition) error {
	for _, ver := range crd.Spec.Versions {
		if !ver.Served || ver.Schema == nil {
			continue
		}
		internal := &apiextensionsinternal.CustomResourceValidation{}
		if err := apiextensionsv1.Convert_v1_CustomResourceValidation_To_apiextensions_CustomResourceValidation(ver.Schema, internal, nil); err != nil {
			return fmt.Errorf("CRD %s %s: %w", crd.Name, ver.Name, err)
		}
		s, err := structuralschema.NewStructural(internal.OpenAPIV3Schema)
		if err != nil {
			return fmt.Errorf("CRD %s %s: schema is not structural: %w", crd.Name, ver.Name, err)
		}
		s = s.DeepCopy()
		if err := structuraldefaulting.PruneDefaults(s); err != nil {
			return fmt.Errorf("CRD %s %s: %w", crd.Name, ver.Name, err)
		}
		sv, _, err := apiservervalidation.NewSchemaValidator(internal.OpenAPIV3Schema)
		if err != nil {
			return fmt.Errorf("CRD %s %s: %w", crd.Name, ver.Name, err)
		}
		gvk := schema.GroupVersionKind{Group: crd.Spec.Group, Version: ver.Name, Kind: crd.Spec.Names.Kind}
		v.crds[gvk] = &crdVersion{
			crd:        crd.Name,
			namespaced: crd.Spec.Scope == apiextensionsv1.NamespaceScoped,
			structural: s,
			validator:  sv,
			cel:        cel.NewValidator(s, true, celconfig.PerCallLimit),
		}
	}
	return nil
}

// Kinds lists the group/version/kinds of the loaded CRDs, sorted
// ("networking.istio.io/v1, Kind=VirtualService").
func (v *Validator) Kinds() []schema.GroupVersionKind {
	var out []schema.GroupVersionKind
	for gvk := range v.crds {
		out = append(out, gvk)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// Method says how Validate checks objects of apiVersion ("networking.istio.io/v1")
// and kind: MethodCRD when a loaded CRD serves it, else MethodBuiltin for a
// built-in Kubernetes kind, else MethodTyped for a kind of consul.go or
// linkerd.go, else MethodNone.
func (v *Validator) Method(apiVersion, kind string) Method {
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return MethodNone
	}
	gvk := gv.WithKind(kind)
	switch {
	case v != nil && v.crds[gvk] != nil:
		return MethodCRD
	case builtinScheme.Recognizes(gvk):
		return MethodBuiltin
	case typedKinds[gvk] != nil:
		return MethodTyped
	}
	return MethodNone
}

// Validate checks one object (a decoded YAML/JSON document: maps, slices,
// strings, numbers, bools) as the API server would on create, and returns
// every problem found, each one line prefixed with the object ("Kind
// namespace/name: "). No errors means valid. Checked: apiVersion and kind
// are set and known (see Method); metadata decodes strictly into
// ObjectMeta, the name suits the kind (DNS-1123 subdomain; DNS-1035 label
// for Service, DNS-1123 label for Namespace), namespace is set exactly for
// namespaced kinds, label and annotation keys are qualified names and label
// values valid, Linkerd's annotations (retry.linkerd.io/…, timeout.linkerd.io/…,
// balancer.linkerd.io/…, linkerd.io/inject) are known keys with values
// Linkerd parses; then the kind's own checks (see the package comment).
// Unknown fields are reported as `unknown field "spec.http[0].retries.attemps"`.
// obj is not modified.
func (v *Validator) Validate(obj map[string]any) []error {
	u, err := normalize(obj)
	if err != nil {
		return []error{err}
	}
	apiVersion, _ := u["apiVersion"].(string)
	kind, _ := u["kind"].(string)
	id := identity(u)
	wrap := func(errs field.ErrorList) []error {
		var out []error
		for _, e := range errs {
			if e.Type == field.ErrorTypeNotSupported && (e.Detail == "unknown field" || e.Detail == "duplicate field") {
				out = append(out, fmt.Errorf("%s: %s %q", id, e.Detail, e.Field))
				continue
			}
			out = append(out, fmt.Errorf("%s: %s", id, oneLine(e.Error())))
		}
		return out
	}
	if apiVersion == "" || kind == "" {
		return wrap(field.ErrorList{field.Required(field.NewPath("apiVersion"), "apiVersion and kind must be set")})
	}
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return wrap(field.ErrorList{field.Invalid(field.NewPath("apiVersion"), apiVersion, err.Error())})
	}
	gvk := gv.WithKind(kind)
	method := v.Method(apiVersion, kind)
	if method == MethodNone {
		return wrap(field.ErrorList{field.Invalid(field.NewPath("kind"), apiVersion+" "+kind,
			"unknown apiVersion/kind: no CRD schema loaded, not a built-in Kubernetes kind, and no typed struct in meshgym/internal/crdschema")})
	}

	var errs field.ErrorList
	for k := range u {
		switch k {
		case "apiVersion", "kind", "metadata", "spec", "status":
		default:
			if method != MethodCRD && method != MethodBuiltin {
				errs = append(errs, unknownField(k))
			}
		}
	}
	var namespaced bool
	switch method {
	case MethodCRD:
		namespaced = v.crds[gvk].namespaced
	case MethodBuiltin:
		namespaced = !clusterScoped[gvk.GroupKind()]
	case MethodTyped:
		namespaced = typedKinds[gvk].namespaced
	}
	errs = append(errs, validateMetadata(u, gvk, namespaced)...)
	switch method {
	case MethodCRD:
		errs = append(errs, v.crds[gvk].validate(u)...)
	case MethodBuiltin:
		errs = append(errs, validateBuiltin(u, gvk)...)
	case MethodTyped:
		errs = append(errs, validateTyped(u, typedKinds[gvk])...)
	}
	return wrap(errs)
}

// validate runs the API server's create-time checks of a custom resource
// (pruning → unknown fields, defaulting, OpenAPI schema, embedded object
// metadata, list types, CEL rules) on u, which it modifies.
func (c *crdVersion) validate(u map[string]any) field.ErrorList {
	var errs field.ErrorList
	unknown := structuralpruning.PruneWithOptions(u, c.structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true})
	for _, p := range unknown {
		errs = append(errs, unknownField(p))
	}
	structuraldefaulting.PruneNonNullableNullsWithoutDefaults(u, c.structural)
	structuraldefaulting.Default(u, c.structural)
	var schemaErrs field.ErrorList
	schemaErrs = append(schemaErrs, apiservervalidation.ValidateCustomResource(nil, u, c.validator)...)
	ctx := context.Background()
	schemaErrs = append(schemaErrs, schemaobjectmeta.Validate(ctx, nil, u, c.structural, false)...)
	schemaErrs = append(schemaErrs, structurallisttype.ValidateListSetsAndMaps(nil, c.structural, u)...)
	errs = append(errs, schemaErrs...)
	if c.cel != nil {
		if hasBlocking(schemaErrs) {
			errs = append(errs, &field.Error{Type: field.ErrorTypeInvalid, Field: "x-kubernetes-validations", BadValue: field.OmitValueType{},
				Detail: "the CEL rules were not checked because the object was invalid; correct the errors above to complete validation"})
		} else {
			celErrs, _ := c.cel.Validate(ctx, nil, c.structural, u, nil, celconfig.RuntimeCELCostBudget)
			errs = append(errs, celErrs...)
		}
	}
	return errs
}

// unknownField is the error for a field the schema does not know (the API
// server prunes it and, with fieldValidation=Strict, reports it so);
// Validate prints it as `unknown field "spec.x"`.
func unknownField(path string) *field.Error {
	return &field.Error{Type: field.ErrorTypeNotSupported, Field: path, Detail: "unknown field", BadValue: field.OmitValueType{}}
}

// hasBlocking reports schema errors after which the API server skips the
// CEL rules (apiextensions-apiserver pkg/registry/customresource
// strategy.go hasBlockingErr). Unknown fields are not among them: the API
// server prunes them before validating.
func hasBlocking(errs field.ErrorList) bool {
	for _, e := range errs {
		switch e.Type {
		case field.ErrorTypeNotSupported, field.ErrorTypeRequired, field.ErrorTypeTooLong, field.ErrorTypeTooMany, field.ErrorTypeTypeInvalid:
			return true
		}
	}
	return false
}

// validateMetadata decodes metadata strictly into ObjectMeta and applies
// apimachinery's ObjectMeta rules for a kind of that scope.
func validateMetadata(u map[string]any, gvk schema.GroupVersionKind, namespaced bool) field.ErrorList {
	p := field.NewPath("metadata")
	raw, ok := u["metadata"]
	if !ok {
		return field.ErrorList{field.Required(p, "")}
	}
	m, ok := raw.(map[string]any)
	if !ok {
		return field.ErrorList{field.Invalid(p, raw, "must be of type object")}
	}
	data, _ := json.Marshal(m)
	var meta metav1.ObjectMeta
	errs := strictDecode(data, &meta, p)
	if len(errs) > 0 {
		return errs
	}
	nameFn := apivalidation.NameIsDNSSubdomain
	switch gvk.GroupKind() {
	case schema.GroupKind{Kind: "Service"}:
		nameFn = apivalidation.NameIsDNS1035Label
	case schema.GroupKind{Kind: "Namespace"}:
		nameFn = apivalidation.NameIsDNSLabel
	}
	errs = append(errs, apivalidation.ValidateObjectMeta(&meta, namespaced, nameFn, p)...)
	errs = append(errs, validateLinkerdAnnotations(meta.Annotations, p.Child("annotations"))...)
	if meta.GenerateName != "" && meta.Name == "" {
		errs = append(errs, field.Required(p.Child("name"), "server-side apply needs a name"))
	}
	return errs
}

// strictDecode unmarshals JSON data into out, reporting unknown and
// duplicate fields and type mismatches with their paths below p.
func strictDecode(data []byte, out any, p *field.Path) field.ErrorList {
	strict, err := sjson.UnmarshalStrict(data, out, sjson.DisallowDuplicateFields, sjson.DisallowUnknownFields)
	var errs field.ErrorList
	if err != nil {
		errs = append(errs, decodeError(err, p))
	}
	for _, e := range strict {
		var fe sjson.FieldError
		if errors.As(e, &fe) {
			kind := "unknown field"
			if strings.HasPrefix(e.Error(), "duplicate field") {
				kind = "duplicate field"
			}
			errs = append(errs, &field.Error{Type: field.ErrorTypeNotSupported, Field: joinPath(p, fe.FieldPath()), Detail: kind, BadValue: field.OmitValueType{}})
			continue
		}
		errs = append(errs, field.Invalid(p, nil, e.Error()))
	}
	return errs
}

// decodeError turns a JSON type error into a field error at its path.
func decodeError(err error, p *field.Path) *field.Error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return field.Invalid(fieldPath(p, te.Field), te.Value, "must be of type "+goTypeName(te.Type.String()))
	}
	msg := err.Error()
	// sigs.k8s.io/json wraps the standard library's error types in its
	// own copies; parse their message "json: cannot unmarshal V into Go
	// struct field S.a.b of type T".
	if rest, ok := strings.CutPrefix(msg, "json: cannot unmarshal "); ok {
		if val, after, ok := strings.Cut(rest, " into Go struct field "); ok {
			if f, typ, ok := strings.Cut(after, " of type "); ok {
				if _, fp, ok := strings.Cut(f, "."); ok {
					f = fp
				}
				return field.Invalid(fieldPath(p, f), val, "must be of type "+goTypeName(typ))
			}
		}
		if val, typ, ok := strings.Cut(rest, " into Go value of type "); ok {
			return field.Invalid(p, val, "must be of type "+goTypeName(typ))
		}
	}
	return field.Invalid(p, nil, msg)
}

// goTypeName names a Go type as a schema would (int32 → integer).
func goTypeName(t string) string {
	t = strings.TrimPrefix(t, "*")
	switch {
	case strings.HasPrefix(t, "int"), strings.HasPrefix(t, "uint"):
		return "integer"
	case strings.HasPrefix(t, "float"):
		return "number"
	case t == "string" || strings.HasSuffix(t, "Duration") || strings.HasSuffix(t, "String"):
		return "string"
	case t == "bool":
		return "boolean"
	case strings.HasPrefix(t, "[]"):
		return "array"
	case strings.HasPrefix(t, "map["):
		return "object"
	}
	return "object (" + t + ")"
}

// fieldPath appends a dotted path ("routes.destination.numRetries") to p.
func fieldPath(p *field.Path, dotted string) *field.Path {
	for _, s := range strings.Split(dotted, ".") {
		if s != "" {
			p = p.Child(s)
		}
	}
	return p
}

// joinPath renders p followed by a path in sigs.k8s.io/json notation.
func joinPath(p *field.Path, sub string) string {
	if p == nil || p.String() == "" {
		return sub
	}
	if sub == "" {
		return p.String()
	}
	return p.String() + "." + sub
}

// identity names an object for messages: "Kind namespace/name".
func identity(u map[string]any) string {
	kind, _ := u["kind"].(string)
	if kind == "" {
		kind = "object"
	}
	m, _ := u["metadata"].(map[string]any)
	name, _ := m["name"].(string)
	ns, _ := m["namespace"].(string)
	switch {
	case name == "":
		return kind + " (no name)"
	case ns == "":
		return kind + " " + name
	}
	return kind + " " + ns + "/" + name
}

// oneLine collapses newlines (CEL messages) so each error is one line.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// normalize deep-copies obj through JSON the way the API server decodes a
// request body: integers stay int64, other numbers float64.
func normalize(obj map[string]any) (map[string]any, error) {
	data, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("object does not encode as JSON: %w", err)
	}
	var u map[string]any
	if err := sjson.UnmarshalCaseSensitivePreserveInts(data, &u); err != nil {
		return nil, err
	}
	return u, nil
}

// splitYAML splits a multi-document YAML stream at "---" lines, dropping
// documents that hold only comments and blank lines.
func splitYAML(data []byte) ([][]byte, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var docs [][]byte
	for {
		doc, err := r.Read()
		if err == io.EOF {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		if !onlyComments(doc) {
			docs = append(docs, doc)
		}
	}
}

func onlyComments(doc []byte) bool {
	for _, line := range strings.Split(string(doc), "\n") {
		t := strings.TrimSpace(line)
		if t != "" && !strings.HasPrefix(t, "#") && t != "---" {
			return false
		}
	}
	return true
}

// ValidateYAML validates every document of a multi-document YAML text
// (what meshconfig.Output.YAML returns: documents separated by "---",
// "# note: …" comment lines and comment-only documents skipped). A
// document that is not YAML, has duplicate keys or is not a mapping is an
// error naming its position ("document 2: …"); the other errors are
// Validate's.
func ValidateYAML(v *Validator, src string) []error {
	docs, err := splitYAML([]byte(src))
	if err != nil {
		return []error{err}
	}
	var out []error
	for i, doc := range docs {
		u, err := DecodeDocument(doc)
		if err != nil {
			out = append(out, fmt.Errorf("document %d: %s", i+1, oneLine(err.Error())))
			continue
		}
		out = append(out, v.Validate(u)...)
	}
	return out
}

// DecodeDocument decodes one YAML document into a map strictly: duplicate
// keys are errors (sigs.k8s.io/yaml YAMLToJSONStrict), integers stay
// int64.
func DecodeDocument(doc []byte) (map[string]any, error) {
	js, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return nil, err
	}
	var u map[string]any
	if err := sjson.UnmarshalCaseSensitivePreserveInts(js, &u); err != nil {
		return nil, fmt.Errorf("not a YAML mapping: %w", err)
	}
	if u == nil {
		return nil, errors.New("empty document")
	}
	return u, nil
}
