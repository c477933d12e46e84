package policy

import (
	"fmt"
	"slices"
	"time"
)

// TargetTimes are SLA targets in working time of the case's calendar.
type TargetTimes struct {
	Response   time.Duration `json:"response"`
	Resolution time.Duration `json:"resolution"`
}

// IncidentPolicy is everything one incident needs of the configuration; it is
// copied into the workflow input so a configuration change never alters a
// running case. It round-trips through encoding/json unchanged.
type IncidentPolicy struct {
	Matrix             Matrix                 `json:"matrix"`
	Targets            map[string]TargetTimes `json:"targets"` // by priority
	Warning            float64                `json:"warning"`
	Calendar           Calendar               `json:"calendar"`
	Functional         []string               `json:"functional"`
	Managers           map[string]string      `json:"managers"` // group id -> manager user id
	TopManagement      []string               `json:"top_management"`
	TopManagementAfter time.Duration          `json:"top_management_after"` // 0 = the resolution target again
	AutoCloseAfter     time.Duration          `json:"auto_close_after"`
}

// RequestPolicy is everything one service request needs of the
// configuration, copied into its workflow input like IncidentPolicy.
type RequestPolicy struct {
	Item           CatalogueItemSnapshot `json:"item"`
	Targets        TargetTimes           `json:"targets"`
	Warning        float64               `json:"warning"`
	Calendar       Calendar              `json:"calendar"`
	Managers       map[string]string     `json:"managers"`
	AutoCloseAfter time.Duration         `json:"auto_close_after"`
}

// CatalogueItemSnapshot is the part of a CatalogueItem a request workflow
// needs. Approval is nil when the item needs no approval.
type CatalogueItemSnapshot struct {
	ID       string     `json:"id"`
	Name     string     `json:"name"`
	Group    string     `json:"group"`
	Approval *Approvers `json:"approval,omitempty"`
}

// IncidentPolicy returns a deep copy of the incident rules: nothing in it
// shares memory with c.
func (c *Config) IncidentPolicy() IncidentPolicy {
	targets := make(map[string]TargetTimes, len(c.SLA.Targets))
	for p, t := range c.SLA.Targets {
		targets[p] = TargetTimes{Response: t.Response.D(), Resolution: t.Resolution.D()}
	}
	return IncidentPolicy{
		Matrix:             c.PriorityMatrix.clone(),
		Targets:            targets,
		Warning:            c.SLA.Warning,
		Calendar:           c.SLA.Calendar.clone(),
		Functional:         cloneStrings(c.Escalation.Functional),
		Managers:           c.Managers(),
		TopManagement:      cloneStrings(c.TopManagement),
		TopManagementAfter: c.Escalation.TopManagementAfter.D(),
		AutoCloseAfter:     c.AutoCloseAfter.D(),
	}
}

// RequestPolicy returns the rules for a request for the catalogue item.
func (c *Config) RequestPolicy(itemID string) (RequestPolicy, error) {
	for _, it := range c.RequestCatalogue {
		if it.ID != itemID {
			continue
		}
		snap := CatalogueItemSnapshot{ID: it.ID, Name: it.Name, Group: it.Group}
		if it.Approval != nil {
			a := *it.Approval
			snap.Approval = &a
		}
		return RequestPolicy{
			Item:           snap,
			Targets:        TargetTimes{Response: it.Response.D(), Resolution: it.Resolution.D()},
			Warning:        c.SLA.Warning,
			Calendar:       c.SLA.Calendar.clone(),
			Managers:       c.Managers(),
			AutoCloseAfter: c.AutoCloseAfter.D(),
		}, nil
	}
	return RequestPolicy{}, fmt.Errorf("request item %q is not in request_catalogue", itemID)
}

// Managers maps each group that has a manager to that manager.
func (c *Config) Managers() map[string]string {
	m := make(map[string]string, len(c.Groups))
	for _, g := range c.Groups {
		if g.Manager != "" {
			m[g.ID] = g.Manager
		}
	}
	return m
}

// ChangeRules is what one change needs of the configuration beyond its
// approvers, copied into its workflow input like IncidentPolicy.
type ChangeRules struct {
	// ApprovalTimeout: how long a submitted change may wait for its quorum
	// before the approving group's manager is told. Zero: never.
	ApprovalTimeout time.Duration `json:"approval_timeout,omitempty"`
	// Managers maps each group to its manager: the approving group's
	// manager hears of an overdue approval first.
	Managers map[string]string `json:"managers,omitempty"`
	// TopManagement hears of an approval that still waits after a second
	// timeout.
	TopManagement []string   `json:"top_management,omitempty"`
	Blackouts     []Blackout `json:"blackouts,omitempty"`
	// Release is what a release this change plans needs.
	Release ReleaseRules `json:"release"`
}

// ReleaseRules is what one release needs of the configuration.
type ReleaseRules struct {
	Approvers Approvers     `json:"approvers"`
	EarlyLife time.Duration `json:"early_life"`
}

// ChangeRules returns the rules every change starts with.
func (c *Config) ChangeRules() ChangeRules {
	r := ChangeRules{
		ApprovalTimeout: c.ChangePolicy.ApprovalTimeout.D(),
		Managers:        c.Managers(),
		TopManagement:   cloneStrings(c.TopManagement),
		Blackouts:       slices.Clone(c.ChangePolicy.Blackouts),
		Release:         c.ReleaseRules(),
	}
	return r
}

// ReleaseRules returns the release policy.
func (c *Config) ReleaseRules() ReleaseRules {
	return ReleaseRules{Approvers: c.ReleasePolicy.Approvers, EarlyLife: c.ReleasePolicy.EarlyLife.D()}
}

// BlackoutAt returns the blackout that [start, end) overlaps, if any.
func (r ChangeRules) BlackoutAt(start, end time.Time) (Blackout, bool) {
	for _, b := range r.Blackouts {
		if start.Before(b.End) && b.Start.Before(end) {
			return b, true
		}
	}
	return Blackout{}, false
}

// ServiceOwners maps each service that has an owner to that owner.
func (c *Config) ServiceOwners() map[string]string {
	m := make(map[string]string, len(c.Services))
	for _, s := range c.Services {
		if s.Owner != "" {
			m[s.ID] = s.Owner
		}
	}
	return m
}
