package policy

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// FieldError is one problem of the configuration: Path is the key path
// ("groups[1] (second-line).manager"), Problem what is wrong with it.
// Validate joins them with errors.Join; errors.As finds the first.
type FieldError struct {
	Path    string
	Problem string
}

func (e *FieldError) Error() string { return e.Path + ": " + e.Problem }

type problems []error

func (p *problems) add(path, format string, args ...any) {
	*p = append(*p, &FieldError{Path: path, Problem: fmt.Sprintf(format, args...)})
}

// item names the i-th element of a list, with its id when it has one:
// "groups[1] (second-line)".
func item(list string, i int, id string) string {
	if id == "" {
		return fmt.Sprintf("%s[%d]", list, i)
	}
	return fmt.Sprintf("%s[%d] (%s)", list, i, id)
}

// Validate reports every problem of the configuration at once, each naming
// its key path. It checks c as it is: Parse applies the defaults first.
func (c *Config) Validate() error {
	var p problems
	users := c.validateUsers(&p)
	groups := c.validateGroups(&p, users)
	c.validateServices(&p, users)

	if len(c.TopManagement) == 0 {
		p.add("top_management", "must name at least one user")
	}
	for i, u := range c.TopManagement {
		if !users[u] {
			p.add(fmt.Sprintf("top_management[%d]", i), "unknown user %q", u)
		}
	}

	used := c.validateMatrix(&p)
	c.validateSLA(&p, used)

	if len(c.Escalation.Functional) == 0 {
		p.add("escalation.functional", "must name at least one group")
	}
	for i, g := range c.Escalation.Functional {
		path := fmt.Sprintf("escalation.functional[%d]", i)
		switch {
		case groups[g] == nil:
			p.add(path, "unknown group %q", g)
		case slices.Index(c.Escalation.Functional, g) < i:
			p.add(path, "group %q is listed twice", g)
		}
	}
	if c.Escalation.TopManagementAfter < 0 {
		p.add("escalation.top_management_after", "must not be negative")
	}
	if c.AutoCloseAfter <= 0 {
		p.add("auto_close_after", "must be positive")
	}

	c.validateChangePolicy(&p, groups)
	c.validateCatalogue(&p, groups)
	validateApprovers(&p, "release_policy.approvers", c.ReleasePolicy.Approvers, groups)
	if c.ReleasePolicy.EarlyLife < 0 {
		p.add("release_policy.early_life", "must not be negative")
	}
	c.validateCMDB(&p, users)
	c.validateGovernance(&p, users, groups)
	c.validateEmail(&p)
	if o := c.Improvement.ProcessOwner; o != "" && !users[o] {
		p.add("improvement.process_owner", "unknown user %q", o)
	}
	if m := c.Improvement.Manager; m != "" && !users[m] {
		p.add("improvement.manager", "unknown user %q", m)
	}
	for _, d := range []struct {
		key string
		v   Duration
	}{{"reminder_before", c.Improvement.ReminderBefore}, {"escalate_after", c.Improvement.EscalateAfter},
		{"effectiveness_after", c.Improvement.EffectivenessAfter}, {"complaint_action_within", c.Improvement.ComplaintActionWithin},
		{"complaint_response_wait", c.Improvement.ComplaintResponseWait}} {
		if d.v < 0 {
			p.add("improvement."+d.key, "must not be negative")
		}
	}

	if c.Server.TemporalPort < 0 || c.Server.TemporalPort > 65535 {
		p.add("server.temporal_port", "must be between 1 and 65535, got %d", c.Server.TemporalPort)
	}
	if c.Server.MaxBodyBytes < 0 {
		p.add("server.max_body_bytes", "must not be negative")
	}
	return errors.Join(p...)
}

func (c *Config) validateUsers(p *problems) map[string]bool {
	ids := make(map[string]int, len(c.Users))
	tokens := make(map[string]int, len(c.Users))
	for i, u := range c.Users {
		path := item("users", i, u.ID)
		if u.ID == "" {
			p.add(path+".id", "required")
		} else if u.ID == "system" {
			// Kanri records its own transitions (timers, escalations, what
			// one case tells another) as "system"; no person may be it.
			p.add(path+".id", `"system" is reserved for Kanri's own entries`)
		} else if j, dup := ids[u.ID]; dup {
			p.add(path+".id", "duplicate id %q (also users[%d])", u.ID, j)
		} else {
			ids[u.ID] = i
		}
		for k, r := range u.Roles {
			if !slices.Contains(Roles(), r) {
				p.add(fmt.Sprintf("%s.roles[%d]", path, k), "unknown role %q (want one of %s)", r, strings.Join(Roles(), ", "))
			}
		}
		if u.Token == "" {
			continue
		}
		// The token itself stays out of the message: it is a credential.
		if j, dup := tokens[u.Token]; dup {
			p.add(path+".token", "same token as users[%d]; tokens must be unique", j)
		} else {
			tokens[u.Token] = i
		}
	}
	known := make(map[string]bool, len(ids))
	for id := range ids {
		known[id] = true
	}
	return known
}

// validateGroups returns the groups by id, for the later checks.
func (c *Config) validateGroups(p *problems, users map[string]bool) map[string]*Group {
	byID := make(map[string]*Group, len(c.Groups))
	for i := range c.Groups {
		g := &c.Groups[i]
		path := item("groups", i, g.ID)
		if g.ID == "" {
			p.add(path+".id", "required")
		} else if byID[g.ID] != nil {
			p.add(path+".id", "duplicate id %q", g.ID)
		} else {
			byID[g.ID] = g
		}
		for k, m := range g.Members {
			mp := fmt.Sprintf("%s.members[%d]", path, k)
			switch {
			case !users[m]:
				p.add(mp, "unknown user %q", m)
			case slices.Index(g.Members, m) < k:
				p.add(mp, "user %q is listed twice", m)
			}
		}
		if g.Manager != "" && !users[g.Manager] {
			p.add(path+".manager", "unknown user %q", g.Manager)
		}
	}
	return byID
}

func (c *Config) validateServices(p *problems, users map[string]bool) {
	seen := make(map[string]bool, len(c.Services))
	for i, s := range c.Services {
		path := item("services", i, s.ID)
		if s.ID == "" {
			p.add(path+".id", "required")
		} else if seen[s.ID] {
			p.add(path+".id", "duplicate id %q", s.ID)
		}
		seen[s.ID] = true
		if s.Owner != "" && !users[s.Owner] {
			p.add(path+".owner", "unknown user %q", s.Owner)
		}
	}
}

// validateMatrix returns the priorities the matrix uses.
func (c *Config) validateMatrix(p *problems) map[string]bool {
	used := map[string]bool{}
	levels := strings.Join(Levels(), ", ")
	prios := strings.Join(Priorities(), ", ")
	for _, impact := range Levels() {
		row, ok := c.PriorityMatrix[impact]
		if !ok {
			p.add("priority_matrix."+impact, "missing; every impact needs urgencies %s", levels)
			continue
		}
		for _, urgency := range Levels() {
			path := "priority_matrix." + impact + "." + urgency
			v, ok := row[urgency]
			switch {
			case !ok:
				p.add(path, "missing")
			case !slices.Contains(Priorities(), v):
				p.add(path, "%q is not one of %s", v, prios)
			default:
				used[v] = true
			}
		}
		for _, urgency := range sortedKeys(row) {
			if !slices.Contains(Levels(), urgency) {
				p.add("priority_matrix."+impact+"."+urgency, "unknown urgency (want one of %s)", levels)
			}
		}
	}
	for _, impact := range sortedKeys(c.PriorityMatrix) {
		if !slices.Contains(Levels(), impact) {
			p.add("priority_matrix."+impact, "unknown impact (want one of %s)", levels)
		}
	}
	return used
}

func (c *Config) validateSLA(p *problems, used map[string]bool) {
	for _, prio := range Priorities() {
		if _, ok := c.SLA.Targets[prio]; used[prio] && !ok {
			p.add("sla.targets."+prio, "missing; priority_matrix uses %s", prio)
		}
	}
	for _, prio := range sortedKeys(c.SLA.Targets) {
		path := "sla.targets." + prio
		if !slices.Contains(Priorities(), prio) {
			p.add(path, "unknown priority (want one of %s)", strings.Join(Priorities(), ", "))
			continue
		}
		t := c.SLA.Targets[prio]
		validateTargets(p, path, t.Response, t.Resolution)
	}
	if !(c.SLA.Warning > 0 && c.SLA.Warning < 1) {
		p.add("sla.warning", "must be between 0 and 1 (exclusive), got %g", c.SLA.Warning)
	}
	*p = append(*p, c.SLA.Calendar.problems("sla.calendar")...)
}

func validateTargets(p *problems, path string, response, resolution Duration) {
	if response <= 0 {
		p.add(path+".response", "must be positive")
	}
	if resolution <= 0 {
		p.add(path+".resolution", "must be positive")
	}
	if response > 0 && resolution > 0 && response > resolution {
		p.add(path+".response", "must not exceed the resolution target (%s > %s)", response, resolution)
	}
}

func (c *Config) validateChangePolicy(p *problems, groups map[string]*Group) {
	for i, s := range c.ChangePolicy.StandardChanges {
		path := fmt.Sprintf("change_policy.standard_changes[%d]", i)
		switch {
		case strings.TrimSpace(s) == "":
			p.add(path, "must not be empty")
		case slices.Index(c.ChangePolicy.StandardChanges, s) < i:
			p.add(path, "%q is listed twice", s)
		}
	}
	// Every type that needs approval must say who approves it: without an
	// entry, a change of that type could never leave awaiting_approval.
	for _, t := range ChangeTypes() {
		if _, ok := c.ChangePolicy.Approvers[t]; !ok {
			p.add("change_policy.approvers."+t, "missing; changes of type %s need an approving group and quorum", t)
		}
	}
	for _, t := range sortedKeys(c.ChangePolicy.Approvers) {
		path := "change_policy.approvers." + t
		if !slices.Contains(ChangeTypes(), t) {
			p.add(path, "unknown change type (want one of %s)", strings.Join(ChangeTypes(), ", "))
			continue
		}
		validateApprovers(p, path, c.ChangePolicy.Approvers[t], groups)
	}
	if c.ChangePolicy.ApprovalTimeout < 0 {
		p.add("change_policy.approval_timeout", "must not be negative")
	}
	for i, b := range c.ChangePolicy.Blackouts {
		path := item("change_policy.blackouts", i, b.Name)
		if b.Name == "" {
			p.add(path+".name", "required")
		}
		if b.Start.IsZero() || b.End.IsZero() {
			p.add(path, "needs start and end as RFC 3339 times")
		} else if !b.End.After(b.Start) {
			p.add(path+".end", "must be after start")
		}
	}
}

// validateEmail checks the mailboxes and their routes.
func (c *Config) validateEmail(p *problems) {
	e := c.Email
	if (len(e.Mailboxes) > 0 || e.SMTP.Addr != "") && !strings.Contains(e.From, "@") {
		p.add("email.from", "needs the sender address of notifications, e.g. \"Kanri <kanri@example.com>\"")
	}
	if e.DailyCap < 0 {
		p.add("email.daily_cap", "must not be negative")
	}
	if e.PollInterval < 0 {
		p.add("email.poll_interval", "must not be negative")
	}
	switch e.SMTP.StartTLS {
	case "", "opportunistic", "required", "off":
	default:
		p.add("email.smtp.starttls", "%q is not one of opportunistic, required, off", e.SMTP.StartTLS)
	}
	seen := map[string]bool{}
	for i, m := range e.Mailboxes {
		path := item("email.mailboxes", i, m.Name)
		switch {
		case m.Name == "":
			p.add(path+".name", "required")
		case seen[m.Name]:
			p.add(path+".name", "duplicate name %q", m.Name)
		}
		seen[m.Name] = true
		if m.IMAP.Addr == "" {
			p.add(path+".imap.addr", "required (host:port)")
		}
		if m.IMAP.Username == "" {
			p.add(path+".imap.username", "required")
		}
		if m.Route.Kind != "incidents" && m.Route.Kind != "complaints" {
			p.add(path+".route.kind", "%q: mail opens incidents or complaints", m.Route.Kind)
		}
		if !slices.ContainsFunc(c.Services, func(s Service) bool { return s.ID == m.Route.Service }) {
			p.add(path+".route.service", "unknown service %q", m.Route.Service)
		}
		if !slices.Contains(Levels(), m.Route.Impact) {
			p.add(path+".route.impact", "%q is not one of high, medium, low", m.Route.Impact)
		}
		if !slices.Contains(Levels(), m.Route.Urgency) {
			p.add(path+".route.urgency", "%q is not one of high, medium, low", m.Route.Urgency)
		}
	}
}

// validateCMDB checks the seeded CIs: known types and owners, unique ids,
// relations and service compositions that name CIs that exist.
func (c *Config) validateCMDB(p *problems, users map[string]bool) {
	for i, t := range c.CMDB.CITypes {
		if strings.TrimSpace(t) == "" {
			p.add(fmt.Sprintf("cmdb.ci_types[%d]", i), "must not be empty")
		}
	}
	ids := make(map[string]bool, len(c.CMDB.CIs))
	for i, ci := range c.CMDB.CIs {
		path := item("cmdb.cis", i, ci.ID)
		switch {
		case ci.ID == "":
			p.add(path+".id", "required")
		case ids[ci.ID]:
			p.add(path+".id", "duplicate id %q", ci.ID)
		}
		ids[ci.ID] = true
		if !slices.Contains(c.CMDB.CITypes, ci.Type) {
			p.add(path+".type", "unknown CI type %q (want one of %s)", ci.Type, strings.Join(c.CMDB.CITypes, ", "))
		}
		if ci.Name == "" {
			p.add(path+".name", "required")
		}
		if ci.Owner != "" && !users[ci.Owner] {
			p.add(path+".owner", "unknown user %q", ci.Owner)
		}
		if !slices.Contains(CIStatuses(), ci.Status) {
			p.add(path+".status", "unknown status %q (want one of %s)", ci.Status, strings.Join(CIStatuses(), ", "))
		}
	}
	for i, ci := range c.CMDB.CIs {
		path := item("cmdb.cis", i, ci.ID)
		for _, rel := range []struct {
			key  string
			list []string
		}{{"depends_on", ci.DependsOn}, {"runs_on", ci.RunsOn}, {"part_of", ci.PartOf}} {
			for k, to := range rel.list {
				switch {
				case !ids[to]:
					p.add(fmt.Sprintf("%s.%s[%d]", path, rel.key, k), "unknown CI %q", to)
				case to == ci.ID:
					p.add(fmt.Sprintf("%s.%s[%d]", path, rel.key, k), "a CI cannot relate to itself")
				}
			}
		}
	}
	for i, s := range c.Services {
		for k, ci := range s.CIs {
			if !ids[ci] {
				p.add(fmt.Sprintf("%s.cis[%d]", item("services", i, s.ID), k), "unknown CI %q (declare it under cmdb.cis)", ci)
			}
		}
	}
}

func validateApprovers(p *problems, path string, a Approvers, groups map[string]*Group) {
	if a.Group == "" {
		p.add(path+".group", "required")
	}
	g := groups[a.Group]
	if a.Group != "" && g == nil {
		p.add(path+".group", "unknown group %q", a.Group)
	}
	switch {
	case a.Quorum < 1:
		p.add(path+".quorum", "must be at least 1, got %d", a.Quorum)
	case g != nil && a.Quorum > distinct(g.Members):
		p.add(path+".quorum", "%d exceeds the %d members of group %q", a.Quorum, distinct(g.Members), g.ID)
	}
}

func (c *Config) validateCatalogue(p *problems, groups map[string]*Group) {
	seen := make(map[string]bool, len(c.RequestCatalogue))
	for i, it := range c.RequestCatalogue {
		path := item("request_catalogue", i, it.ID)
		if it.ID == "" {
			p.add(path+".id", "required")
		} else if seen[it.ID] {
			p.add(path+".id", "duplicate id %q", it.ID)
		}
		seen[it.ID] = true
		if it.Group == "" {
			p.add(path+".group", "required (the fulfilment group)")
		} else if groups[it.Group] == nil {
			p.add(path+".group", "unknown group %q", it.Group)
		}
		validateTargets(p, path, it.Response, it.Resolution)
		if it.Approval != nil {
			validateApprovers(p, path+".approval", *it.Approval, groups)
		}
	}
}

func distinct(s []string) int {
	n := 0
	for i, v := range s {
		if slices.Index(s, v) == i {
			n++
		}
	}
	return n
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
