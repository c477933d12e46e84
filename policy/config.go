// Package policy holds Kanri's pure rules: the YAML configuration and its
// validation, the priority matrix, SLA targets, escalation paths, change
// authority and business calendars.
//
// Apart from Load, which reads one file, nothing here does I/O, reads the
// clock or depends on map iteration order: workflow code calls it directly.
// A case copies what it needs (IncidentPolicy, RequestPolicy) into its
// workflow input, so a configuration change never alters a running case.
package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is the configuration file of CONTRACT §3.
type Config struct {
	Users            []User          `yaml:"users" json:"users"`
	Groups           []Group         `yaml:"groups" json:"groups"`
	Services         []Service       `yaml:"services" json:"services"`
	TopManagement    []string        `yaml:"top_management" json:"top_management"`
	PriorityMatrix   Matrix          `yaml:"priority_matrix" json:"priority_matrix"`
	SLA              SLA             `yaml:"sla" json:"sla"`
	Escalation       Escalation      `yaml:"escalation" json:"escalation"`
	AutoCloseAfter   Duration        `yaml:"auto_close_after" json:"auto_close_after"`
	ChangePolicy     ChangePolicy    `yaml:"change_policy" json:"change_policy"`
	RequestCatalogue []CatalogueItem `yaml:"request_catalogue" json:"request_catalogue"`
	ReleasePolicy    ReleasePolicy   `yaml:"release_policy" json:"release_policy"`
	Improvement      Improvement     `yaml:"improvement" json:"improvement"`
	Suppliers        Suppliers       `yaml:"suppliers" json:"suppliers"`
	AuditProgramme   AuditProgramme  `yaml:"audit_programme" json:"audit_programme"`
	CMDB             CMDB            `yaml:"cmdb" json:"cmdb"`
	Email            Email           `yaml:"email" json:"email"`
	// Slack is the Slack connector's section, which that connector reads
	// and validates itself (integrations/slack).
	Slack  yaml.Node `yaml:"slack" json:"-"`
	Server Server    `yaml:"server" json:"server"`
}

// User seeds a user. Token is a bearer token for development and tests; it
// is never written to JSON.
type User struct {
	ID      string   `yaml:"id" json:"id"`
	Name    string   `yaml:"name" json:"name"`
	Email   string   `yaml:"email" json:"email"`
	SlackID string   `yaml:"slack_id" json:"slack_id,omitempty"`
	Roles   []string `yaml:"roles" json:"roles"`
	Token   string   `yaml:"token" json:"-"`
}

// Group is a support or approving group. Manager receives the early warning
// and the first hierarchical escalation of the group's cases.
type Group struct {
	ID      string   `yaml:"id" json:"id"`
	Name    string   `yaml:"name" json:"name"`
	Members []string `yaml:"members" json:"members"`
	Manager string   `yaml:"manager" json:"manager,omitempty"`
}

// Service is an entry of the service catalogue.
type Service struct {
	ID    string `yaml:"id" json:"id"`
	Name  string `yaml:"name" json:"name"`
	Owner string `yaml:"owner" json:"owner,omitempty"`
	// CIs are the configuration items the service is made of.
	CIs []string `yaml:"cis" json:"cis,omitempty"`
}

// SLA holds the targets by priority, the early-warning fraction and the
// calendar the clocks run on.
type SLA struct {
	Targets  map[string]Target `yaml:"targets" json:"targets"`
	Warning  float64           `yaml:"warning" json:"warning"`
	Calendar Calendar          `yaml:"calendar" json:"calendar"`
}

// Target is the response and resolution target of one priority, in working
// time of the SLA calendar.
type Target struct {
	Response   Duration `yaml:"response" json:"response"`
	Resolution Duration `yaml:"resolution" json:"resolution"`
}

// Escalation configures functional escalation (the next group when the
// response target passes) and hierarchical escalation.
type Escalation struct {
	Functional []string `yaml:"functional" json:"functional"`
	// TopManagementAfter: how long after the resolution breach (counted in the calendar) hierarchical escalation
	// goes on from the group's manager to top management. Zero in YAML means: the priority's resolution target again.
	TopManagementAfter Duration `yaml:"top_management_after" json:"top_management_after"`
}

// ChangePolicy lists the pre-approved standard changes and who approves the
// other change types (keys normal, emergency, major).
type ChangePolicy struct {
	StandardChanges []string             `yaml:"standard_changes" json:"standard_changes"`
	Approvers       map[string]Approvers `yaml:"approvers" json:"approvers"`
	// ApprovalTimeout: a change still awaiting approval this long after it
	// was submitted is escalated to the approving group's manager. Zero
	// turns the escalation off.
	ApprovalTimeout Duration `yaml:"approval_timeout" json:"approval_timeout,omitempty"`
	// Blackouts are windows in which no change other than an emergency
	// change may be scheduled.
	Blackouts []Blackout `yaml:"blackouts" json:"blackouts,omitempty"`
}

// Blackout is a change freeze: [Start, End).
type Blackout struct {
	Name  string    `yaml:"name" json:"name"`
	Start time.Time `yaml:"start" json:"start"`
	End   time.Time `yaml:"end" json:"end"`
}

// ReleasePolicy is how releases are approved and how long early-life
// support watches a deployment (spec §2.14).
type ReleasePolicy struct {
	Approvers Approvers `yaml:"approvers" json:"approvers"`
	EarlyLife Duration  `yaml:"early_life" json:"early_life"`
}

// Improvement configures corrective actions (clause 4.5.5): when owners are
// reminded, when an overdue action goes to top management, and when the
// effectiveness of an implemented action is checked.
type Improvement struct {
	ProcessOwner       string   `yaml:"process_owner" json:"process_owner,omitempty"`
	ReminderBefore     Duration `yaml:"reminder_before" json:"reminder_before"`
	EscalateAfter      Duration `yaml:"escalate_after" json:"escalate_after"`
	EffectivenessAfter Duration `yaml:"effectiveness_after" json:"effectiveness_after"`
	// Complaints: acted on within ComplaintActionWithin or escalated (to
	// the service owner and the improvement manager, then top management
	// EscalateAfter later); a report the complainant does not answer
	// within ComplaintResponseWait closes the complaint.
	Manager               string   `yaml:"manager" json:"manager,omitempty"`
	ComplaintActionWithin Duration `yaml:"complaint_action_within" json:"complaint_action_within"`
	ComplaintResponseWait Duration `yaml:"complaint_response_wait" json:"complaint_response_wait"`
}

// CMDB declares the configuration item types and seeds the CIs that exist
// before Kanri manages them. A seeded CI is registered once; after that its
// recorded attributes change only through a completed change.
type CMDB struct {
	CITypes []string   `yaml:"ci_types" json:"ci_types"`
	CIs     []ConfigCI `yaml:"cis" json:"cis,omitempty"`
}

// ConfigCI is a configuration item as the configuration file seeds it.
type ConfigCI struct {
	ID         string            `yaml:"id" json:"id"`
	Type       string            `yaml:"type" json:"type"`
	Name       string            `yaml:"name" json:"name"`
	Owner      string            `yaml:"owner" json:"owner,omitempty"`
	Status     string            `yaml:"status" json:"status,omitempty"`
	Version    string            `yaml:"version" json:"version,omitempty"`
	Location   string            `yaml:"location" json:"location,omitempty"`
	Attributes map[string]string `yaml:"attributes" json:"attributes,omitempty"`
	DependsOn  []string          `yaml:"depends_on" json:"depends_on,omitempty"`
	RunsOn     []string          `yaml:"runs_on" json:"runs_on,omitempty"`
	PartOf     []string          `yaml:"part_of" json:"part_of,omitempty"`
}

// CIStatuses are the lifecycle states of a configuration item (spec §2.12).
func CIStatuses() []string {
	return []string{"planned", "registered", "active", "maintenance", "retired"}
}

// Approvers: Quorum approvals from members of Group.
type Approvers struct {
	Group  string `yaml:"group" json:"group"`
	Quorum int    `yaml:"quorum" json:"quorum"`
}

// CatalogueItem is a service request that can be ordered.
type CatalogueItem struct {
	ID          string     `yaml:"id" json:"id"`
	Name        string     `yaml:"name" json:"name"`
	Description string     `yaml:"description" json:"description,omitempty"`
	Group       string     `yaml:"group" json:"group"` // fulfilment group
	Response    Duration   `yaml:"response" json:"response"`
	Resolution  Duration   `yaml:"resolution" json:"resolution"`
	Approval    *Approvers `yaml:"approval" json:"approval,omitempty"` // optional
}

// Email configures the email connector: mailboxes whose mail opens and
// advances cases, and the SMTP server notifications go out through. Without
// mailboxes nothing is read; without smtp.addr nothing is sent.
type Email struct {
	// From is the sender of notifications: "Kanri <kanri@example.com>".
	From string `yaml:"from" json:"from,omitempty"`
	// Domain of Kanri's Message-IDs; empty: the From address's domain.
	Domain       string         `yaml:"domain" json:"domain,omitempty"`
	DailyCap     int            `yaml:"daily_cap" json:"daily_cap,omitempty"`
	PollInterval Duration       `yaml:"poll_interval" json:"poll_interval,omitempty"`
	SMTP         SMTP           `yaml:"smtp" json:"smtp"`
	Mailboxes    []EmailMailbox `yaml:"mailboxes" json:"mailboxes,omitempty"`
	// BaseURL is where approvers' decision links point: Kanri's public
	// address. Without it, approval mail carries no links.
	BaseURL string `yaml:"base_url" json:"base_url,omitempty"`
	// LinkSecret signs decision links (LinkSecretEnv names a variable that
	// holds it); without either, Kanri makes one and keeps it in its
	// database. LinkTTL is how long a link holds (default 72h).
	LinkSecret    string   `yaml:"link_secret" json:"-"`
	LinkSecretEnv string   `yaml:"link_secret_env" json:"link_secret_env,omitempty"`
	LinkTTL       Duration `yaml:"link_ttl" json:"link_ttl,omitempty"`
	// TrustedAuthServID names the receiving mail server whose
	// Authentication-Results header is trusted; when set, only mail it
	// marked dmarc=pass opens cases, comments as its sender or confirms.
	TrustedAuthServID string `yaml:"trusted_authserv_id" json:"trusted_authserv_id,omitempty"`
}

// SMTP is the outgoing mail server. Password may be given by the
// environment variable PasswordEnv names instead.
type SMTP struct {
	Addr        string `yaml:"addr" json:"addr,omitempty"`
	TLS         bool   `yaml:"tls" json:"tls,omitempty"`
	StartTLS    string `yaml:"starttls" json:"starttls,omitempty"` // opportunistic (default), required, off
	Username    string `yaml:"username" json:"username,omitempty"`
	Password    string `yaml:"password" json:"-"`
	PasswordEnv string `yaml:"password_env" json:"password_env,omitempty"`
}

// IMAP is a mailbox's server and login.
type IMAP struct {
	Addr        string `yaml:"addr" json:"addr"`
	TLS         bool   `yaml:"tls" json:"tls,omitempty"`
	StartTLS    bool   `yaml:"starttls" json:"starttls,omitempty"`
	Username    string `yaml:"username" json:"username"`
	Password    string `yaml:"password" json:"-"`
	PasswordEnv string `yaml:"password_env" json:"password_env,omitempty"`
}

// EmailMailbox is one mailbox Kanri reads, and what its new mail becomes.
type EmailMailbox struct {
	Name            string     `yaml:"name" json:"name"`
	IMAP            IMAP       `yaml:"imap" json:"imap"`
	Folder          string     `yaml:"folder" json:"folder,omitempty"`
	ProcessedFolder string     `yaml:"processed_folder" json:"processed_folder,omitempty"`
	FailedFolder    string     `yaml:"failed_folder" json:"failed_folder,omitempty"`
	MaxSize         int64      `yaml:"max_size" json:"max_size,omitempty"`
	Route           EmailRoute `yaml:"route" json:"route"`
}

// EmailRoute says what a mailbox's new mail opens.
type EmailRoute struct {
	Kind    string `yaml:"kind" json:"kind"`
	Service string `yaml:"service" json:"service"`
	Impact  string `yaml:"impact" json:"impact"`
	Urgency string `yaml:"urgency" json:"urgency"`
}

// Load reads the configuration file at path; see Parse.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	c, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// Parse decodes a configuration strictly (an unknown key is an error),
// applies the defaults and validates it.
func Parse(data []byte) (*Config, error) {
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	for {
		var extra yaml.Node
		err := dec.Decode(&extra)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if !emptyDocument(&extra) {
			return nil, fmt.Errorf("line %d: a second YAML document; the configuration is one document", extra.Line)
		}
	}
	c.applyDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// emptyDocument reports whether n holds nothing, as after a trailing "---".
func emptyDocument(n *yaml.Node) bool {
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	return n.Kind == 0 || n.Kind == yaml.DocumentNode && len(n.Content) == 0 || n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// applyDefaults fills what the file may leave out.
func (c *Config) applyDefaults() {
	for i := range c.Users {
		if len(c.Users[i].Roles) == 0 {
			c.Users[i].Roles = []string{RoleRequester}
		}
	}
	if len(c.PriorityMatrix) == 0 {
		c.PriorityMatrix = defaultMatrix()
	}
	if len(c.SLA.Targets) == 0 {
		c.SLA.Targets = defaultTargets()
	}
	if c.SLA.Warning == 0 {
		c.SLA.Warning = 0.75
	}
	if isZeroCalendar(c.SLA.Calendar) {
		c.SLA.Calendar = Calendar{AlwaysOn: true}
	}
	if c.AutoCloseAfter == 0 {
		c.AutoCloseAfter = Duration(72 * time.Hour)
	}
	if c.ReleasePolicy.Approvers.Group == "" {
		if a, ok := c.ChangePolicy.Approvers["normal"]; ok {
			c.ReleasePolicy.Approvers = Approvers{Group: a.Group, Quorum: 1}
		}
	}
	if c.Improvement.ReminderBefore == 0 {
		c.Improvement.ReminderBefore = Duration(48 * time.Hour)
	}
	if c.Improvement.EscalateAfter == 0 {
		c.Improvement.EscalateAfter = Duration(72 * time.Hour)
	}
	if c.Improvement.EffectivenessAfter == 0 {
		c.Improvement.EffectivenessAfter = Duration(30 * 24 * time.Hour)
	}
	if c.Improvement.ComplaintActionWithin == 0 {
		c.Improvement.ComplaintActionWithin = Duration(5 * 24 * time.Hour)
	}
	if c.Improvement.ComplaintResponseWait == 0 {
		c.Improvement.ComplaintResponseWait = Duration(10 * 24 * time.Hour)
	}
	if c.Improvement.ProcessOwner == "" && len(c.TopManagement) > 0 {
		c.Improvement.ProcessOwner = c.TopManagement[0]
	}
	c.governanceDefaults()
	if c.ReleasePolicy.EarlyLife == 0 {
		c.ReleasePolicy.EarlyLife = Duration(7 * 24 * time.Hour)
	}
	if len(c.CMDB.CITypes) == 0 {
		c.CMDB.CITypes = []string{"application", "server", "database", "network", "software", "document"}
	}
	for i := range c.CMDB.CIs {
		if c.CMDB.CIs[i].Status == "" {
			c.CMDB.CIs[i].Status = "active"
		}
	}
	for i := range c.Email.Mailboxes {
		m := &c.Email.Mailboxes[i]
		if m.Route.Kind == "" {
			m.Route.Kind = "incidents"
		}
		if m.Route.Impact == "" {
			m.Route.Impact = "medium"
		}
		if m.Route.Urgency == "" {
			m.Route.Urgency = "medium"
		}
		if m.Folder == "" {
			m.Folder = "INBOX"
		}
		if m.ProcessedFolder == "" {
			m.ProcessedFolder = "Processed"
		}
		if m.FailedFolder == "" {
			m.FailedFolder = "Failed"
		}
	}
	if p3, ok := c.SLA.Targets["P3"]; ok {
		for i := range c.RequestCatalogue {
			it := &c.RequestCatalogue[i]
			if it.Response == 0 {
				it.Response = p3.Response
			}
			if it.Resolution == 0 {
				it.Resolution = p3.Resolution
			}
		}
	}
}

func isZeroCalendar(c Calendar) bool {
	return !c.AlwaysOn && c.Timezone == "" && len(c.Days) == 0 && c.Hours == "" && len(c.Holidays) == 0
}

// defaultTargets are the targets of CONTRACT §3.
func defaultTargets() map[string]Target {
	return map[string]Target{
		"P1": {Response: Duration(15 * time.Minute), Resolution: Duration(4 * time.Hour)},
		"P2": {Response: Duration(30 * time.Minute), Resolution: Duration(8 * time.Hour)},
		"P3": {Response: Duration(4 * time.Hour), Resolution: Duration(72 * time.Hour)},
		"P4": {Response: Duration(8 * time.Hour), Resolution: Duration(120 * time.Hour)},
	}
}

// Default returns the built-in demo configuration used when no file is
// given: a fresh value on every call, already validated.
func Default() *Config {
	user := func(id, name string, roles ...string) User {
		return User{ID: id, Name: name, Email: id + "@example.com", Roles: roles, Token: id + "-dev-token"}
	}
	c := &Config{
		Users: []User{
			user("admin", "Ada Admin", RoleAdmin),
			user("alice", "Alice Agent", RoleAgent),
			user("bob", "Bob Second", RoleAgent),
			user("carl", "Carl Third", RoleAgent),
			user("mona", "Mona Manager", RoleAgent),
			user("tess", "Tess Top", RoleProcessOwner),
			user("rita", "Rita Requester", RoleRequester),
			user("cab1", "Cab One", RoleAgent),
			user("cab2", "Cab Two", RoleAgent),
			user("cab3", "Cab Three", RoleAgent),
		},
		Groups: []Group{
			{ID: "service-desk", Name: "Service desk", Members: []string{"alice"}, Manager: "mona"},
			{ID: "second-line", Name: "Second line", Members: []string{"bob"}, Manager: "mona"},
			{ID: "third-line", Name: "Third line", Members: []string{"carl"}, Manager: "mona"},
			{ID: "cab", Name: "Change advisory board", Members: []string{"cab1", "cab2", "cab3"}, Manager: "tess"},
			{ID: "ecab", Name: "Emergency CAB", Members: []string{"cab1"}, Manager: "tess"},
			{ID: "managers", Name: "Line managers", Members: []string{"mona"}, Manager: "tess"},
		},
		Services: []Service{
			{ID: "email", Name: "Corporate email", Owner: "mona", CIs: []string{"mail-app", "mail-db"}},
			{ID: "payroll", Name: "Payroll", Owner: "tess", CIs: []string{"payroll-app"}},
			{ID: "vpn", Name: "Remote access VPN", Owner: "mona", CIs: []string{"vpn-gw"}},
		},
		TopManagement:  []string{"tess"},
		PriorityMatrix: defaultMatrix(),
		SLA:            SLA{Targets: defaultTargets(), Warning: 0.75, Calendar: Calendar{AlwaysOn: true}},
		Escalation:     Escalation{Functional: []string{"service-desk", "second-line", "third-line"}},
		AutoCloseAfter: Duration(72 * time.Hour),
		ChangePolicy: ChangePolicy{
			StandardChanges: []string{"password reset", "add user to group"},
			Approvers: map[string]Approvers{
				"normal":    {Group: "cab", Quorum: 2},
				"emergency": {Group: "ecab", Quorum: 1},
				"major":     {Group: "cab", Quorum: 3},
			},
			ApprovalTimeout: Duration(48 * time.Hour),
		},
		ReleasePolicy: ReleasePolicy{Approvers: Approvers{Group: "cab", Quorum: 1}, EarlyLife: Duration(7 * 24 * time.Hour)},
		CMDB: CMDB{
			CITypes: []string{"application", "server", "database", "network", "software", "document"},
			CIs: []ConfigCI{
				{ID: "srv-01", Type: "server", Name: "Application server 1", Owner: "mona", Version: "rhel-9.4", Location: "dc1/r12"},
				{ID: "srv-02", Type: "server", Name: "Database server", Owner: "mona", Version: "rhel-9.4", Location: "dc1/r14"},
				{ID: "mail-db", Type: "database", Name: "Mail store", Owner: "carl", Version: "pg-16", RunsOn: []string{"srv-02"}},
				{ID: "mail-app", Type: "application", Name: "Mail server", Owner: "carl", Version: "2.4", RunsOn: []string{"srv-01"}, DependsOn: []string{"mail-db"}},
				{ID: "payroll-app", Type: "application", Name: "Payroll application", Owner: "carl", Version: "7.1", RunsOn: []string{"srv-01"}},
				{ID: "vpn-gw", Type: "network", Name: "VPN gateway", Owner: "mona", Version: "fw-3.2", Location: "dc1/edge"},
			},
		},
		RequestCatalogue: []CatalogueItem{
			{ID: "password-reset", Name: "Password reset", Description: "Reset a forgotten or expired password.",
				Group: "service-desk", Response: Duration(time.Hour), Resolution: Duration(4 * time.Hour)},
			{ID: "new-laptop", Name: "New laptop", Description: "A standard laptop, approved by a line manager.",
				Group: "service-desk", Response: Duration(8 * time.Hour), Resolution: Duration(5 * 24 * time.Hour),
				Approval: &Approvers{Group: "managers", Quorum: 1}},
			{ID: "vpn-access", Name: "VPN access", Description: "Remote access to the corporate network.",
				Group: "second-line", Response: Duration(4 * time.Hour), Resolution: Duration(24 * time.Hour)},
		},
	}
	c.applyDefaults()
	if err := c.Validate(); err != nil {
		// Only an edit to this function can get here; TestDefaultIsValid
		// catches it before it ships.
		panic("policy: built-in configuration is invalid: " + err.Error())
	}
	return c
}

// UserByID returns the user with the id.
func (c *Config) UserByID(id string) (User, bool) {
	for _, u := range c.Users {
		if u.ID == id {
			return u, true
		}
	}
	return User{}, false
}

// GroupByID returns the group with the id.
func (c *Config) GroupByID(id string) (Group, bool) {
	for _, g := range c.Groups {
		if g.ID == id {
			return g, true
		}
	}
	return Group{}, false
}

// GroupsOf returns the ids of the groups the user is a member of, in
// configuration order.
func (c *Config) GroupsOf(userID string) []string {
	var out []string
	for _, g := range c.Groups {
		for _, m := range g.Members {
			if m == userID {
				out = append(out, g.ID)
				break
			}
		}
	}
	return out
}
