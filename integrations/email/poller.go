package email

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// Poller defaults.
const (
	DefaultPollInterval = time.Minute
	DefaultMinBackoff   = time.Second
	DefaultMaxBackoff   = 5 * time.Minute
	DefaultBatchSize    = 100
)

// Poller pulls new mail from one IMAP mailbox and hands each message to a
// Handler at least once, in UID order within a poll (a deferred message is
// retried after the ones behind it).
//
// The server is the source of truth: every poll selects the folder, reads
// the size of each message after the cursor, refuses oversize mail from its
// RFC822.SIZE before downloading it, fetches and parses the rest, and calls
// the Handler. Only after the Handler succeeds is the message moved (UID
// MOVE, or COPY + STORE \Deleted + EXPUNGE where MOVE is missing) and the
// cursor advanced. IDLE, where the server has it, only makes polls come
// sooner; a poll also runs every PollInterval, because IDLE alone is known
// to miss mail on some servers.
type Poller struct {
	Mailbox Mailbox
	Handler Handler
	Cursors CursorStore
	// Limits apply to parsing (attachments, parts).
	Limits Limits
	// PollInterval is the time between polls without IDLE news; 0 means
	// DefaultPollInterval.
	PollInterval time.Duration
	// DisableIdle polls on the interval only.
	DisableIdle bool
	// MinBackoff and MaxBackoff bound the reconnect delay; 0 means the
	// defaults.
	MinBackoff, MaxBackoff time.Duration
	// BatchSize is the most messages one poll handles before it re-reads
	// the mailbox; 0 means DefaultBatchSize.
	BatchSize int
	// Logger receives connection and handler problems; nil means
	// slog.Default().
	Logger *slog.Logger
}

// PollStats counts what one poll did.
type PollStats struct {
	// Handled mail was accepted by the Handler and moved to the processed
	// folder (or marked \Seen in place).
	Handled int
	// Failed mail could not be parsed or was too large; the Handler
	// recorded it and it was moved to the failed folder.
	Failed int
	// Deferred mail was refused by the Handler (it returned an error) and
	// stays for the next poll.
	Deferred int
}

func (s *PollStats) add(o PollStats) {
	s.Handled += o.Handled
	s.Failed += o.Failed
	s.Deferred += o.Deferred
}

// Run keeps the mailbox drained until ctx is cancelled, reconnecting with
// exponential backoff and jitter after any failure. It returns nil once ctx
// is cancelled (the connection is closed by then, and the client's
// goroutines end with it), or a configuration error at once.
func (p *Poller) Run(ctx context.Context) error {
	if err := p.validate(); err != nil {
		return err
	}
	b := backoff{min: durationOr(p.MinBackoff, DefaultMinBackoff), max: durationOr(p.MaxBackoff, DefaultMaxBackoff)}
	for {
		err := p.runSession(ctx, &b)
		if ctx.Err() != nil {
			return nil
		}
		delay := b.next()
		p.logger().Warn("email: mailbox session ended; reconnecting", "mailbox", p.Mailbox.Name, "err", err, "delay", delay)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// PollOnce connects, drains the mailbox once and disconnects, without IDLE
// and without retrying a failed connection. It suits a scheduled job (a
// Temporal activity per poll) instead of Run.
func (p *Poller) PollOnce(ctx context.Context) (PollStats, error) {
	if err := p.validate(); err != nil {
		return PollStats{}, err
	}
	s, err := p.connect(ctx)
	if err != nil {
		return PollStats{}, err
	}
	defer s.close(ctx)
	return p.poll(ctx, s.c)
}

func (p *Poller) validate() error {
	switch {
	case p.Mailbox.Name == "":
		return errors.New("email: poller: mailbox has no name")
	case p.Mailbox.Addr == "":
		return fmt.Errorf("email: poller: mailbox %s has no address", p.Mailbox.Name)
	case p.Handler == nil:
		return fmt.Errorf("email: poller: mailbox %s has no handler", p.Mailbox.Name)
	case p.Cursors == nil:
		return fmt.Errorf("email: poller: mailbox %s has no cursor store", p.Mailbox.Name)
	}
	return nil
}

func (p *Poller) logger() *slog.Logger {
	if p.Logger != nil {
		return p.Logger
	}
	return slog.Default()
}

func durationOr(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// runSession serves one connection: poll, wait for news, poll again.
func (p *Poller) runSession(ctx context.Context, b *backoff) (err error) {
	// A panicking Handler must not take the process down; the mail stays
	// and the session restarts after the backoff.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("email: mailbox %s: panic: %v", p.Mailbox.Name, r)
		}
	}()
	s, err := p.connect(ctx)
	if err != nil {
		return err
	}
	defer s.close(ctx)
	for {
		stats, err := p.poll(ctx, s.c)
		if err != nil {
			return err
		}
		b.reset()
		// Mail that arrives while handled mail is being moved can slip
		// between the EXISTS and EXPUNGE notices (some servers fold them
		// together), so a poll that changed the folder is followed by
		// another one before going idle.
		if stats.Handled+stats.Failed > 0 {
			continue
		}
		if err := p.wait(ctx, s); err != nil {
			return err
		}
	}
}

// imapSession is one logged-in connection.
type imapSession struct {
	c *imapclient.Client
	// news is signalled when the server reports new mail (EXISTS).
	news chan struct{}
	// stop releases the context hook that closes the connection.
	stop func() bool
}

func (s *imapSession) close(ctx context.Context) {
	if ctx.Err() == nil {
		_ = s.c.Logout().Wait()
	}
	_ = s.c.Close()
	s.stop()
}

func (p *Poller) connect(ctx context.Context) (*imapSession, error) {
	mb := p.Mailbox
	host, _, err := net.SplitHostPort(mb.Addr)
	if err != nil {
		return nil, fmt.Errorf("email: mailbox %s: address %q: %w", mb.Name, mb.Addr, err)
	}
	tlsConfig := &tls.Config{}
	if mb.TLSConfig != nil {
		tlsConfig = mb.TLSConfig.Clone()
	}
	if tlsConfig.ServerName == "" {
		tlsConfig.ServerName = host
	}

	d := net.Dialer{Timeout: 30 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", mb.Addr)
	if err != nil {
		return nil, fmt.Errorf("email: mailbox %s: dial: %w", mb.Name, err)
	}
	// imapclient takes no context: cancellation closes the connection,
	// which ends every command in progress and the client's reader.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	fail := func(format string, err error) (*imapSession, error) {
		stop()
		conn.Close()
		if ctx.Err() != nil {
			err = errors.Join(ctx.Err(), err)
		}
		return nil, fmt.Errorf("email: mailbox %s: "+format, mb.Name, err)
	}

	news := make(chan struct{}, 1)
	opts := &imapclient.Options{
		TLSConfig: tlsConfig,
		UnilateralDataHandler: &imapclient.UnilateralDataHandler{
			Mailbox: func(data *imapclient.UnilateralDataMailbox) {
				if data.NumMessages != nil {
					select {
					case news <- struct{}{}:
					default:
					}
				}
			},
		},
	}
	var c *imapclient.Client
	switch {
	case mb.TLS:
		if tlsConfig.NextProtos == nil {
			tlsConfig.NextProtos = []string{"imap"}
		}
		tc := tls.Client(conn, tlsConfig)
		if err := tc.HandshakeContext(ctx); err != nil {
			return fail("TLS handshake: %w", err)
		}
		c = imapclient.New(tc, opts)
	case mb.StartTLS:
		if c, err = imapclient.NewStartTLS(conn, opts); err != nil {
			return fail("STARTTLS: %w", err)
		}
	default:
		c = imapclient.New(conn, opts)
	}
	if err := c.Login(mb.Username, mb.Password).Wait(); err != nil {
		c.Close()
		return fail("login: %w", err)
	}
	s := &imapSession{c: c, news: news, stop: stop}
	p.ensureFolders(s.c)
	return s, nil
}

// ensureFolders creates the processed and failed folders if they are
// missing. An error (typically "already exists") is not worth a log line:
// a real problem shows when mail is moved.
func (p *Poller) ensureFolders(c *imapclient.Client) {
	for _, f := range []string{p.Mailbox.ProcessedFolder, p.Mailbox.FailedFolder} {
		if f != "" {
			_ = c.Create(f, nil).Wait()
		}
	}
}

// wait blocks until the server reports news, the poll interval passes, or
// ctx is cancelled. It IDLEs when the server supports it.
func (p *Poller) wait(ctx context.Context, s *imapSession) error {
	timer := time.NewTimer(durationOr(p.PollInterval, DefaultPollInterval))
	defer timer.Stop()
	if p.DisableIdle || !s.c.Caps().Has(imap.CapIdle) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.c.Closed():
			return errors.New("email: connection closed by server")
		case <-s.news:
		case <-timer.C:
		}
		return nil
	}

	idle, err := s.c.Idle()
	if err != nil {
		return fmt.Errorf("email: mailbox %s: IDLE: %w", p.Mailbox.Name, err)
	}
	select {
	case <-ctx.Done():
	case <-s.c.Closed():
	case <-s.news:
	case <-timer.C:
	}
	closeErr := idle.Close()
	if closeErr == nil {
		closeErr = idle.Wait()
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if closeErr != nil {
		return fmt.Errorf("email: mailbox %s: IDLE: %w", p.Mailbox.Name, closeErr)
	}
	return nil
}
