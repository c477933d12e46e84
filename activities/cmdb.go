package activities

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/kanri-itsm/kanri/store"
)

// CMDB is the part of the store that configuration management writes.
type CMDB interface {
	GetCI(ctx context.Context, id string) (store.CI, error)
	WriteCI(ctx context.Context, ci store.CI, changeID, by string, at time.Time) (store.CI, error)
	CreateBaseline(ctx context.Context, name, release string, cis []string, by string, at time.Time) (store.Baseline, error)
	ServicesOfCIs(ctx context.Context, cis []string) ([]string, error)
	IncidentsOnServices(ctx context.Context, services []string, from, to time.Time) (int64, error)
	IncidentTallies(ctx context.Context, services []string, from, to time.Time) ([]store.IncidentTally, error)
}

// CIUpdate is what a change writes to one configuration item: the fields it
// sets, the attributes it sets (an empty value removes one) and, when
// Relations is not nil, the CI's relations as they are to be.
type CIUpdate struct {
	ID         string            `json:"id"`
	Type       string            `json:"type,omitempty"`
	Name       string            `json:"name,omitempty"`
	Owner      string            `json:"owner,omitempty"`
	Status     string            `json:"status,omitempty"`
	Version    string            `json:"version,omitempty"`
	Location   string            `json:"location,omitempty"`
	Attributes map[string]string `json:"attributes,omitempty"`
	Relations  []store.Relation  `json:"relations"`
}

// CIRevision names one revision of a CI.
type CIRevision struct {
	CI      string `json:"ci"`
	Rev     int64  `json:"rev"`
	Version string `json:"version,omitempty"`
	Status  string `json:"status,omitempty"`
}

// CMDBWrite is the CMDB update of a successful change.
type CMDBWrite struct {
	ChangeID string     `json:"change_id"`
	By       string     `json:"by"`
	At       time.Time  `json:"at"`
	Updates  []CIUpdate `json:"updates"`
}

// WriteCIs applies a successful change's CI updates: each becomes a new
// revision of its CI that records the change. A retry writes nothing twice,
// because the store keeps one revision per CI and change.
func (a *Activities) WriteCIs(ctx context.Context, in CMDBWrite) ([]CIRevision, error) {
	if a.CMDB == nil {
		return nil, errors.New("write CIs: no CMDB configured")
	}
	out := make([]CIRevision, 0, len(in.Updates))
	for _, u := range in.Updates {
		cur, err := a.CMDB.GetCI(ctx, u.ID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			cur = store.CI{ID: u.ID}
		case err != nil:
			return nil, fmt.Errorf("write CIs for %s: %w", in.ChangeID, err)
		}
		ci := Merge(cur, u)
		rev, err := a.CMDB.WriteCI(ctx, ci, in.ChangeID, in.By, in.At)
		if err != nil {
			return nil, fmt.Errorf("write CI %s for %s: %w", u.ID, in.ChangeID, err)
		}
		out = append(out, CIRevision{CI: rev.ID, Rev: rev.Rev, Version: rev.Version, Status: rev.Status})
	}
	return out, nil
}

// Merge lays an update over the CI's current state.
func Merge(ci store.CI, u CIUpdate) store.CI {
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&ci.Type, u.Type)
	set(&ci.Name, u.Name)
	set(&ci.Owner, u.Owner)
	set(&ci.Status, u.Status)
	set(&ci.Version, u.Version)
	set(&ci.Location, u.Location)
	if len(u.Attributes) > 0 {
		attrs := maps.Clone(ci.Attributes)
		if attrs == nil {
			attrs = map[string]string{}
		}
		for k, v := range u.Attributes {
			if v == "" {
				delete(attrs, k)
			} else {
				attrs[k] = v
			}
		}
		ci.Attributes = attrs
	}
	if u.Relations != nil {
		ci.Relations = u.Relations
	}
	return ci
}

// BaselineInput names the CIs a release freezes before it deploys.
type BaselineInput struct {
	Name    string    `json:"name"`
	Release string    `json:"release"`
	CIs     []string  `json:"cis"`
	By      string    `json:"by"`
	At      time.Time `json:"at"`
}

// Baseline is a baseline as a workflow records it.
type Baseline struct {
	Name  string       `json:"name"`
	At    time.Time    `json:"at"`
	Items []CIRevision `json:"items"`
}

// TakeBaseline freezes the current revision of each CI under a name. Taking
// the same baseline again returns the first one.
func (a *Activities) TakeBaseline(ctx context.Context, in BaselineInput) (Baseline, error) {
	if a.CMDB == nil {
		return Baseline{}, errors.New("take baseline: no CMDB configured")
	}
	b, err := a.CMDB.CreateBaseline(ctx, in.Name, in.Release, in.CIs, in.By, in.At)
	if err != nil {
		return Baseline{}, fmt.Errorf("take baseline %s: %w", in.Name, err)
	}
	out := Baseline{Name: b.Name, At: b.CreatedAt, Items: make([]CIRevision, 0, len(b.Items))}
	for _, ci := range b.Items {
		out.Items = append(out.Items, CIRevision{CI: ci.ID, Rev: ci.Rev, Version: ci.Version, Status: ci.Status})
	}
	return out, nil
}

// IncidentCount asks how many incidents were logged on the services the
// CIs belong to, in [From, To): the measure of a release's early life.
type IncidentCount struct {
	CIs      []string  `json:"cis"`
	Services []string  `json:"services"`
	From     time.Time `json:"from"`
	To       time.Time `json:"to"`
}

// CountIncidents counts the incidents of an early-life window.
func (a *Activities) CountIncidents(ctx context.Context, in IncidentCount) (int64, error) {
	if a.CMDB == nil {
		return 0, errors.New("count incidents: no CMDB configured")
	}
	services, err := a.CMDB.ServicesOfCIs(ctx, in.CIs)
	if err != nil {
		return 0, fmt.Errorf("count incidents: %w", err)
	}
	for _, s := range in.Services {
		if !slices.Contains(services, s) {
			services = append(services, s)
		}
	}
	n, err := a.CMDB.IncidentsOnServices(ctx, services, in.From, in.To)
	if err != nil {
		return 0, fmt.Errorf("count incidents: %w", err)
	}
	return n, nil
}
