package policy

import (
	"fmt"
	"slices"
	"time"
)

// Suppliers configures supplier management (clause 7.2): how a supplier's
// periodic review runs. Each supplier's contract sets its own interval.
type Suppliers struct {
	// Manager owns the supplier management process: told of every review
	// opened, and the fallback for an overdue review when the contract
	// manager has no manager.
	Manager string `yaml:"manager" json:"manager,omitempty"`
	// ReviewInterval is the interval of a contract that sets none.
	ReviewInterval Duration `yaml:"review_interval" json:"review_interval"`
	// RecordWithin: a review opened is to be recorded by the contract
	// manager within this; after it the contract manager's manager hears,
	// and top management EscalateAfter later.
	RecordWithin  Duration `yaml:"record_within" json:"record_within"`
	EscalateAfter Duration `yaml:"escalate_after" json:"escalate_after"`
}

// AuditProgramme is the internal audit programme (clause 4.5.4.2): the
// processes with the people who own and work in them, and the audits
// planned, each with its scope, criteria and auditor.
type AuditProgramme struct {
	Processes []AuditedProcess `yaml:"processes" json:"processes"`
	Audits    []PlannedAudit   `yaml:"audits" json:"audits"`
}

// AuditedProcess is one process of the service management system that an
// audit may cover: its owner and the groups that work in it.
type AuditedProcess struct {
	ID     string   `yaml:"id" json:"id"`
	Name   string   `yaml:"name" json:"name,omitempty"`
	Owner  string   `yaml:"owner" json:"owner,omitempty"`
	Groups []string `yaml:"groups" json:"groups,omitempty"`
}

// AuditScope is what an audit covers: processes and groups.
type AuditScope struct {
	Processes []string `yaml:"processes" json:"processes,omitempty"`
	Groups    []string `yaml:"groups" json:"groups,omitempty"`
}

// PlannedAudit is one audit of the programme.
type PlannedAudit struct {
	ID       string     `yaml:"id" json:"id"`
	Title    string     `yaml:"title" json:"title"`
	Scope    AuditScope `yaml:"scope" json:"scope"`
	Criteria string     `yaml:"criteria" json:"criteria"`
	Auditor  string     `yaml:"auditor" json:"auditor"`
}

// PlannedAudit returns the programme's audit with the id.
func (c *Config) PlannedAudit(id string) (PlannedAudit, bool) {
	i := slices.IndexFunc(c.AuditProgramme.Audits, func(a PlannedAudit) bool { return a.ID == id })
	if i < 0 {
		return PlannedAudit{}, false
	}
	return c.AuditProgramme.Audits[i], true
}

// AuditorConflict says why the user may not audit the scope, or "" when
// they may: an auditor never audits their own work, so they own no process
// in scope and are a member of no group in scope or working in a process in
// scope.
func (c *Config) AuditorConflict(auditor string, scope AuditScope) string {
	groups := slices.Clone(scope.Groups)
	for _, pid := range scope.Processes {
		i := slices.IndexFunc(c.AuditProgramme.Processes, func(p AuditedProcess) bool { return p.ID == pid })
		if i < 0 {
			continue
		}
		p := c.AuditProgramme.Processes[i]
		if p.Owner == auditor {
			return fmt.Sprintf("%s owns the %s process, which is in the audit's scope", auditor, pid)
		}
		groups = append(groups, p.Groups...)
	}
	for _, g := range groups {
		if grp, ok := c.GroupByID(g); ok && (slices.Contains(grp.Members, auditor) || grp.Manager == auditor) {
			return fmt.Sprintf("%s works in group %s, which is in the audit's scope", auditor, g)
		}
	}
	return ""
}

// ManagerOf is the user's manager: the manager of the first group, in
// configuration order, that the user is a member of and does not manage.
func (c *Config) ManagerOf(user string) string {
	for _, g := range c.Groups {
		if g.Manager != "" && g.Manager != user && slices.Contains(g.Members, user) {
			return g.Manager
		}
	}
	return ""
}

func (c *Config) governanceDefaults() {
	if c.Suppliers.ReviewInterval == 0 {
		c.Suppliers.ReviewInterval = Duration(90 * 24 * time.Hour)
	}
	if c.Suppliers.RecordWithin == 0 {
		c.Suppliers.RecordWithin = Duration(14 * 24 * time.Hour)
	}
	if c.Suppliers.EscalateAfter == 0 {
		c.Suppliers.EscalateAfter = Duration(7 * 24 * time.Hour)
	}
}

func (c *Config) validateGovernance(p *problems, users map[string]bool, groups map[string]*Group) {
	if m := c.Suppliers.Manager; m != "" && !users[m] {
		p.add("suppliers.manager", "unknown user %q", m)
	}
	for _, d := range []struct {
		key string
		v   Duration
	}{{"review_interval", c.Suppliers.ReviewInterval}, {"record_within", c.Suppliers.RecordWithin},
		{"escalate_after", c.Suppliers.EscalateAfter}} {
		if d.v <= 0 {
			p.add("suppliers."+d.key, "must be positive")
		}
	}
	procs := map[string]bool{}
	for i, pr := range c.AuditProgramme.Processes {
		path := item("audit_programme.processes", i, pr.ID)
		switch {
		case pr.ID == "":
			p.add(path, "needs an id")
		case procs[pr.ID]:
			p.add(path, "process %q is listed twice", pr.ID)
		}
		procs[pr.ID] = true
		if pr.Owner != "" && !users[pr.Owner] {
			p.add(path+".owner", "unknown user %q", pr.Owner)
		}
		for _, g := range pr.Groups {
			if groups[g] == nil {
				p.add(path+".groups", "unknown group %q", g)
			}
		}
	}
	seen := map[string]bool{}
	for i, a := range c.AuditProgramme.Audits {
		path := item("audit_programme.audits", i, a.ID)
		if a.ID == "" || seen[a.ID] {
			p.add(path, "needs a unique id")
		}
		seen[a.ID] = true
		if a.Title == "" || a.Criteria == "" {
			p.add(path, "needs a title and criteria")
		}
		if !users[a.Auditor] {
			p.add(path+".auditor", "unknown user %q", a.Auditor)
		}
		if len(a.Scope.Processes)+len(a.Scope.Groups) == 0 {
			p.add(path+".scope", "names no process or group")
		}
		for _, pr := range a.Scope.Processes {
			if !procs[pr] {
				p.add(path+".scope.processes", "unknown process %q (audit_programme.processes)", pr)
			}
		}
		for _, g := range a.Scope.Groups {
			if groups[g] == nil {
				p.add(path+".scope.groups", "unknown group %q", g)
			}
		}
		if why := c.AuditorConflict(a.Auditor, a.Scope); why != "" && users[a.Auditor] {
			p.add(path+".auditor", "%s: an auditor may not audit their own work", why)
		}
	}
}
