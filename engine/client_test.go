package engine

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/interceptor"
)

// writeCert writes a self-signed certificate and its key as PEM files.
func writeCert(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "temporal.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, DNSNames: []string{"temporal.test"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

func TestTLSConfig(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeCert(t, dir)
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}

	tc, err := tlsConfig(ClientOptions{CAFile: cert, CertFile: cert, KeyFile: key, ServerName: "temporal.test"})
	if err != nil {
		t.Fatalf("mTLS config: %v", err)
	}
	if tc.RootCAs == nil || len(tc.Certificates) != 1 || tc.ServerName != "temporal.test" || tc.MinVersion == 0 {
		t.Fatalf("config %+v lacks the CA, the client certificate or the server name", tc)
	}

	for _, c := range []struct {
		name string
		o    ClientOptions
		want string
	}{
		{"missing CA", ClientOptions{CAFile: filepath.Join(dir, "nope.pem")}, "read temporal CA"},
		{"CA without PEM", ClientOptions{CAFile: notPEM}, "no PEM certificate"},
		{"certificate without key", ClientOptions{CertFile: cert}, "client certificate"},
		{"key that is no key", ClientOptions{CertFile: cert, KeyFile: notPEM}, "client certificate"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := tlsConfig(c.o); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v, want one that says %q", err, c.want)
			}
		})
	}
}

func TestClientOptions(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeCert(t, dir)
	h := client.MetricsNopHandler
	ic := &interceptor.InterceptorBase{}

	opts, err := clientOptions(ClientOptions{Address: "temporal:7233", Namespace: "kanri-prod",
		MetricsHandler: h, Interceptors: []interceptor.ClientInterceptor{ic}})
	if err != nil {
		t.Fatal(err)
	}
	if opts.HostPort != "temporal:7233" || opts.Namespace != "kanri-prod" {
		t.Errorf("address and namespace: %q %q", opts.HostPort, opts.Namespace)
	}
	if opts.MetricsHandler != h || len(opts.Interceptors) != 1 || opts.Interceptors[0] != ic {
		t.Errorf("the metrics handler and the interceptors must reach the SDK: %+v", opts)
	}
	if opts.ConnectionOptions.TLS != nil {
		t.Error("TLS on without being asked for")
	}

	for _, c := range []struct {
		name string
		o    ClientOptions
		mtls bool
	}{
		{"tls flag", ClientOptions{TLS: true}, false},
		{"server name alone", ClientOptions{ServerName: "temporal.test"}, false},
		{"CA alone", ClientOptions{CAFile: cert}, false},
		{"mTLS", ClientOptions{CertFile: cert, KeyFile: key}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			opts, err := clientOptions(c.o)
			if err != nil {
				t.Fatal(err)
			}
			tc := opts.ConnectionOptions.TLS
			if tc == nil {
				t.Fatal("TLS off")
			}
			if got := len(tc.Certificates) == 1; got != c.mtls {
				t.Errorf("client certificate presented: %v, want %v", got, c.mtls)
			}
		})
	}
	if _, err := clientOptions(ClientOptions{KeyFile: key}); err == nil {
		t.Error("a key without a certificate was accepted")
	}
}

// The embedded engine is reached over loopback, where gzip only costs CPU;
// a cluster keeps the SDK's default.
func TestUncompressedClientOptions(t *testing.T) {
	opts, err := clientOptions(ClientOptions{Address: "127.0.0.1:7233", Uncompressed: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := opts.ConnectionOptions.GrpcCompression.(*client.GrpcCompressionNone); !ok {
		t.Errorf("compression %T, want none", opts.ConnectionOptions.GrpcCompression)
	}
	if opts, _ = clientOptions(ClientOptions{Address: "temporal:7233"}); opts.ConnectionOptions.GrpcCompression != nil {
		t.Errorf("a cluster's client sets compression %T; the SDK's default (gzip) should stay", opts.ConnectionOptions.GrpcCompression)
	}
}
