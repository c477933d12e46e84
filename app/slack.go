package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/kanri-itsm/kanri/cases"
	"github.com/kanri-itsm/kanri/integrations/slack"
	"github.com/kanri-itsm/kanri/store"
	"github.com/kanri-itsm/kanri/workflows"
)

// slackConfig reads the configuration's slack section strictly; nil when
// there is none.
func slackConfig(n yaml.Node) (*slack.Config, error) {
	if n.Kind == 0 {
		return nil, nil
	}
	b, err := yaml.Marshal(map[string]*yaml.Node{"slack": &n})
	if err != nil {
		return nil, fmt.Errorf("slack: %w", err)
	}
	var doc struct {
		Slack *slack.Config `yaml:"slack"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("slack: %w", err)
	}
	if doc.Slack == nil {
		return nil, nil
	}
	if err := doc.Slack.Resolve(nil); err != nil {
		return nil, err
	}
	return doc.Slack, doc.Slack.Validate()
}

// startSlack starts the Slack connector the configuration asks for: its
// HTTP endpoints, Socket Mode when there is an app token, and the notifier.
func (a *App) startSlack(svc *cases.Service) (*slack.Connector, error) {
	cfg, err := slackConfig(a.cfg.Slack)
	if err != nil || cfg == nil {
		return nil, err
	}
	cat := slack.Catalogue{}
	for _, s := range a.cfg.Services {
		cat.Services = append(cat.Services, slack.Choice{Value: s.ID, Label: s.Name})
	}
	for _, it := range a.cfg.RequestCatalogue {
		cat.Items = append(cat.Items, slack.Choice{Value: it.ID, Label: it.Name})
	}
	conn, err := slack.New(*cfg, slack.Deps{
		Cases: svc, Directory: slackDirectory{a.store}, Messages: slackMessages{a.store}, Replay: slackReplay{a.store},
		Catalogue: cat, Logger: a.log.With("part", "slack"),
	})
	if err != nil {
		return nil, err
	}
	if a.bg == nil {
		ctx, cancel := context.WithCancel(context.Background())
		a.bg = &background{cancel: cancel, ctx: ctx}
	}
	ctx := a.bg.ctx
	if cfg.AppToken != "" {
		a.bg.wg.Go(func() {
			if err := conn.RunSocketMode(ctx); err != nil && ctx.Err() == nil {
				a.log.Error("slack socket mode stopped", "err", err)
			}
		})
	}
	n := conn.NewNotifier(slackOutbox{a.store})
	n.Interval = time.Second
	a.bg.wg.Go(func() { _ = n.Run(ctx) })
	a.bg.closers = append(a.bg.closers, func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = conn.Close(cctx)
	})
	return conn, nil
}

// slackDirectory maps Slack users to Kanri users in the application
// database.
type slackDirectory struct{ s *store.Store }

func (d slackDirectory) UserBySlackID(ctx context.Context, teamID, slackUserID string) (workflows.Actor, bool, error) {
	u, groups, err := d.s.SlackUser(ctx, teamID, slackUserID)
	if errors.Is(err, store.ErrNotFound) {
		return workflows.Actor{}, false, nil
	}
	if err != nil {
		return workflows.Actor{}, false, err
	}
	return workflows.Actor{ID: u.ID, Roles: u.Roles, Groups: groups}, true, nil
}

func (d slackDirectory) SlackUserOf(ctx context.Context, teamID, userID string) (string, bool, error) {
	id, err := d.s.SlackIDOf(ctx, teamID, userID)
	if errors.Is(err, store.ErrNotFound) {
		return "", false, nil
	}
	return id, err == nil, err
}

func (d slackDirectory) GroupMembers(ctx context.Context, groupID string) ([]string, error) {
	return d.s.GroupMembers(ctx, groupID)
}

func (d slackDirectory) SaveLinkCode(ctx context.Context, p slack.PendingLink) error {
	return d.s.SaveSlackLinkCode(ctx, p.CodeHash, p.UserID, p.ExpiresAt)
}

func (d slackDirectory) TakeLinkCode(ctx context.Context, codeHash string) (slack.PendingLink, bool, error) {
	user, exp, err := d.s.TakeSlackLinkCode(ctx, codeHash)
	if errors.Is(err, store.ErrNotFound) {
		return slack.PendingLink{}, false, nil
	}
	if err != nil {
		return slack.PendingLink{}, false, err
	}
	return slack.PendingLink{CodeHash: codeHash, UserID: user, ExpiresAt: exp}, true, nil
}

func (d slackDirectory) Link(ctx context.Context, teamID, slackUserID, userID string) error {
	return d.s.LinkSlackUser(ctx, teamID, slackUserID, userID)
}

// slackMessages keeps the Slack messages Kanri posted.
type slackMessages struct{ s *store.Store }

func (m slackMessages) PutMessage(ctx context.Context, r slack.MessageRef) error {
	return m.s.PutSlackMessage(ctx, store.SlackMessage{CaseID: r.CaseID, Key: r.Key, Channel: r.Channel, TS: r.TS, User: r.User})
}

func (m slackMessages) Message(ctx context.Context, caseID, key string) (slack.MessageRef, bool, error) {
	ms, err := m.s.SlackMessages(ctx, caseID, key)
	if err != nil {
		return slack.MessageRef{}, false, err
	}
	for _, x := range ms {
		if x.Key == key {
			return slack.MessageRef{CaseID: x.CaseID, Key: x.Key, Channel: x.Channel, TS: x.TS, User: x.User}, true, nil
		}
	}
	return slack.MessageRef{}, false, nil
}

func (m slackMessages) CaseMessages(ctx context.Context, caseID, prefix string) ([]slack.MessageRef, error) {
	ms, err := m.s.SlackMessages(ctx, caseID, prefix)
	if err != nil {
		return nil, err
	}
	out := make([]slack.MessageRef, 0, len(ms))
	for _, x := range ms {
		out = append(out, slack.MessageRef{CaseID: x.CaseID, Key: x.Key, Channel: x.Channel, TS: x.TS, User: x.User})
	}
	return out, nil
}

// slackReplay is the replay cache of Slack requests, in the database so
// every server process shares it.
type slackReplay struct{ s *store.Store }

func (r slackReplay) Seen(ctx context.Context, key string, now, expires time.Time) (bool, error) {
	return r.s.SeenSlack(ctx, key, now, expires)
}

// slackOutbox hands the notifier claimed notifications: with several
// server processes, each notification goes to one of them, and a process
// that dies lets go of its claims when their lease runs out.
type slackOutbox struct{ *store.Store }

func (o slackOutbox) PendingNotifications(ctx context.Context, channel string, limit int) ([]store.Notification, error) {
	return o.ClaimNotifications(ctx, channel, limit, 20, time.Minute)
}
