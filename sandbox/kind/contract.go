// Package kind is the kind platform: the sample system on a local
// Kubernetes cluster made with sigs.k8s.io/kind's Go API, deployed with
// client-go (server-side apply), optionally meshed by a real mesh that a
// mesh plugin installs (plugins/kubemesh). One cluster per lab or mesh
// ("meshgym-istio", "meshgym-linkerd" …) so several coexist; clusters
// meshgym created are recorded in a registry so `meshgym down` removes
// them and nothing else.
//
// Layout: clusters.go is the cluster lifecycle behind the Clusters
// interface (kind's cluster.Provider; fakes in tests); platform.go is the
// sandbox.Platform (Deploy: namespace, Deployments, Services, rollout,
// components through the pod proxy); manifests.go renders the sample
// system's objects.
package kind

import (
	"context"
	"errors"
	"time"
)

// Defaults of the kind platform.
const (
	// NodeImage is the pinned kind node image (kind v0.33.0's default,
	// sigs.k8s.io/kind/pkg/apis/config/defaults.Image). It is never pulled
	// by a test; `meshgym up` pulls it when missing (internet needed).
	NodeImage = "kindest/node:v1.37.0@sha256:a1ed56cfb0e7b93589bdf97c8cd566405a265939e3620fc4f5de89adff580ae5"
	// Namespace is the lab namespace the sample system runs in; meshconfig
	// renders patterns into it.
	Namespace = "meshgym"
	// EntryNodePort is the NodePort of the entry service; the cluster maps
	// a host port (8200 unless taken) on 127.0.0.1 to it.
	EntryNodePort = 30080
	// DefaultEntryHostPort is the host port asked for first.
	DefaultEntryHostPort = 8200
	// AppPort is the sample app's container port (as fake-service).
	AppPort = 9090
	// ClusterPrefix starts every cluster name meshgym makes by default.
	ClusterPrefix = "meshgym-"
)

// ErrNoCluster is wrapped when a named cluster does not exist.
var ErrNoCluster = errors.New("no such kind cluster")

// ErrNoNodeImage is wrapped when the node image is not in the local
// Docker and may not be pulled.
var ErrNoNodeImage = errors.New("kind node image not present")

// ClusterSpec is a cluster to create.
type ClusterSpec struct {
	Name      string
	NodeImage string // "" = NodeImage
	// EntryHostPort is the host port on 127.0.0.1 mapped to EntryNodePort
	// (0 = DefaultEntryHostPort, or a free port when it is taken).
	EntryHostPort int
	// Mesh is recorded with the cluster ("istio"; "" none).
	Mesh string
	// Wait bounds the wait for the control plane (0 = 3 minutes).
	Wait time.Duration
}

// ClusterInfo is a cluster meshgym created.
type ClusterInfo struct {
	Name          string    `json:"name"`
	Mesh          string    `json:"mesh,omitempty"`
	EntryHostPort int       `json:"entry_host_port"`
	NodeImage     string    `json:"node_image"`
	Created       time.Time `json:"created"`
	// Kubeconfig is the cluster's kubeconfig (from kind, not stored in the
	// registry).
	Kubeconfig string `json:"-"`
}

// Clusters is the cluster lifecycle the platform, `meshgym up` and
// `meshgym down` need. KindClusters implements it on sigs.k8s.io/kind;
// tests use a fake.
type Clusters interface {
	// Get returns a cluster meshgym created, with its kubeconfig; a
	// cluster that is not in the registry or no longer exists is an error
	// wrapping ErrNoCluster (and a gone one is dropped from the registry).
	Get(ctx context.Context, name string) (ClusterInfo, error)
	// Create creates the cluster and records it in the registry before
	// anything else can fail, so a half-made cluster is still found by
	// Delete and `meshgym down`. A cluster of that name that meshgym did
	// not create is refused. A missing node image is ErrNoNodeImage unless
	// pull is true.
	Create(ctx context.Context, spec ClusterSpec, pull bool, progress func(string)) (ClusterInfo, error)
	// Delete deletes a cluster meshgym created and drops it from the
	// registry; one that is already gone is not an error.
	Delete(ctx context.Context, name string) error
	// List returns the clusters meshgym created that still exist.
	List(ctx context.Context) ([]ClusterInfo, error)
	// LoadImages copies images from the local Docker daemon into every
	// node of the cluster (as `kind load docker-image`).
	LoadImages(ctx context.Context, name string, images []string) error
}
