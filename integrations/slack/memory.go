package slack

import (
	"context"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/kanri-itsm/kanri/workflows"
)

// MemoryReplayCache is a ReplayCache in memory, for tests and a single
// process. Expired keys are swept as new ones arrive, so it holds about as
// many keys as arrive within their lifetime.
type MemoryReplayCache struct {
	mu      sync.Mutex
	keys    map[string]time.Time
	inserts int
}

// NewMemoryReplayCache returns an empty cache.
func NewMemoryReplayCache() *MemoryReplayCache {
	return &MemoryReplayCache{keys: map[string]time.Time{}}
}

// sweepEvery is how many inserts pass between sweeps of expired keys.
const sweepEvery = 256

// Seen implements ReplayCache.
func (m *MemoryReplayCache) Seen(_ context.Context, key string, now, expires time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if exp, ok := m.keys[key]; ok && exp.After(now) {
		return true, nil
	}
	m.keys[key] = expires
	m.inserts++
	if m.inserts%sweepEvery == 0 {
		for k, exp := range m.keys {
			if !exp.After(now) {
				delete(m.keys, k)
			}
		}
	}
	return false, nil
}

// Len is the number of keys held, expired or not.
func (m *MemoryReplayCache) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.keys)
}

// MemoryMessages is Messages in memory, for tests and a single process.
type MemoryMessages struct {
	mu   sync.Mutex
	refs map[[2]string]MessageRef
}

// NewMemoryMessages returns an empty store.
func NewMemoryMessages() *MemoryMessages {
	return &MemoryMessages{refs: map[[2]string]MessageRef{}}
}

// PutMessage implements Messages.
func (m *MemoryMessages) PutMessage(_ context.Context, ref MessageRef) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.refs[[2]string{ref.CaseID, ref.Key}] = ref
	return nil
}

// Message implements Messages.
func (m *MemoryMessages) Message(_ context.Context, caseID, key string) (MessageRef, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ref, ok := m.refs[[2]string{caseID, key}]
	return ref, ok, nil
}

// CaseMessages implements Messages.
func (m *MemoryMessages) CaseMessages(_ context.Context, caseID, prefix string) ([]MessageRef, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []MessageRef
	for k, ref := range m.refs {
		if k[0] == caseID && strings.HasPrefix(k[1], prefix) {
			out = append(out, ref)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// MemoryDirectory is a Directory in memory, for tests and development. Its
// users are added with AddUser; group membership is read from the actors'
// Groups.
type MemoryDirectory struct {
	mu      sync.Mutex
	users   map[string]memoryUser // by Kanri id
	links   map[[2]string]string  // (team, Slack user) -> Kanri id
	pending map[string]PendingLink
}

type memoryUser struct {
	actor   workflows.Actor
	slackID string // configured, valid in every team
}

// NewMemoryDirectory returns an empty directory.
func NewMemoryDirectory() *MemoryDirectory {
	return &MemoryDirectory{users: map[string]memoryUser{}, links: map[[2]string]string{}, pending: map[string]PendingLink{}}
}

// AddUser adds or replaces a user. slackID is the configured Slack id, or
// "" for a user who has to link.
func (d *MemoryDirectory) AddUser(actor workflows.Actor, slackID string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.users[actor.ID] = memoryUser{actor: actor, slackID: slackID}
}

// UserBySlackID implements Directory.
func (d *MemoryDirectory) UserBySlackID(_ context.Context, teamID, slackUserID string) (workflows.Actor, bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if slackUserID == "" {
		return workflows.Actor{}, false, nil
	}
	for _, u := range d.users {
		if u.slackID == slackUserID {
			return cloneActor(u.actor), true, nil
		}
	}
	if id, ok := d.links[[2]string{teamID, slackUserID}]; ok {
		if u, ok := d.users[id]; ok {
			return cloneActor(u.actor), true, nil
		}
	}
	return workflows.Actor{}, false, nil
}

// SlackUserOf implements Directory.
func (d *MemoryDirectory) SlackUserOf(_ context.Context, teamID, userID string) (string, bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	u, ok := d.users[userID]
	if !ok {
		return "", false, nil
	}
	if u.slackID != "" {
		return u.slackID, true, nil
	}
	for k, id := range d.links {
		if k[0] == teamID && id == userID {
			return k[1], true, nil
		}
	}
	return "", false, nil
}

// GroupMembers implements Directory.
func (d *MemoryDirectory) GroupMembers(_ context.Context, groupID string) ([]string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for id, u := range d.users {
		if u.actor.InGroup(groupID) {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out, nil
}

// SaveLinkCode implements Directory.
func (d *MemoryDirectory) SaveLinkCode(_ context.Context, p PendingLink) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	for h, q := range d.pending {
		if q.UserID == p.UserID {
			delete(d.pending, h)
		}
	}
	d.pending[p.CodeHash] = p
	return nil
}

// TakeLinkCode implements Directory.
func (d *MemoryDirectory) TakeLinkCode(_ context.Context, codeHash string) (PendingLink, bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	p, ok := d.pending[codeHash]
	delete(d.pending, codeHash)
	return p, ok, nil
}

// Link implements Directory.
func (d *MemoryDirectory) Link(_ context.Context, teamID, slackUserID, userID string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	for k, id := range d.links {
		if k[0] == teamID && id == userID {
			delete(d.links, k)
		}
	}
	d.links[[2]string{teamID, slackUserID}] = userID
	return nil
}

func cloneActor(a workflows.Actor) workflows.Actor {
	a.Roles = slices.Clone(a.Roles)
	a.Groups = slices.Clone(a.Groups)
	return a
}
