package policy

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestLoadAcceptance(t *testing.T) {
	c, err := Load(filepath.Join("testdata", "acceptance.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.SLA.Targets["P1"].Response.D(); got != 3*time.Second {
		t.Errorf("P1 response = %v, want 3s", got)
	}
	if got := c.SLA.Targets["P1"].Resolution.D(); got != 12*time.Second {
		t.Errorf("P1 resolution = %v, want 12s", got)
	}
	if got := c.SLA.Targets["P3"].Resolution.D(); got != 72*time.Hour {
		t.Errorf("P3 resolution = %v, want 3d", got)
	}
	if c.SLA.Warning != 0.5 {
		t.Errorf("warning = %v, want 0.5", c.SLA.Warning)
	}
	if !c.SLA.Calendar.AlwaysOn {
		t.Errorf("calendar = %+v, want 24x7", c.SLA.Calendar)
	}
	if c.AutoCloseAfter.D() != 5*time.Second {
		t.Errorf("auto_close_after = %v, want 5s", c.AutoCloseAfter)
	}
	if a := c.ChangePolicy.Approvers["major"]; a != (Approvers{Group: "cab", Quorum: 3}) {
		t.Errorf("major approvers = %+v", a)
	}
	if u, ok := c.UserByID("alice"); !ok || u.SlackID != "U0ALICE" || u.Token != "alice-token" {
		t.Errorf("alice = %+v, %v", u, ok)
	}
	if p, err := c.PriorityMatrix.Priority("medium", "high"); err != nil || p != "P2" {
		t.Errorf("medium/high = %q, %v", p, err)
	}
}

func TestLoadErrors(t *testing.T) {
	if _, err := Load(filepath.Join("testdata", "does-not-exist.yaml")); err == nil || !strings.Contains(err.Error(), "does-not-exist.yaml") {
		t.Errorf("missing file: %v", err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(path, []byte("sla:\n  warning: 2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "sla.warning") {
		t.Errorf("invalid file: %v", err)
	}
}

func TestParseRejectsUnknownKeys(t *testing.T) {
	base, err := os.ReadFile(filepath.Join("testdata", "acceptance.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, doc, key string }{
		{"top level", string(base) + "colour: blue\n", "colour"},
		{"in a user", strings.Replace(string(base), "{id: bob,", "{id: bob, nickname: bobby,", 1), "nickname"},
		{"in sla", strings.Replace(string(base), "  warning: 0.5\n", "  warning: 0.5\n  warnings: 0.6\n", 1), "warnings"},
		{"in a target", strings.Replace(string(base), "P1: {response: 3s,", "P1: {respond: 3s, response: 3s,", 1), "respond"},
		{"in the calendar", strings.Replace(string(base), "calendar: 24x7", "calendar: {timezone: UTC, days: [mon], hours: 09:00-17:00, weekends: no}", 1), "weekends"},
		{"in the server", string(base) + "server: {port: 8080}\n", "port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(tt.doc, tt.key) {
				t.Fatalf("the test document does not contain %q", tt.key)
			}
			_, err := Parse([]byte(tt.doc))
			if err == nil || !strings.Contains(err.Error(), tt.key) {
				t.Fatalf("got %v, want an error naming %q", err, tt.key)
			}
		})
	}
}

func TestParseSyntaxErrors(t *testing.T) {
	tests := []struct{ name, doc, want string }{
		{"bad duration", "auto_close_after: soon\n", `invalid duration "soon"`},
		{"bad calendar scalar", "sla: {calendar: weekdays}\n", `calendar "weekdays"`},
		{"empty calendar mapping", "sla: {calendar: {}}\n", "empty mapping"},
		{"two documents", "users: []\n---\nusers: []\n", "second YAML document"},
		{"trailing empty document is fine", "users: []\n---\n", "top_management: must name at least one user"},
		{"not YAML", "users: [\n", "yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.doc))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// A file that gives only what has no default gets every default of the brief.
func TestParseAppliesDefaults(t *testing.T) {
	doc := `
users:
  - {id: ann, name: Ann, email: ann@example.com}
  - {id: max, name: Max, email: max@example.com, roles: [agent]}
groups:
  - {id: desk, name: Desk, members: [max], manager: ann}
top_management: [ann]
escalation: {functional: [desk]}
change_policy:
  approvers:
    normal: {group: desk, quorum: 1}
    emergency: {group: desk, quorum: 1}
    major: {group: desk, quorum: 1}
request_catalogue:
  - {id: thing, name: A thing, group: desk}
  - {id: quick, name: Quick, group: desk, response: 10m}
`
	c, err := Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.Users[0].Roles, []string{RoleRequester}) {
		t.Errorf("roles of a user without roles = %v, want [requester]", c.Users[0].Roles)
	}
	if !reflect.DeepEqual(c.Users[1].Roles, []string{RoleAgent}) {
		t.Errorf("explicit roles changed: %v", c.Users[1].Roles)
	}
	if c.SLA.Warning != 0.75 {
		t.Errorf("warning = %v, want 0.75", c.SLA.Warning)
	}
	if !reflect.DeepEqual(c.SLA.Calendar, Calendar{AlwaysOn: true}) {
		t.Errorf("calendar = %+v, want 24x7", c.SLA.Calendar)
	}
	if c.AutoCloseAfter.D() != 72*time.Hour {
		t.Errorf("auto_close_after = %v, want 72h", c.AutoCloseAfter)
	}
	if !reflect.DeepEqual(c.PriorityMatrix, defaultMatrix()) {
		t.Errorf("matrix = %v", c.PriorityMatrix)
	}
	wantTargets := map[string]Target{
		"P1": {Duration(15 * time.Minute), Duration(4 * time.Hour)},
		"P2": {Duration(30 * time.Minute), Duration(8 * time.Hour)},
		"P3": {Duration(4 * time.Hour), Duration(3 * 24 * time.Hour)},
		"P4": {Duration(8 * time.Hour), Duration(5 * 24 * time.Hour)},
	}
	if !reflect.DeepEqual(c.SLA.Targets, wantTargets) {
		t.Errorf("targets = %v", c.SLA.Targets)
	}
	if it := c.RequestCatalogue[0]; it.Response.D() != 4*time.Hour || it.Resolution.D() != 72*time.Hour {
		t.Errorf("item without targets = %v/%v, want P3's 4h/72h", it.Response, it.Resolution)
	}
	if it := c.RequestCatalogue[1]; it.Response.D() != 10*time.Minute || it.Resolution.D() != 72*time.Hour {
		t.Errorf("item with a response target = %v/%v, want 10m/72h", it.Response, it.Resolution)
	}
}

func TestParseBusinessCalendar(t *testing.T) {
	doc := strings.Replace(acceptanceYAML(t), "calendar: 24x7", `calendar:
    timezone: Asia/Tokyo
    days: [mon, tue, wed, thu, fri]
    hours: "09:00-18:00"
    holidays: ["2026-12-31", 2027-01-01]`, 1)
	c, err := Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	want := Calendar{
		Timezone: "Asia/Tokyo",
		Days:     []string{"mon", "tue", "wed", "thu", "fri"},
		Hours:    "09:00-18:00",
		Holidays: []string{"2026-12-31", "2027-01-01"},
	}
	if !reflect.DeepEqual(c.SLA.Calendar, want) {
		t.Errorf("calendar = %+v, want %+v", c.SLA.Calendar, want)
	}
}

func TestDefaultIsValid(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, u := range c.Users {
		if u.Token != u.ID+"-dev-token" {
			t.Errorf("user %s has token %q, want %q", u.ID, u.Token, u.ID+"-dev-token")
		}
	}
	wantRoles := map[string]string{
		"admin": RoleAdmin, "alice": RoleAgent, "bob": RoleAgent, "carl": RoleAgent, "mona": RoleAgent,
		"tess": RoleProcessOwner, "rita": RoleRequester, "cab1": RoleAgent, "cab2": RoleAgent, "cab3": RoleAgent,
	}
	for id, role := range wantRoles {
		u, ok := c.UserByID(id)
		if !ok || !slices.Contains(u.Roles, role) {
			t.Errorf("user %s = %+v, %v; want role %s", id, u, ok, role)
		}
	}
	if g, ok := c.GroupByID("service-desk"); !ok || g.Manager != "mona" || !reflect.DeepEqual(g.Members, []string{"alice"}) {
		t.Errorf("service-desk = %+v", g)
	}
	if g, ok := c.GroupByID("cab"); !ok || g.Manager != "tess" || len(g.Members) != 3 {
		t.Errorf("cab = %+v", g)
	}
	if !reflect.DeepEqual(c.TopManagement, []string{"tess"}) {
		t.Errorf("top management = %v", c.TopManagement)
	}
	if !reflect.DeepEqual(c.Escalation.Functional, []string{"service-desk", "second-line", "third-line"}) {
		t.Errorf("functional = %v", c.Escalation.Functional)
	}
	if !c.SLA.Calendar.AlwaysOn || c.AutoCloseAfter.D() != 72*time.Hour || c.SLA.Warning != 0.75 {
		t.Errorf("calendar %+v, auto close %v, warning %v", c.SLA.Calendar, c.AutoCloseAfter, c.SLA.Warning)
	}
	if got := c.ChangePolicy.Approvers; !reflect.DeepEqual(got, map[string]Approvers{
		"normal": {"cab", 2}, "emergency": {"ecab", 1}, "major": {"cab", 3},
	}) {
		t.Errorf("approvers = %v", got)
	}
	if rp, err := c.RequestPolicy("new-laptop"); err != nil || rp.Item.Approval == nil || *rp.Item.Approval != (Approvers{"managers", 1}) ||
		rp.Targets != (TargetTimes{8 * time.Hour, 5 * 24 * time.Hour}) {
		t.Errorf("new-laptop = %+v, %v", rp, err)
	}
	if rp, err := c.RequestPolicy("password-reset"); err != nil || rp.Item.Approval != nil || rp.Item.Group != "service-desk" ||
		rp.Targets != (TargetTimes{time.Hour, 4 * time.Hour}) {
		t.Errorf("password-reset = %+v, %v", rp, err)
	}
	if rp, err := c.RequestPolicy("vpn-access"); err != nil || rp.Item.Group != "second-line" || rp.Targets != (TargetTimes{4 * time.Hour, 24 * time.Hour}) {
		t.Errorf("vpn-access = %+v, %v", rp, err)
	}

	// Default returns a fresh value: one caller's edits do not reach another.
	c.Users[0].ID = "changed"
	c.PriorityMatrix["high"]["high"] = "P4"
	if d := Default(); d.Users[0].ID != "admin" || d.PriorityMatrix["high"]["high"] != "P1" {
		t.Error("Default shares memory between calls")
	}
}

func TestLookups(t *testing.T) {
	c := Default()
	if _, ok := c.UserByID("nobody"); ok {
		t.Error("UserByID(nobody) found someone")
	}
	if _, ok := c.GroupByID("nobody"); ok {
		t.Error("GroupByID(nobody) found something")
	}
	tests := []struct {
		user string
		want []string
	}{
		{"cab1", []string{"cab", "ecab"}},
		{"alice", []string{"service-desk"}},
		{"mona", []string{"managers"}},
		{"rita", nil},
		{"nobody", nil},
	}
	for _, tt := range tests {
		if got := c.GroupsOf(tt.user); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("GroupsOf(%s) = %v, want %v", tt.user, got, tt.want)
		}
	}
	if _, err := c.RequestPolicy("x"); err == nil || err.Error() != `request item "x" is not in request_catalogue` {
		t.Errorf("RequestPolicy(x) error = %v", err)
	}
}

func acceptanceYAML(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "acceptance.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
