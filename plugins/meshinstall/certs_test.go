package meshinstall

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"reflect"
	"testing"
	"time"
)

func parseCert(t *testing.T, s string) *x509.Certificate {
	t.Helper()
	b, rest := pem.Decode([]byte(s))
	if b == nil || b.Type != "CERTIFICATE" || len(rest) != 0 {
		t.Fatalf("not one PEM certificate: %q", s)
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestNewIdentityCerts(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 500, time.UTC)
	validFor := 365 * 24 * time.Hour
	ic, err := NewIdentityCerts(now, validFor)
	if err != nil {
		t.Fatal(err)
	}
	anchor := parseCert(t, ic.TrustAnchorPEM)
	issuer := parseCert(t, ic.IssuerCertPEM)

	wantNotAfter := now.Truncate(time.Second).Add(validFor)
	for _, tc := range []struct {
		cert       *x509.Certificate
		cn         string
		maxPathLen int
	}{
		{anchor, "root.linkerd.cluster.local", 1},
		{issuer, "identity.linkerd.cluster.local", 0},
	} {
		c := tc.cert
		if c.Subject.CommonName != tc.cn {
			t.Errorf("CN = %q, want %q", c.Subject.CommonName, tc.cn)
		}
		if !c.IsCA || !c.BasicConstraintsValid {
			t.Errorf("%s: IsCA %v, BasicConstraintsValid %v", tc.cn, c.IsCA, c.BasicConstraintsValid)
		}
		if c.MaxPathLen != tc.maxPathLen || (tc.maxPathLen == 0 && !c.MaxPathLenZero) {
			t.Errorf("%s: MaxPathLen %d (zero %v), want %d", tc.cn, c.MaxPathLen, c.MaxPathLenZero, tc.maxPathLen)
		}
		if c.KeyUsage&x509.KeyUsageCertSign == 0 {
			t.Errorf("%s: key usage %b lacks cert sign", tc.cn, c.KeyUsage)
		}
		if !c.NotAfter.Equal(wantNotAfter) || !c.NotBefore.Equal(now.Truncate(time.Second)) {
			t.Errorf("%s: valid %s..%s, want %s..%s", tc.cn, c.NotBefore, c.NotAfter, now.Truncate(time.Second), wantNotAfter)
		}
		pub, ok := c.PublicKey.(*ecdsa.PublicKey)
		if !ok || pub.Curve != elliptic.P256() || c.SignatureAlgorithm != x509.ECDSAWithSHA256 {
			t.Errorf("%s: key %T, signature %s; want ECDSA P-256", tc.cn, c.PublicKey, c.SignatureAlgorithm)
		}
	}
	if !ic.NotAfter.Equal(issuer.NotAfter) {
		t.Errorf("NotAfter = %s, issuer's = %s", ic.NotAfter, issuer.NotAfter)
	}

	// The issuer chains to the anchor, and the anchor is self-signed.
	roots := x509.NewCertPool()
	roots.AddCert(anchor)
	chains, err := issuer.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: now.Add(time.Hour), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	if err != nil || len(chains) != 1 || len(chains[0]) != 2 || !chains[0][1].Equal(anchor) {
		t.Fatalf("issuer does not verify against the anchor: %v (%d chains)", err, len(chains))
	}
	if err := anchor.CheckSignatureFrom(anchor); err != nil {
		t.Fatalf("anchor not self-signed: %v", err)
	}
	if _, err := issuer.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: wantNotAfter.Add(time.Minute), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err == nil {
		t.Fatal("issuer verifies after NotAfter")
	}
	other, err := NewIdentityCerts(now, validFor)
	if err != nil {
		t.Fatal(err)
	}
	otherRoots := x509.NewCertPool()
	otherRoots.AddCert(parseCert(t, other.TrustAnchorPEM))
	if _, err := issuer.Verify(x509.VerifyOptions{Roots: otherRoots, CurrentTime: now.Add(time.Hour), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err == nil {
		t.Fatal("issuer verifies against another call's anchor: keys are not fresh")
	}

	// The key is the issuer certificate's.
	kb, _ := pem.Decode([]byte(ic.IssuerKeyPEM))
	if kb == nil || kb.Type != "EC PRIVATE KEY" {
		t.Fatalf("issuer key PEM: %q", ic.IssuerKeyPEM)
	}
	key, err := x509.ParseECPrivateKey(kb.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if !key.PublicKey.Equal(issuer.PublicKey) {
		t.Fatal("issuer key does not match the issuer certificate")
	}
	if key.PublicKey.Equal(anchor.PublicKey) {
		t.Fatal("issuer key is the anchor's")
	}
}

func TestNewIdentityCertsRejectsNonPositiveValidity(t *testing.T) {
	for _, d := range []time.Duration{0, -time.Hour} {
		if _, err := NewIdentityCerts(time.Now(), d); err == nil {
			t.Errorf("validFor %s accepted", d)
		}
	}
}

func TestLinkerdValues(t *testing.T) {
	ic := IdentityCerts{TrustAnchorPEM: "anchor", IssuerCertPEM: "crt", IssuerKeyPEM: "key"}
	// Value paths of linkerd-control-plane's values.yaml.
	want := map[string]any{
		"identityTrustAnchorsPEM": "anchor",
		"identity": map[string]any{"issuer": map[string]any{"tls": map[string]any{
			"crtPEM": "crt",
			"keyPEM": "key",
		}}},
	}
	if got := ic.LinkerdValues(); !reflect.DeepEqual(got, want) {
		t.Fatalf("LinkerdValues = %#v", got)
	}
	a, b := ic.LinkerdValues(), ic.LinkerdValues()
	a["identity"].(map[string]any)["issuer"] = nil
	if b["identity"].(map[string]any)["issuer"] == nil {
		t.Fatal("LinkerdValues shares maps between calls")
	}
}
