package crdschema

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var (
	loadOnce sync.Once
	loaded   *Validator
	loadErr  error
)

// validator loads the Istio and Gateway API (standard) CRDs from the module
// cache once per test binary.
func validator(t *testing.T) *Validator {
	t.Helper()
	loadOnce.Do(func() { loaded, loadErr = Default() })
	if loadErr != nil {
		t.Fatalf("load CRDs: %v", loadErr)
	}
	return loaded
}

const virtualService = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: payments
  namespace: meshgym
  labels:
    app.kubernetes.io/managed-by: meshgym
spec:
  hosts:
    - payments.meshgym.svc.cluster.local
  http:
    - route:
        - destination:
            host: payments.meshgym.svc.cluster.local
            subset: payments-v1
          weight: 90
        - destination:
            host: payments.meshgym.svc.cluster.local
            subset: payments-v2
          weight: 10
      timeout: 2s
      retries:
        attempts: 3
        perTryTimeout: 500ms
        retryOn: 5xx,connect-failure
`

const destinationRule = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: payments
  namespace: meshgym
spec:
  host: payments.meshgym.svc.cluster.local
  trafficPolicy:
    connectionPool:
      http:
        maxRetries: 3
    outlierDetection:
      consecutive5xxErrors: 5
      interval: 10s
      baseEjectionTime: 30s
      maxEjectionPercent: 100
  subsets:
    - name: payments-v1
      labels:
        version: payments_v1
`

const httpRoute = `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: payments
  namespace: meshgym
spec:
  parentRefs:
    - group: core
      kind: Service
      name: payments
      port: 9090
  rules:
    - matches:
        - headers:
            - type: Exact
              name: x-canary
              value: "true"
      backendRefs:
        - name: payments-v2
          port: 9090
    - backendRefs:
        - name: payments-v1
          port: 9090
          weight: 90
        - name: payments-v2
          port: 9090
          weight: 10
`

const service = `apiVersion: v1
kind: Service
metadata:
  name: currency
  namespace: meshgym
  labels:
    app: currency
  annotations:
    retry.linkerd.io/http: 5xx
    retry.linkerd.io/limit: "3"
spec:
  selector:
    app: currency
  ports:
    - name: http
      port: 9090
      targetPort: http
`

const serviceRouter = `apiVersion: consul.hashicorp.com/v1alpha1
kind: ServiceRouter
metadata:
  name: currency
  namespace: meshgym
spec:
  routes:
    - match:
        http:
          header:
            - name: x-canary
              exact: "true"
      destination:
        serviceSubset: v2
    - match:
        http:
          pathPrefix: /
      destination:
        requestTimeout: 2s
        numRetries: 3
        retryOnConnectFailure: true
        retryOn:
          - 5xx
`

const serviceSplitter = `apiVersion: consul.hashicorp.com/v1alpha1
kind: ServiceSplitter
metadata:
  name: payments
  namespace: meshgym
spec:
  splits:
    - weight: 90
      serviceSubset: payments-v1
    - weight: 10
      serviceSubset: payments-v2
`

const linkerdServer = `apiVersion: policy.linkerd.io/v1beta3
kind: Server
metadata:
  name: payments
  namespace: meshgym
spec:
  podSelector:
    matchLabels:
      app: payments
  port: http
  proxyProtocol: HTTP/1
  accessPolicy: all-unauthenticated
`

func TestValidate(t *testing.T) {
	v := validator(t)
	tests := []struct {
		name   string
		doc    string
		method Method
		// edit replaces old with new in doc ("" = use doc as is).
		old, new string
		// want are substrings of the errors, all of which must appear;
		// none = the document must be valid.
		want []string
	}{
		{name: "VirtualService ok", doc: virtualService, method: MethodCRD},
		{name: "DestinationRule ok", doc: destinationRule, method: MethodCRD},
		{name: "HTTPRoute ok", doc: httpRoute, method: MethodCRD},
		{name: "Service ok", doc: service, method: MethodBuiltin},
		{name: "ServiceRouter ok", doc: serviceRouter, method: MethodTyped},
		{name: "ServiceSplitter ok", doc: serviceSplitter, method: MethodTyped},
		{name: "Server ok", doc: linkerdServer, method: MethodTyped},

		{name: "VirtualService typo", doc: virtualService, old: "attempts: 3", new: "attemps: 3",
			want: []string{`VirtualService meshgym/payments: unknown field "spec.http[0].retries.attemps"`}},
		{name: "VirtualService wrong type", doc: virtualService, old: "attempts: 3", new: `attempts: "3"`,
			want: []string{"VirtualService meshgym/payments: spec.http[0].retries.attempts: Invalid value: \"string\"", "must be of type integer"}},
		{name: "VirtualService bad duration (CEL)", doc: virtualService, old: "perTryTimeout: 500ms", new: "perTryTimeout: 500 millis",
			want: []string{"spec.http[0].retries.perTryTimeout"}},
		{name: "VirtualService timeout below 1ms (CEL)", doc: virtualService, old: "timeout: 2s", new: "timeout: 100us",
			want: []string{"spec.http[0].timeout", "Invalid value"}},
		{name: "VirtualService bad name", doc: virtualService, old: "name: payments\n", new: "name: Payments_V1\n",
			want: []string{"metadata.name: Invalid value: \"Payments_V1\"", "RFC 1123"}},
		{name: "VirtualService no namespace", doc: virtualService, old: "  namespace: meshgym\n", new: "",
			want: []string{"metadata.namespace: Required value"}},
		{name: "metadata typo", doc: virtualService, old: "  labels:\n", new: "  lables:\n",
			want: []string{`unknown field "metadata.lables"`}},
		{name: "bad label value", doc: virtualService, old: "managed-by: meshgym", new: "managed-by: mesh gym",
			want: []string{"metadata.labels: Invalid value: \"mesh gym\""}},
		{name: "DestinationRule wrong type", doc: destinationRule, old: "consecutive5xxErrors: 5", new: "consecutive5xxErrors: five",
			want: []string{"spec.trafficPolicy.outlierDetection.consecutive5xxErrors", "must be of type integer"}},
		{name: "DestinationRule below min", doc: destinationRule, old: "consecutive5xxErrors: 5", new: "consecutive5xxErrors: -1",
			want: []string{"spec.trafficPolicy.outlierDetection.consecutive5xxErrors: Invalid value: -1", "greater than or equal to 0"}},
		{name: "DestinationRule duration below 1ms (CEL)", doc: destinationRule, old: "baseEjectionTime: 30s", new: "baseEjectionTime: 0s",
			want: []string{"spec.trafficPolicy.outlierDetection.baseEjectionTime: Invalid value", "must be a valid duration greater than 1ms"}},
		{name: "HTTPRoute bad enum", doc: httpRoute, old: "type: Exact", new: "type: Exactly",
			want: []string{`spec.rules[0].matches[0].headers[0].type: Unsupported value: "Exactly"`}},
		{name: "HTTPRoute relative path (CEL)", doc: httpRoute, old: "    - matches:\n        - headers:", new: "    - matches:\n        - path:\n            type: PathPrefix\n            value: api\n          headers:",
			want: []string{"spec.rules[0].matches[0].path: Invalid value", "value must be an absolute path"}},
		{name: "HTTPRoute typo", doc: httpRoute, old: "weight: 90", new: "wieght: 90",
			want: []string{`unknown field "spec.rules[1].backendRefs[0].wieght"`}},
		{name: "HTTPRoute weight over max", doc: httpRoute, old: "weight: 90", new: "weight: 1000001",
			want: []string{`spec.rules[1].backendRefs[0].weight`}},
		{name: "Service typo", doc: service, old: "targetPort: http", new: "targetPrt: http",
			want: []string{`Service meshgym/currency: unknown field "spec.ports[0].targetPrt"`}},
		{name: "Service wrong type", doc: service, old: "port: 9090", new: "port: nine",
			want: []string{"spec.ports.port", "must be of type integer"}},
		{name: "Service bad port", doc: service, old: "port: 9090", new: "port: 90900",
			want: []string{"spec.ports[0].port: Invalid value: 90900"}},
		{name: "Service name not DNS-1035", doc: service, old: "name: currency\n", new: "name: 1currency\n",
			want: []string{`metadata.name: Invalid value: "1currency"`}},
		{name: "Service bad annotation key", doc: service, old: "retry.linkerd.io/limit", new: "retry linkerd/limit",
			want: []string{"metadata.annotations: Invalid value: \"retry linkerd/limit\""}},
		{name: "Linkerd annotation typo", doc: service, old: "retry.linkerd.io/limit", new: "retry.linkerd.io/limt",
			want: []string{`Service meshgym/currency: unknown field "metadata.annotations[retry.linkerd.io/limt]"`}},
		{name: "Linkerd annotation wrong type", doc: service, old: `retry.linkerd.io/limit: "3"`, new: `retry.linkerd.io/limit: "three"`,
			want: []string{`metadata.annotations[retry.linkerd.io/limit]: Invalid value: "three": must be a non-negative integer`}},
		{name: "Linkerd annotation bad status", doc: service, old: `retry.linkerd.io/http: 5xx`, new: `retry.linkerd.io/http: 5xx,600`,
			want: []string{`metadata.annotations[retry.linkerd.io/http]: Invalid value: "5xx,600"`}},
		{name: "Service duplicate key", doc: service, old: "  selector:\n", new: "  type: ClusterIP\n  type: NodePort\n  selector:\n",
			want: []string{"document 1:", `key "type" already set`}},
		{name: "Namespace with namespace", doc: "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: meshgym\n  namespace: default\n",
			want: []string{"Namespace default/meshgym: metadata.namespace: Forbidden"}},
		{name: "ServiceRouter typo", doc: serviceRouter, old: "numRetries: 3", new: "numRetriez: 3",
			want: []string{`ServiceRouter meshgym/currency: unknown field "spec.routes[1].destination.numRetriez"`}},
		{name: "ServiceRouter wrong type", doc: serviceRouter, old: "numRetries: 3", new: `numRetries: "3"`,
			want: []string{"spec.routes[1].destination.numRetries: Invalid value: \"string\": must be of type integer"}},
		{name: "ServiceRouter bad enum", doc: serviceRouter, old: "- 5xx", new: "- 5XX",
			want: []string{`spec.routes[1].destination.retryOn[0]: Unsupported value: "5XX"`}},
		{name: "ServiceRouter bad duration", doc: serviceRouter, old: "requestTimeout: 2s", new: "requestTimeout: 2 seconds",
			want: []string{`spec.routes[1].destination.requestTimeout: Invalid value: "2 seconds"`}},
		{name: "ServiceSplitter sum", doc: serviceSplitter, old: "weight: 10", new: "weight: 20",
			want: []string{"spec.splits: Invalid value: \"sum 110\": the weights must sum to 100"}},
		{name: "Server bad enum", doc: linkerdServer, old: "proxyProtocol: HTTP/1", new: "proxyProtocol: HTTP/1.1",
			want: []string{`spec.proxyProtocol: Unsupported value: "HTTP/1.1"`}},
		{name: "Server bad port name", doc: linkerdServer, old: "port: http", new: "port: http_port",
			want: []string{`spec.port: Invalid value: "http_port"`}},
		{name: "unknown kind", doc: strings.Replace(virtualService, "kind: VirtualService", "kind: VirtualSvc", 1),
			want: []string{"VirtualSvc meshgym/payments: kind: Invalid value: \"networking.istio.io/v1 VirtualSvc\"", "unknown apiVersion/kind"}},
		{name: "unknown version", doc: strings.Replace(virtualService, "networking.istio.io/v1", "networking.istio.io/v2", 1),
			want: []string{"unknown apiVersion/kind"}},
		{name: "Consul unknown top-level", doc: serviceSplitter + "extra: 1\n",
			want: []string{`unknown field "extra"`}},
		{name: "no kind", doc: "apiVersion: v1\nmetadata:\n  name: x\n", want: []string{"apiVersion: Required value"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := tt.doc
			if tt.old != "" {
				if !strings.Contains(doc, tt.old) {
					t.Fatalf("test edit %q not found", tt.old)
				}
				doc = strings.Replace(doc, tt.old, tt.new, 1)
			}
			errs := ValidateYAML(v, doc)
			if len(tt.want) == 0 {
				for _, e := range errs {
					t.Errorf("unexpected error: %v", e)
				}
				u, err := DecodeDocument([]byte(doc))
				if err != nil {
					t.Fatal(err)
				}
				if got := v.Method(u["apiVersion"].(string), u["kind"].(string)); got != tt.method {
					t.Errorf("Method = %q, want %q", got, tt.method)
				}
				return
			}
			if len(errs) == 0 {
				t.Fatalf("no error; want %q", tt.want)
			}
			all := joinErrs(errs)
			t.Log(all)
			for _, w := range tt.want {
				if !strings.Contains(all, w) {
					t.Errorf("errors lack %q:\n%s", w, all)
				}
			}
			for _, e := range errs {
				if strings.Contains(e.Error(), "\n") {
					t.Errorf("error is not one line: %q", e)
				}
			}
		})
	}
}

func joinErrs(errs []error) string {
	var b strings.Builder
	for _, e := range errs {
		b.WriteString(e.Error() + "\n")
	}
	return b.String()
}

// TestValidateDoesNotModify checks Validate leaves its argument alone
// (pruning and defaulting work on a copy).
func TestValidateDoesNotModify(t *testing.T) {
	v := validator(t)
	u, err := DecodeDocument([]byte(strings.Replace(virtualService, "attempts: 3", "attemps: 3", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if errs := v.Validate(u); len(errs) != 1 {
		t.Fatalf("want 1 error, got %v", errs)
	}
	retries := u["spec"].(map[string]any)["http"].([]any)[0].(map[string]any)["retries"].(map[string]any)
	if _, ok := retries["attemps"]; !ok {
		t.Error("Validate pruned the caller's object")
	}
}

func TestValidateYAMLMultiDoc(t *testing.T) {
	v := validator(t)
	src := "# note: a comment document\n---\n" + virtualService + "---\n" + strings.Replace(serviceRouter, "numRetries: 3", "numRetries: -1", 1) +
		"# note: istio: a note line\n---\n# only a comment\n---\nnot: [a mapping\n"
	errs := ValidateYAML(v, src)
	all := joinErrs(errs)
	if len(errs) != 2 || !strings.Contains(all, "spec.routes[1].destination.numRetries: Invalid value: -1: must be greater than or equal to 0") ||
		!strings.Contains(all, "document 3:") {
		t.Errorf("want the ServiceRouter bound error and a parse error of document 3, got:\n%s", all)
	}
}

func TestModuleAndLoad(t *testing.T) {
	dir, err := Module("istio.io/api")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(filepath.ToSlash(dir), "istio.io/api@v") {
		t.Errorf("Module(istio.io/api) = %s, want a module cache directory", dir)
	}
	if _, err := Module("example.com/not-required"); err == nil {
		t.Error("Module of a module go.mod does not require: no error")
	}
	v := validator(t)
	want := map[string]bool{
		"networking.istio.io/v1, Kind=VirtualService":       false,
		"networking.istio.io/v1beta1, Kind=DestinationRule": false,
		"networking.istio.io/v1alpha3, Kind=EnvoyFilter":    false,
		"gateway.networking.k8s.io/v1, Kind=HTTPRoute":      false,
	}
	for _, gvk := range v.Kinds() {
		if _, ok := want[gvk.String()]; ok {
			want[gvk.String()] = true
		}
	}
	for k, ok := range want {
		if !ok {
			t.Errorf("Default() lacks %s", k)
		}
	}
	exp, err := GatewayAPICRDFiles("experimental")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := GatewayAPICRDFiles("beta"); err == nil {
		t.Error("GatewayAPICRDFiles(beta): no error")
	}
	if len(exp) < 5 {
		t.Errorf("experimental channel files: %v", exp)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nspec: [\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(bad); err == nil || !strings.Contains(err.Error(), "bad.yaml") {
		t.Errorf("Load(bad) = %v, want an error naming the file", err)
	}
}

func TestTypedKindDoc(t *testing.T) {
	for _, k := range []struct{ api, kind string }{
		{"consul.hashicorp.com/v1alpha1", "ServiceRouter"},
		{"consul.hashicorp.com/v1alpha1", "ServiceDefaults"},
		{"policy.linkerd.io/v1alpha1", "HTTPLocalRateLimitPolicy"},
		{"linkerd.io/v1alpha2", "ServiceProfile"},
	} {
		if d := TypedKindDoc(k.api, k.kind); !strings.HasPrefix(d, "https://") {
			t.Errorf("TypedKindDoc(%s, %s) = %q", k.api, k.kind, d)
		}
	}
	if d := TypedKindDoc("v1", "Service"); d != "" {
		t.Errorf("TypedKindDoc(v1 Service) = %q, want \"\"", d)
	}
}
