package policy

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// Each case breaks one rule of a valid configuration and names the message
// that must result. The key path is what a user searches their file for.
func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(c *Config)
		want   string
	}{
		// users
		{"user id required", func(c *Config) { c.Users[6].ID = "" }, "users[6].id: required"},
		{"user id unique", func(c *Config) { c.Users[2].ID = "alice"; c.Groups[1].Members = []string{"alice"} },
			`users[2] (alice).id: duplicate id "alice" (also users[1])`},
		{"system reserved", func(c *Config) { c.Users[6].ID = "system" }, `users[6] (system).id: "system" is reserved`},
		{"role known", func(c *Config) { c.Users[0].Roles = []string{"admin", "root"} },
			`users[0] (admin).roles[1]: unknown role "root" (want one of requester, agent, process_owner, admin)`},
		{"token unique", func(c *Config) { c.Users[1].Token = c.Users[0].Token },
			"users[1] (alice).token: same token as users[0]"},
		// groups
		{"group id required", func(c *Config) { c.Groups[5].ID = ""; c.RequestCatalogue[1].Approval = nil }, "groups[5].id: required"},
		{"group id unique", func(c *Config) {
			c.Groups[1].ID = "service-desk"
			c.Escalation.Functional = []string{"service-desk", "third-line"}
			c.RequestCatalogue[2].Group = "third-line"
		}, `groups[1] (service-desk).id: duplicate id "service-desk"`},
		{"member known", func(c *Config) { c.Groups[0].Members = []string{"zed"} }, `groups[0] (service-desk).members[0]: unknown user "zed"`},
		{"member once", func(c *Config) { c.Groups[3].Members = append(c.Groups[3].Members, "cab2") }, `groups[3] (cab).members[3]: user "cab2" is listed twice`},
		{"manager known", func(c *Config) { c.Groups[1].Manager = "zed" }, `groups[1] (second-line).manager: unknown user "zed"`},
		// services
		{"service id required", func(c *Config) { c.Services[0].ID = "" }, "services[0].id: required"},
		{"service id unique", func(c *Config) { c.Services[2].ID = "email" }, `services[2] (email).id: duplicate id "email"`},
		{"service owner known", func(c *Config) { c.Services[1].Owner = "zed" }, `services[1] (payroll).owner: unknown user "zed"`},
		// top management
		{"top management required", func(c *Config) { c.TopManagement = nil }, "top_management: must name at least one user"},
		{"top management known", func(c *Config) { c.TopManagement = []string{"tess", "zed"} }, `top_management[1]: unknown user "zed"`},
		// priority matrix
		{"matrix impact present", func(c *Config) { delete(c.PriorityMatrix, "medium") }, "priority_matrix.medium: missing"},
		{"matrix urgency present", func(c *Config) { delete(c.PriorityMatrix["low"], "high") }, "priority_matrix.low.high: missing"},
		{"matrix value", func(c *Config) { c.PriorityMatrix["high"]["high"] = "P0" }, `priority_matrix.high.high: "P0" is not one of P1, P2, P3, P4`},
		{"matrix impact known", func(c *Config) { c.PriorityMatrix["extreme"] = map[string]string{"high": "P1"} },
			"priority_matrix.extreme: unknown impact (want one of high, medium, low)"},
		{"matrix urgency known", func(c *Config) { c.PriorityMatrix["high"]["now"] = "P1" }, "priority_matrix.high.now: unknown urgency"},
		// SLA
		{"target for every priority used", func(c *Config) { delete(c.SLA.Targets, "P4") }, "sla.targets.P4: missing; priority_matrix uses P4"},
		{"target priority known", func(c *Config) { c.SLA.Targets["P9"] = Target{Duration(time.Hour), Duration(time.Hour)} },
			"sla.targets.P9: unknown priority"},
		{"response positive", func(c *Config) { setTarget(c, "P1", 0, 4*time.Hour) }, "sla.targets.P1.response: must be positive"},
		{"resolution positive", func(c *Config) { setTarget(c, "P2", time.Minute, -time.Hour) }, "sla.targets.P2.resolution: must be positive"},
		{"response within resolution", func(c *Config) { setTarget(c, "P3", 5*time.Hour, 4*time.Hour) },
			"sla.targets.P3.response: must not exceed the resolution target (5h0m0s > 4h0m0s)"},
		{"warning above 0", func(c *Config) { c.SLA.Warning = 0 }, "sla.warning: must be between 0 and 1 (exclusive), got 0"},
		{"warning below 1", func(c *Config) { c.SLA.Warning = 1 }, "sla.warning: must be between 0 and 1"},
		{"warning not negative", func(c *Config) { c.SLA.Warning = -0.5 }, "sla.warning: must be between 0 and 1"},
		// calendar
		{"timezone loadable", func(c *Config) { c.SLA.Calendar = tokyoHours(); c.SLA.Calendar.Timezone = "Mars/Olympus" },
			`sla.calendar.timezone: unknown time zone "Mars/Olympus"`},
		{"timezone not Local", func(c *Config) { c.SLA.Calendar = tokyoHours(); c.SLA.Calendar.Timezone = "Local" },
			`sla.calendar.timezone: "Local" depends on the machine`},
		{"days present", func(c *Config) { c.SLA.Calendar = tokyoHours(); c.SLA.Calendar.Days = nil }, "sla.calendar.days: must name at least one day"},
		{"days valid", func(c *Config) { c.SLA.Calendar = tokyoHours(); c.SLA.Calendar.Days[1] = "Tuesday" },
			`sla.calendar.days[1]: "Tuesday" is not one of mon, tue, wed, thu, fri, sat, sun`},
		{"days once", func(c *Config) { c.SLA.Calendar = tokyoHours(); c.SLA.Calendar.Days[4] = "mon" }, `sla.calendar.days[4]: "mon" is listed twice`},
		{"hours format", func(c *Config) { c.SLA.Calendar = tokyoHours(); c.SLA.Calendar.Hours = "9-18" }, `sla.calendar.hours: "9-18" is not HH:MM-HH:MM`},
		{"hours missing", func(c *Config) { c.SLA.Calendar = tokyoHours(); c.SLA.Calendar.Hours = "" }, `sla.calendar.hours: "" is not HH:MM-HH:MM`},
		{"hours ordered", func(c *Config) { c.SLA.Calendar = tokyoHours(); c.SLA.Calendar.Hours = "18:00-09:00" },
			`sla.calendar.hours: "18:00-09:00" is not HH:MM-HH:MM with the start before the end`},
		{"hours equal", func(c *Config) { c.SLA.Calendar = tokyoHours(); c.SLA.Calendar.Hours = "09:00-09:00" }, "sla.calendar.hours:"},
		{"hours minutes", func(c *Config) { c.SLA.Calendar = tokyoHours(); c.SLA.Calendar.Hours = "09:60-18:00" }, "sla.calendar.hours:"},
		{"hours past midnight", func(c *Config) { c.SLA.Calendar = tokyoHours(); c.SLA.Calendar.Hours = "09:00-24:30" }, "sla.calendar.hours:"},
		{"hours start 24", func(c *Config) { c.SLA.Calendar = tokyoHours(); c.SLA.Calendar.Hours = "24:00-24:00" }, "sla.calendar.hours:"},
		{"holiday date", func(c *Config) {
			c.SLA.Calendar = tokyoHours()
			c.SLA.Calendar.Holidays = []string{"2026-12-31", "2026-02-30"}
		},
			`sla.calendar.holidays[1]: "2026-02-30" is not a date like 2026-12-31`},
		{"24x7 alone", func(c *Config) { c.SLA.Calendar.Timezone = "UTC" }, "sla.calendar: 24x7 takes no timezone"},
		// escalation and auto close
		{"functional present", func(c *Config) { c.Escalation.Functional = nil }, "escalation.functional: must name at least one group"},
		{"functional known", func(c *Config) { c.Escalation.Functional[2] = "x" }, `escalation.functional[2]: unknown group "x"`},
		{"functional once", func(c *Config) { c.Escalation.Functional[2] = "service-desk" }, `escalation.functional[2]: group "service-desk" is listed twice`},
		{"top management after", func(c *Config) { c.Escalation.TopManagementAfter = Duration(-time.Hour) }, "escalation.top_management_after: must not be negative"},
		{"auto close positive", func(c *Config) { c.AutoCloseAfter = 0 }, "auto_close_after: must be positive"},
		// change policy: timeout and blackouts
		{"approval timeout not negative", func(c *Config) { c.ChangePolicy.ApprovalTimeout = Duration(-time.Hour) }, "change_policy.approval_timeout: must not be negative"},
		{"blackout ordered", func(c *Config) {
			c.ChangePolicy.Blackouts = []Blackout{{Name: "freeze", Start: time.Date(2026, 12, 24, 0, 0, 0, 0, time.UTC), End: time.Date(2026, 12, 23, 0, 0, 0, 0, time.UTC)}}
		}, "change_policy.blackouts[0] (freeze).end: must be after start"},
		{"blackout times", func(c *Config) { c.ChangePolicy.Blackouts = []Blackout{{Name: "freeze"}} }, "change_policy.blackouts[0] (freeze): needs start and end"},
		// release policy
		{"release approvers known", func(c *Config) { c.ReleasePolicy.Approvers.Group = "board" }, `release_policy.approvers.group: unknown group "board"`},
		{"early life not negative", func(c *Config) { c.ReleasePolicy.EarlyLife = Duration(-time.Hour) }, "release_policy.early_life: must not be negative"},
		// CMDB
		{"CI type known", func(c *Config) { c.CMDB.CIs[0].Type = "toaster" }, `cmdb.cis[0] (srv-01).type: unknown CI type "toaster"`},
		{"CI id unique", func(c *Config) { c.CMDB.CIs[1].ID = "srv-01"; c.CMDB.CIs[2].RunsOn = []string{"srv-01"} }, `cmdb.cis[1] (srv-01).id: duplicate id "srv-01"`},
		{"CI owner known", func(c *Config) { c.CMDB.CIs[0].Owner = "zed" }, `cmdb.cis[0] (srv-01).owner: unknown user "zed"`},
		{"CI status known", func(c *Config) { c.CMDB.CIs[0].Status = "broken" }, `cmdb.cis[0] (srv-01).status: unknown status "broken"`},
		{"CI relation target known", func(c *Config) { c.CMDB.CIs[3].DependsOn = []string{"ghost"} }, `cmdb.cis[3] (mail-app).depends_on[0]: unknown CI "ghost"`},
		{"CI relation not to itself", func(c *Config) { c.CMDB.CIs[2].RunsOn = []string{"mail-db"} }, `cmdb.cis[2] (mail-db).runs_on[0]: a CI cannot relate to itself`},
		{"service CIs known", func(c *Config) { c.Services[0].CIs = []string{"ghost"} }, `services[0] (email).cis[0]: unknown CI "ghost"`},
		// change policy
		{"change type known", func(c *Config) { c.ChangePolicy.Approvers["minor"] = Approvers{"cab", 1} },
			"change_policy.approvers.minor: unknown change type (want one of normal, emergency, major)"},
		{"change type present", func(c *Config) { delete(c.ChangePolicy.Approvers, "emergency") }, "change_policy.approvers.emergency: missing"},
		{"approver group known", func(c *Config) { c.ChangePolicy.Approvers["normal"] = Approvers{"board", 1} },
			`change_policy.approvers.normal.group: unknown group "board"`},
		{"approver group required", func(c *Config) { c.ChangePolicy.Approvers["normal"] = Approvers{"", 1} }, "change_policy.approvers.normal.group: required"},
		{"quorum at least 1", func(c *Config) { c.ChangePolicy.Approvers["major"] = Approvers{"cab", 0} },
			"change_policy.approvers.major.quorum: must be at least 1, got 0"},
		{"quorum at most members", func(c *Config) { c.ChangePolicy.Approvers["emergency"] = Approvers{"ecab", 2} },
			`change_policy.approvers.emergency.quorum: 2 exceeds the 1 members of group "ecab"`},
		{"standard change named", func(c *Config) { c.ChangePolicy.StandardChanges = append(c.ChangePolicy.StandardChanges, " ") },
			"change_policy.standard_changes[2]: must not be empty"},
		{"standard change once", func(c *Config) { c.ChangePolicy.StandardChanges[1] = "password reset" },
			`change_policy.standard_changes[1]: "password reset" is listed twice`},
		// request catalogue
		{"item id required", func(c *Config) { c.RequestCatalogue[0].ID = "" }, "request_catalogue[0].id: required"},
		{"item id unique", func(c *Config) { c.RequestCatalogue[2].ID = "new-laptop" }, `request_catalogue[2] (new-laptop).id: duplicate id "new-laptop"`},
		{"item group required", func(c *Config) { c.RequestCatalogue[0].Group = "" }, "request_catalogue[0] (password-reset).group: required"},
		{"item group known", func(c *Config) { c.RequestCatalogue[0].Group = "x" }, `request_catalogue[0] (password-reset).group: unknown group "x"`},
		{"item targets ordered", func(c *Config) { c.RequestCatalogue[2].Response = Duration(48 * time.Hour) },
			"request_catalogue[2] (vpn-access).response: must not exceed the resolution target"},
		{"item approval group", func(c *Config) { c.RequestCatalogue[1].Approval.Group = "x" },
			`request_catalogue[1] (new-laptop).approval.group: unknown group "x"`},
		{"item approval quorum", func(c *Config) { c.RequestCatalogue[1].Approval.Quorum = 2 },
			`request_catalogue[1] (new-laptop).approval.quorum: 2 exceeds the 1 members of group "managers"`},
		// suppliers and the audit programme
		{"supplier manager known", func(c *Config) { c.Suppliers.Manager = "zed" }, `suppliers.manager: unknown user "zed"`},
		{"review interval positive", func(c *Config) { c.Suppliers.ReviewInterval = -1 }, "suppliers.review_interval: must be positive"},
		{"audited process owner known", func(c *Config) {
			c.AuditProgramme.Processes = []AuditedProcess{{ID: "incident", Owner: "zed"}}
		}, `audit_programme.processes[0] (incident).owner: unknown user "zed"`},
		{"auditor independent of a group in scope", func(c *Config) {
			c.AuditProgramme.Processes = []AuditedProcess{{ID: "incident", Owner: "tess", Groups: []string{"service-desk"}}}
			c.AuditProgramme.Audits = []PlannedAudit{{ID: "a1", Title: "Incidents", Criteria: "8.6", Auditor: "alice",
				Scope: AuditScope{Processes: []string{"incident"}}}}
		}, "audit_programme.audits[0] (a1).auditor: alice works in group service-desk, which is in the audit's scope: an auditor may not audit their own work"},
		{"auditor independent of a process they own", func(c *Config) {
			c.AuditProgramme.Processes = []AuditedProcess{{ID: "incident", Owner: "tess"}}
			c.AuditProgramme.Audits = []PlannedAudit{{ID: "a1", Title: "Incidents", Criteria: "8.6", Auditor: "tess",
				Scope: AuditScope{Processes: []string{"incident"}}}}
		}, "tess owns the incident process, which is in the audit's scope"},
		{"audit scope known", func(c *Config) {
			c.AuditProgramme.Audits = []PlannedAudit{{ID: "a1", Title: "Incidents", Criteria: "8.6", Auditor: "alice",
				Scope: AuditScope{Processes: []string{"change"}}}}
		}, `audit_programme.audits[0] (a1).scope.processes: unknown process "change"`},
		// server
		{"temporal port", func(c *Config) { c.Server.TemporalPort = 70000 }, "server.temporal_port: must be between 1 and 65535"},
		{"max body", func(c *Config) { c.Server.MaxBodyBytes = -1 }, "server.max_body_bytes: must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.mutate(c)
			err := c.Validate()
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got\n%v\nwant a line containing %q", err, tt.want)
			}
			if n := len(err.(interface{ Unwrap() []error }).Unwrap()); n != 1 {
				t.Errorf("got %d problems, want only the one broken:\n%v", n, err)
			}
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Path == "" || fe.Problem == "" {
				t.Errorf("errors.As(%v, *FieldError) = %+v", err, fe)
			}
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	c := Default()
	c.SLA.Warning = 2
	c.Groups[1].Manager = "zed"
	c.Escalation.Functional[2] = "x"
	err := c.Validate()
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		t.Fatalf("Validate returned %T, want errors.Join", err)
	}
	if n := len(joined.Unwrap()); n != 3 {
		t.Fatalf("got %d problems, want 3:\n%v", n, err)
	}
	// Order follows the file, not map iteration: the same config gives the same text.
	for range 20 {
		if again := c.Validate(); again.Error() != err.Error() {
			t.Fatalf("message changed between runs:\n%v\n---\n%v", err, again)
		}
	}
}

func TestValidateKeepsTokensOutOfMessages(t *testing.T) {
	c := Default()
	c.Users[2].Token = "s3cret"
	c.Users[3].Token = "s3cret"
	err := c.Validate()
	if err == nil || strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "users[3] (carl).token") {
		t.Fatalf("got %v", err)
	}
}

// Rules that need Parse: defaults come first, so a missing key is not an error.
func TestParseValidates(t *testing.T) {
	doc := strings.Replace(acceptanceYAML(t), "    P4: {response: 8h, resolution: 5d}\n", "", 1)
	_, err := Parse([]byte(doc))
	if err == nil || !strings.Contains(err.Error(), "sla.targets.P4: missing") {
		t.Fatalf("got %v", err)
	}
}

func TestCalendarValidate(t *testing.T) {
	if err := (Calendar{AlwaysOn: true}).Validate(); err != nil {
		t.Errorf("24x7: %v", err)
	}
	if err := tokyoHours().Validate(); err != nil {
		t.Errorf("Tokyo: %v", err)
	}
	if err := (Calendar{Days: []string{"mon"}, Hours: "00:00-24:00"}).Validate(); err != nil {
		t.Errorf("UTC, whole day: %v", err)
	}
	err := (Calendar{Timezone: "Nowhere/City", Hours: "x"}).Validate()
	for _, want := range []string{"calendar.timezone:", "calendar.days:", "calendar.hours:"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v, want %q", err, want)
		}
	}
}

func setTarget(c *Config, prio string, response, resolution time.Duration) {
	c.SLA.Targets[prio] = Target{Response: Duration(response), Resolution: Duration(resolution)}
}

func tokyoHours() Calendar {
	return Calendar{Timezone: "Asia/Tokyo", Days: []string{"mon", "tue", "wed", "thu", "fri"}, Hours: "09:00-18:00"}
}
