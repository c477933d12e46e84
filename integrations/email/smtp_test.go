package email

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// smtpSink is a real SMTP server (go-smtp) that records what it receives.
type smtpSink struct {
	addr string

	mu         sync.Mutex
	deliveries []delivery
	// rejectRcpt, when set, answers RCPT with this error.
	rejectRcpt *smtp.SMTPError
	// stall makes DATA hang until the test ends.
	stall chan struct{}
}

type delivery struct {
	from string
	to   []string
	data []byte
	tls  bool
	user string
}

type sinkSession struct {
	sink *smtpSink
	conn *smtp.Conn
	cur  delivery
}

func (s *sinkSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *sinkSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != "kanri" || pass != "s3cret" {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "bad credentials"}
		}
		s.cur.user = user
		return nil
	}), nil
}

func (s *sinkSession) Mail(from string, _ *smtp.MailOptions) error {
	s.cur.from = from
	return nil
}

func (s *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.sink.mu.Lock()
	rej := s.sink.rejectRcpt
	s.sink.mu.Unlock()
	if rej != nil {
		return rej
	}
	s.cur.to = append(s.cur.to, to)
	return nil
}

func (s *sinkSession) Data(r io.Reader) error {
	if s.sink.stall != nil {
		<-s.sink.stall
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.cur.data = b
	_, s.cur.tls = s.conn.TLSConnectionState()
	s.sink.mu.Lock()
	s.sink.deliveries = append(s.sink.deliveries, s.cur)
	s.sink.mu.Unlock()
	return nil
}

func (s *sinkSession) Reset()        { s.cur = delivery{user: s.cur.user} }
func (s *sinkSession) Logout() error { return nil }

func startSMTPSink(t *testing.T, tlsConfig *tls.Config) *smtpSink {
	t.Helper()
	sink := &smtpSink{}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &sinkSession{sink: sink, conn: c}, nil
	}))
	srv.Domain = "sink.test"
	srv.ErrorLog = log.New(io.Discard, "", 0)
	srv.TLSConfig = tlsConfig
	srv.ReadTimeout, srv.WriteTimeout = 5*time.Second, 5*time.Second
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sink.addr = ln.Addr().String()
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return sink
}

func (s *smtpSink) received() []delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]delivery(nil), s.deliveries...)
}

// testCert returns a server config with a fresh self-signed certificate for
// 127.0.0.1 and a client config that trusts it.
func testCert(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "kanri test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}},
		&tls.Config{RootCAs: pool}
}

func composed(t *testing.T) *Composed {
	t.Helper()
	c, err := Compose(notification())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestSenderPlainRelay(t *testing.T) {
	sink := startSMTPSink(t, nil)
	c := composed(t)
	// Opportunistic STARTTLS against a server without it sends in clear.
	if err := NewSender(SMTPConfig{Addr: sink.addr, HelloName: "kanri.example"}).SendComposed(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	got := sink.received()
	if len(got) != 1 {
		t.Fatalf("deliveries = %d", len(got))
	}
	d := got[0]
	if d.from != "help@kanri.example" || len(d.to) != 2 || d.to[0] != "taro@example.jp" || d.to[1] != "boss@example.jp" || d.tls {
		t.Errorf("delivery = %+v", d)
	}
	if string(d.data) != string(c.Raw) {
		t.Errorf("data differs from the composed message:\n%q\n%q", d.data, c.Raw)
	}
	msg := mustParse(t, d.data, Limits{})
	if msg.MessageID != c.MessageID || msg.Header.Get("X-Kanri-Case") != "INC-000123" {
		t.Errorf("received message: %q %v", msg.MessageID, msg.Header)
	}
}

func TestSenderStartTLSAndAuth(t *testing.T) {
	serverTLS, clientTLS := testCert(t)
	sink := startSMTPSink(t, serverTLS)
	s := NewSender(SMTPConfig{Addr: sink.addr, StartTLS: StartTLSRequired, Username: "kanri", Password: "s3cret", TLSConfig: clientTLS})
	if err := s.SendComposed(context.Background(), composed(t)); err != nil {
		t.Fatal(err)
	}
	got := sink.received()
	if len(got) != 1 || !got[0].tls || got[0].user != "kanri" {
		t.Fatalf("deliveries = %+v", got)
	}

	bad := NewSender(SMTPConfig{Addr: sink.addr, Username: "kanri", Password: "wrong", TLSConfig: clientTLS})
	if err := bad.SendComposed(context.Background(), composed(t)); err == nil || !IsPermanent(err) {
		t.Errorf("wrong password: err = %v, permanent = %v", err, IsPermanent(err))
	}

	// An untrusted certificate is an error, not a silent downgrade.
	untrusting := NewSender(SMTPConfig{Addr: sink.addr})
	if err := untrusting.SendComposed(context.Background(), composed(t)); err == nil {
		t.Error("sent over STARTTLS with an untrusted certificate")
	}
}

func TestSenderImplicitTLS(t *testing.T) {
	serverTLS, clientTLS := testCert(t)
	sink := &smtpSink{}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &sinkSession{sink: sink, conn: c}, nil
	}))
	srv.ErrorLog = log.New(io.Discard, "", 0)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", serverTLS)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	s := NewSender(SMTPConfig{Addr: ln.Addr().String(), TLS: true, Username: "kanri", Password: "s3cret", TLSConfig: clientTLS})
	if err := s.SendComposed(context.Background(), composed(t)); err != nil {
		t.Fatal(err)
	}
	if got := sink.received(); len(got) != 1 || !got[0].tls || got[0].user != "kanri" {
		t.Fatalf("deliveries = %+v", got)
	}
}

func TestSenderRefusals(t *testing.T) {
	sink := startSMTPSink(t, nil)
	ctx := context.Background()

	if err := NewSender(SMTPConfig{Addr: sink.addr, StartTLS: StartTLSRequired}).SendComposed(ctx, composed(t)); err == nil {
		t.Error("required STARTTLS: sent without it")
	}
	if err := NewSender(SMTPConfig{Addr: sink.addr, Username: "kanri", Password: "s3cret"}).SendComposed(ctx, composed(t)); err == nil {
		t.Error("credentials were sent over a clear connection")
	}
	if err := NewSender(SMTPConfig{Addr: sink.addr}).Send(ctx, "a@b", nil, []byte("x")); err == nil {
		t.Error("sent to nobody")
	}
	if len(sink.received()) != 0 {
		t.Errorf("deliveries = %+v", sink.received())
	}

	sink.mu.Lock()
	sink.rejectRcpt = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
	sink.mu.Unlock()
	err := NewSender(SMTPConfig{Addr: sink.addr}).SendComposed(ctx, composed(t))
	if err == nil || !IsPermanent(err) {
		t.Errorf("550: err = %v, permanent = %v", err, IsPermanent(err))
	}

	sink.mu.Lock()
	sink.rejectRcpt = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"}
	sink.mu.Unlock()
	err = NewSender(SMTPConfig{Addr: sink.addr}).SendComposed(ctx, composed(t))
	if err == nil || IsPermanent(err) {
		t.Errorf("451: err = %v, permanent = %v", err, IsPermanent(err))
	}
}

func TestSenderHonoursContext(t *testing.T) {
	sink := startSMTPSink(t, nil)
	sink.stall = make(chan struct{})
	t.Cleanup(func() { close(sink.stall) })

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := NewSender(SMTPConfig{Addr: sink.addr}).SendComposed(ctx, composed(t))
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Send took %v after its deadline", d)
	}
}
