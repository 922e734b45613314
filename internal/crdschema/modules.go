package crdschema

// The CRD files are read from these modules' directories at the version
// go.mod requires; importing a package of each keeps that version in
// go.mod (go mod tidy drops a module nothing imports) and makes `go test`
// download it on a fresh machine. istio.io/api is pinned to the Istio
// release plugins/kubemesh installs (1.27.1), so the schemas are the ones
// that cluster serves.
import (
	_ "istio.io/api/networking/v1"
	_ "sigs.k8s.io/gateway-api/apis/v1"
)
