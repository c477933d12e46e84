package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/mail"
	"os"
	"strings"
	"sync"

	"github.com/kanri-itsm/kanri/cases"
	"github.com/kanri-itsm/kanri/integrations/email"
	"github.com/kanri-itsm/kanri/policy"
	"github.com/kanri-itsm/kanri/store"
	"github.com/kanri-itsm/kanri/workflows"
)

// background runs the email connector beside the API: one poller per
// mailbox and the outbox mailer. Each stops when the app closes.
type background struct {
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	closers []func()
}

func (b *background) stop() {
	if b == nil {
		return
	}
	b.cancel()
	b.wg.Wait()
	for _, c := range b.closers {
		c()
	}
}

// secret is a password given directly or by the variable env names.
func secret(value, env string) string {
	if value == "" && env != "" {
		return os.Getenv(env)
	}
	return value
}

// startEmail starts the mailbox pollers and the mailer that the
// configuration asks for.
func (a *App) startEmail(svc *cases.Service, linkKey []byte) error {
	e := a.cfg.Email
	if len(e.Mailboxes) == 0 && e.SMTP.Addr == "" {
		return nil
	}
	from, err := mail.ParseAddress(e.From)
	if err != nil {
		return fmt.Errorf("email.from %q: %w", e.From, err)
	}
	domain := e.Domain
	if domain == "" {
		domain = from.Address[strings.LastIndex(from.Address, "@")+1:]
	}
	if a.bg == nil {
		ctx, cancel := context.WithCancel(context.Background())
		a.bg = &background{ctx: ctx, cancel: cancel}
	}
	ctx := a.bg.ctx

	own := []string{from.Address}
	for _, m := range e.Mailboxes {
		if strings.Contains(m.IMAP.Username, "@") {
			own = append(own, m.IMAP.Username)
		}
	}
	conn := &email.Connector{Cases: svc, Records: a.store, Routes: map[string]email.Route{},
		Classifier: email.Classifier{OwnDomain: domain, OwnAddresses: own}, Domain: domain, Logger: a.log,
		AuthServID: e.TrustedAuthServID}
	for _, m := range e.Mailboxes {
		conn.Routes[m.Name] = email.Route{Kind: m.Route.Kind, Service: m.Route.Service, Impact: m.Route.Impact, Urgency: m.Route.Urgency}
		p := &email.Poller{
			Mailbox: email.Mailbox{Name: m.Name, Addr: m.IMAP.Addr, TLS: m.IMAP.TLS, StartTLS: m.IMAP.StartTLS,
				Username: m.IMAP.Username, Password: secret(m.IMAP.Password, m.IMAP.PasswordEnv), Folder: m.Folder,
				ProcessedFolder: m.ProcessedFolder, FailedFolder: m.FailedFolder, MaxSize: m.MaxSize},
			Handler: conn, Cursors: cursors{a.store}, PollInterval: e.PollInterval.D(), Logger: a.log.With("mailbox", m.Name),
		}
		a.bg.wg.Go(func() {
			if err := p.Run(ctx); err != nil {
				a.log.Error("mailbox stopped", "mailbox", p.Mailbox.Name, "err", err)
			}
		})
	}
	if e.SMTP.Addr != "" {
		m := &email.Mailer{
			Outbox: a.store,
			Sender: email.NewSender(email.SMTPConfig{Addr: e.SMTP.Addr, TLS: e.SMTP.TLS, StartTLS: email.StartTLSPolicy(e.SMTP.StartTLS),
				Username: e.SMTP.Username, Password: secret(e.SMTP.Password, e.SMTP.PasswordEnv)}),
			Resolve: recipients(a.cfg),
			From:    email.Address{Name: from.Name, Address: from.Address},
			Domain:  domain,
			Cap:     &email.RecipientCap{Counter: caps{a.store}, Limit: e.DailyCap},
			Links:   links(e, linkKey),
			Logger:  a.log.With("part", "mailer"),
		}
		a.bg.wg.Go(func() { _ = m.Run(ctx) })
	}
	return nil
}

// recipients resolves an outbox recipient, a user id or "group:<id>", to
// the addresses of the configuration's users.
func recipients(cfg *policy.Config) func(string) []email.Recipient {
	return func(r string) []email.Recipient {
		ids := []string{r}
		if g, ok := strings.CutPrefix(r, "group:"); ok {
			grp, _ := cfg.GroupByID(g)
			ids = grp.Members
		}
		var out []email.Recipient
		for _, id := range ids {
			if u, ok := cfg.UserByID(id); ok && u.Email != "" {
				out = append(out, email.Recipient{UserID: u.ID, Address: email.Address{Name: u.Name, Address: u.Email}})
			}
		}
		return out
	}
}

// linkKey is the key that signs decision links: the configured one, or
// one Kanri made and keeps in its database for all its processes.
func (a *App) linkKey(ctx context.Context) ([]byte, error) {
	e := a.cfg.Email
	if k := secret(e.LinkSecret, e.LinkSecretEnv); k != "" {
		return []byte(k), nil
	}
	v, err := a.store.Setting(ctx, "email.link_secret", func() (string, error) {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return "", err
		}
		return hex.EncodeToString(b), nil
	})
	return []byte(v), err
}

// decider serves decision links, when the configuration gives the address
// they point at.
func (a *App) decider(ctx context.Context, svc *cases.Service) (*email.Decider, []byte, error) {
	if a.cfg.Email.BaseURL == "" {
		return nil, nil, nil
	}
	key, err := a.linkKey(ctx)
	if err != nil {
		return nil, nil, err
	}
	return &email.Decider{
		Key: key, Cases: svc, Use: a.store.UseToken, Used: a.store.TokenUsed,
		Actor: func(ctx context.Context, id string) (workflows.Actor, error) {
			u, groups, err := a.store.UserByID(ctx, id)
			if err != nil {
				return workflows.Actor{}, err
			}
			if !u.Active {
				return workflows.Actor{}, fmt.Errorf("user %s is not active", id)
			}
			return workflows.Actor{ID: u.ID, Roles: u.Roles, Groups: groups}, nil
		},
	}, key, nil
}

// cursors keeps the IMAP cursors in the application database.
type cursors struct{ s *store.Store }

func (c cursors) Load(ctx context.Context, mailbox string) (email.Cursor, error) {
	v, l, err := c.s.MailCursor(ctx, mailbox)
	return email.Cursor{UIDValidity: v, LastUID: l}, err
}

func (c cursors) Save(ctx context.Context, mailbox string, cur email.Cursor) error {
	return c.s.SaveMailCursor(ctx, mailbox, cur.UIDValidity, cur.LastUID)
}

// caps counts automatic mail per recipient and day in the database.
type caps struct{ s *store.Store }

func (c caps) Increment(ctx context.Context, recipient, day string) (int, error) {
	return c.s.IncrementMailCap(ctx, recipient, day)
}

func links(e policy.Email, key []byte) *email.LinkMaker {
	if e.BaseURL == "" || len(key) == 0 {
		return nil
	}
	return &email.LinkMaker{Key: key, BaseURL: e.BaseURL, TTL: e.LinkTTL.D()}
}
