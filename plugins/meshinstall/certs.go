package meshinstall

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"time"
)

// Linkerd identity certificate names, as in
// https://linkerd.io/2/tasks/generate-certificates/ (step certificate
// create root.linkerd.cluster.local … --profile root-ca, then
// identity.linkerd.cluster.local … --profile intermediate-ca).
const (
	TrustAnchorCN = "root.linkerd.cluster.local"
	IssuerCN      = "identity.linkerd.cluster.local"
)

// IdentityCerts are the PEM-encoded trust anchor and issuer certificate and
// key that Linkerd's identity service needs
// (https://linkerd.io/2/tasks/generate-certificates/): an ECDSA P-256
// root CA "root.linkerd.cluster.local" and an intermediate CA
// "identity.linkerd.cluster.local" signed by it (path length 0).
type IdentityCerts struct {
	TrustAnchorPEM string
	IssuerCertPEM  string
	IssuerKeyPEM   string
	// NotAfter is when the issuer certificate expires.
	NotAfter time.Time
}

// NewIdentityCerts makes fresh identity certificates valid from now for
// validFor (both certificates: NotBefore now, NotAfter now+validFor,
// whole seconds as X.509 stores them). Keys are ECDSA P-256, the only
// algorithm Linkerd's identity accepts; the trust anchor is a CA with
// path length 1 and key usage cert sign + CRL sign (step's root-ca
// profile), the issuer a CA with path length 0 signed by it (step's
// intermediate-ca profile). The trust anchor's key is discarded: nothing
// but this issuer is ever signed by it. The issuer key is PEM "EC PRIVATE
// KEY" (SEC 1), as step writes it. validFor <= 0 is an error.
func NewIdentityCerts(now time.Time, validFor time.Duration) (IdentityCerts, error) {
	if validFor <= 0 {
		return IdentityCerts{}, fmt.Errorf("linkerd identity certificates: validity %s must be positive", validFor)
	}
	notBefore := now.UTC().Truncate(time.Second)
	notAfter := notBefore.Add(validFor)

	anchorKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return IdentityCerts{}, fmt.Errorf("linkerd trust anchor key: %w", err)
	}
	anchorTmpl, err := caTemplate(TrustAnchorCN, notBefore, notAfter, 1)
	if err != nil {
		return IdentityCerts{}, err
	}
	anchorDER, err := x509.CreateCertificate(rand.Reader, anchorTmpl, anchorTmpl, &anchorKey.PublicKey, anchorKey)
	if err != nil {
		return IdentityCerts{}, fmt.Errorf("linkerd trust anchor certificate: %w", err)
	}
	anchor, err := x509.ParseCertificate(anchorDER)
	if err != nil {
		return IdentityCerts{}, fmt.Errorf("linkerd trust anchor certificate: %w", err)
	}

	issuerKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return IdentityCerts{}, fmt.Errorf("linkerd issuer key: %w", err)
	}
	issuerTmpl, err := caTemplate(IssuerCN, notBefore, notAfter, 0)
	if err != nil {
		return IdentityCerts{}, err
	}
	issuerDER, err := x509.CreateCertificate(rand.Reader, issuerTmpl, anchor, &issuerKey.PublicKey, anchorKey)
	if err != nil {
		return IdentityCerts{}, fmt.Errorf("linkerd issuer certificate: %w", err)
	}
	keyDER, err := x509.MarshalECPrivateKey(issuerKey)
	if err != nil {
		return IdentityCerts{}, fmt.Errorf("linkerd issuer key: %w", err)
	}
	return IdentityCerts{
		TrustAnchorPEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: anchorDER})),
		IssuerCertPEM:  string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: issuerDER})),
		IssuerKeyPEM:   string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})),
		NotAfter:       notAfter,
	}, nil
}

func caTemplate(cn string, notBefore, notAfter time.Time, maxPathLen int) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("certificate serial number: %w", err)
	}
	return &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            maxPathLen,
		MaxPathLenZero:        maxPathLen == 0,
	}, nil
}

// LinkerdValues gives the certificates as the values of the
// linkerd-control-plane chart (charts/linkerd-control-plane/values.yaml
// in github.com/linkerd/linkerd2; https://linkerd.io/2/tasks/install-helm/:
// --set-file identityTrustAnchorsPEM=ca.crt
// --set-file identity.issuer.tls.crtPEM=issuer.crt
// --set-file identity.issuer.tls.keyPEM=issuer.key):
//
//	identityTrustAnchorsPEM: <trust anchor PEM>
//	identity:
//	  issuer:
//	    tls:
//	      crtPEM: <issuer certificate PEM>
//	      keyPEM: <issuer key PEM>
//
// Merge it into the chart's other values (a fresh map each call).
func (c IdentityCerts) LinkerdValues() map[string]any {
	return map[string]any{
		"identityTrustAnchorsPEM": c.TrustAnchorPEM,
		"identity": map[string]any{
			"issuer": map[string]any{
				"tls": map[string]any{
					"crtPEM": c.IssuerCertPEM,
					"keyPEM": c.IssuerKeyPEM,
				},
			},
		},
	}
}
