package email

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/smtp"
	"net/textproto"
	"time"
)

// StartTLSPolicy says whether the Sender upgrades a plain SMTP connection.
type StartTLSPolicy string

// STARTTLS policies.
const (
	// StartTLSOpportunistic upgrades when the server offers STARTTLS (the
	// default).
	StartTLSOpportunistic StartTLSPolicy = "opportunistic"
	// StartTLSRequired fails when the server does not offer STARTTLS.
	StartTLSRequired StartTLSPolicy = "required"
	// StartTLSOff never upgrades; for a local relay.
	StartTLSOff StartTLSPolicy = "off"
)

// SMTPConfig configures the outbound relay.
type SMTPConfig struct {
	// Addr is host:port of the relay.
	Addr string `yaml:"addr" json:"addr"`
	// TLS selects implicit TLS (SMTPS, usually port 465).
	TLS bool `yaml:"tls" json:"tls"`
	// StartTLS applies when TLS is false; empty means opportunistic.
	StartTLS StartTLSPolicy `yaml:"starttls" json:"starttls"`
	// Username and Password enable AUTH PLAIN.
	Username string `yaml:"username" json:"username"`
	Password string `yaml:"password" json:"-"`
	// AllowInsecureAuth permits AUTH over an unencrypted connection. Off by
	// default: credentials only travel over TLS.
	AllowInsecureAuth bool `yaml:"allow_insecure_auth" json:"allow_insecure_auth"`
	// HelloName is the EHLO name; empty means "localhost".
	HelloName string `yaml:"hello_name" json:"hello_name"`
	// Timeout bounds the whole exchange when the context has no deadline;
	// 0 means one minute.
	Timeout time.Duration `yaml:"timeout" json:"timeout"`
	// TLSConfig overrides the TLS settings (tests use it to trust a test
	// certificate). ServerName defaults to the host of Addr.
	TLSConfig *tls.Config `yaml:"-" json:"-"`
}

// Sender delivers composed mail to an SMTP relay, one connection per send.
type Sender struct {
	cfg SMTPConfig
}

// NewSender returns a Sender for cfg.
func NewSender(cfg SMTPConfig) *Sender {
	return &Sender{cfg: cfg}
}

// SendComposed sends c to its envelope recipients.
func (s *Sender) SendComposed(ctx context.Context, c *Composed) error {
	return s.Send(ctx, c.EnvelopeFrom, c.Recipients, c.Raw)
}

// Send delivers raw to the recipients with from as reverse path. Errors from
// the server keep their SMTP code; IsPermanent tells a rejection (5xx) that
// retrying will not fix from a temporary failure.
func (s *Sender) Send(ctx context.Context, from string, to []string, raw []byte) error {
	if len(to) == 0 {
		return errors.New("email: send: no recipients")
	}
	timeout := s.cfg.Timeout
	if timeout <= 0 {
		timeout = time.Minute
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	host, _, err := net.SplitHostPort(s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("email: send: relay address %q: %w", s.cfg.Addr, err)
	}
	tlsConfig := &tls.Config{}
	if s.cfg.TLSConfig != nil {
		tlsConfig = s.cfg.TLSConfig.Clone()
	}
	if tlsConfig.ServerName == "" {
		tlsConfig.ServerName = host
	}

	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("email: send: dial %s: %w", s.cfg.Addr, err)
	}
	if s.cfg.TLS {
		tc := tls.Client(conn, tlsConfig)
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return fmt.Errorf("email: send: TLS handshake with %s: %w", s.cfg.Addr, err)
		}
		conn = tc
	}
	// net/smtp takes no context: when ctx ends (cancel or deadline), the
	// connection is closed, which unblocks any read or write in progress.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	err = s.session(conn, host, tlsConfig, from, to, raw)
	if ctxErr := ctx.Err(); err != nil && ctxErr != nil {
		return fmt.Errorf("email: send via %s: %w (%w)", s.cfg.Addr, ctxErr, err)
	}
	if err != nil {
		return fmt.Errorf("email: send via %s: %w", s.cfg.Addr, err)
	}
	return nil
}

func (s *Sender) session(conn net.Conn, host string, tlsConfig *tls.Config, from string, to []string, raw []byte) error {
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("greeting: %w", err)
	}
	defer c.Close()
	if s.cfg.HelloName != "" {
		if err := c.Hello(s.cfg.HelloName); err != nil {
			return fmt.Errorf("EHLO: %w", err)
		}
	}
	encrypted := s.cfg.TLS
	if !s.cfg.TLS && s.cfg.StartTLS != StartTLSOff {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(tlsConfig); err != nil {
				return fmt.Errorf("STARTTLS: %w", err)
			}
			encrypted = true
		} else if s.cfg.StartTLS == StartTLSRequired {
			return errors.New("server does not offer STARTTLS, which is required")
		}
	}
	if s.cfg.Username != "" {
		if !encrypted && !s.cfg.AllowInsecureAuth {
			return errors.New("refusing to send credentials over an unencrypted connection")
		}
		if err := c.Auth(plainAuth{user: s.cfg.Username, pass: s.cfg.Password}); err != nil {
			return fmt.Errorf("AUTH: %w", err)
		}
	}
	if err := c.Mail(from); err != nil {
		return fmt.Errorf("MAIL FROM: %w", err)
	}
	for _, rcpt := range to {
		if err := c.Rcpt(rcpt); err != nil {
			return fmt.Errorf("RCPT TO %s: %w", rcpt, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	if _, err := w.Write(raw); err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	// The message is accepted once DATA is; a failed QUIT changes nothing.
	_ = c.Quit()
	return nil
}

// plainAuth is AUTH PLAIN without net/smtp's own TLS check: Send decides
// about encryption itself (AllowInsecureAuth).
type plainAuth struct{ user, pass string }

func (a plainAuth) Start(*smtp.ServerInfo) (string, []byte, error) {
	return "PLAIN", []byte("\x00" + a.user + "\x00" + a.pass), nil
}

func (a plainAuth) Next(_ []byte, more bool) ([]byte, error) {
	if more {
		return nil, errors.New("unexpected server challenge")
	}
	return nil, nil
}

// IsPermanent reports whether err is a permanent SMTP rejection (5xx):
// retrying the same mail will fail again.
func IsPermanent(err error) bool {
	var te *textproto.Error
	return errors.As(err, &te) && te.Code >= 500 && te.Code < 600
}
