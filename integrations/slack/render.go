package slack

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	slackapi "github.com/slack-go/slack"

	"github.com/kanri-itsm/kanri/cases"
	"github.com/kanri-itsm/kanri/workflows"
)

// record is the part of any case record the messages show. Fields a kind
// does not have stay empty.
type record struct {
	ID          string   `json:"id"`
	Kind        string   `json:"kind"`
	Title       string   `json:"title"`
	Description string   `json:"description"`
	Status      string   `json:"status"`
	Type        string   `json:"type"`
	Service     string   `json:"service"`
	Services    []string `json:"services"`
	Priority    string   `json:"priority"`
	Assignee    string   `json:"assignee"`
	Group       string   `json:"group"`
	Caller      string   `json:"caller"`
	CreatedBy   string   `json:"created_by"`
	WaitingFor  string   `json:"waiting_for"`
	ItemName    string   `json:"item_name"`
	Resolution  string   `json:"resolution"`
	Major       bool     `json:"major"`
	Assessment  *struct {
		Risk string `json:"risk"`
	} `json:"assessment"`
	Schedule *struct {
		Start time.Time `json:"start"`
		End   time.Time `json:"end"`
	} `json:"schedule"`
	Approval  *workflows.Quorum   `json:"approval"`
	Approvals workflows.Approvals `json:"approvals"`
	UpdatedAt time.Time           `json:"updated_at"`
}

func parseRecord(raw json.RawMessage) (record, error) {
	var r record
	if err := json.Unmarshal(raw, &r); err != nil {
		return record{}, fmt.Errorf("slack: read record: %w", err)
	}
	if r.ID == "" {
		return record{}, fmt.Errorf("slack: record without id")
	}
	return r, nil
}

// awaitingApproval is the status changes, requests and releases wait for
// decisions in.
const awaitingApproval = "awaiting_approval"

// kindOfID finds a case's kind from its id's prefix (INC-000042).
func kindOfID(id string) (cases.Kind, bool) {
	prefix, _, ok := strings.Cut(id, "-")
	if !ok {
		return cases.Kind{}, false
	}
	for _, k := range cases.Kinds() {
		if k.Prefix == prefix {
			return k, true
		}
	}
	return cases.Kind{}, false
}

// caseRef is what a button's value names: "changes/CHG-000007". It grants
// nothing; the workflow decides whether the clicker may act.
func caseRef(kind cases.Kind, id string) string { return kind.Name + "/" + id }

func parseCaseRef(v string) (cases.Kind, string, bool) {
	name, id, ok := strings.Cut(v, "/")
	if !ok || id == "" {
		return cases.Kind{}, "", false
	}
	k, ok := cases.KindOf(name)
	if !ok {
		return cases.Kind{}, "", false
	}
	if kk, ok := kindOfID(id); !ok || kk != k {
		return cases.Kind{}, "", false
	}
	return k, id, true
}

// esc escapes text for mrkdwn: Slack reads &, < and > as markup.
func esc(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// clip shortens s to n characters, with an ellipsis.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// date renders a time in the reader's time zone, with a UTC fallback for
// clients that cannot.
func date(t time.Time) string {
	return fmt.Sprintf("<!date^%d^{date_short_pretty} {time}|%s>", t.Unix(), t.UTC().Format("2006-01-02 15:04 UTC"))
}

func mrkdwn(s string) *slackapi.TextBlockObject {
	return slackapi.NewTextBlockObject(slackapi.MarkdownType, s, false, false)
}

func plain(s string) *slackapi.TextBlockObject {
	return slackapi.NewTextBlockObject(slackapi.PlainTextType, s, true, false)
}

// mentions renders Kanri users as Slack mentions where they have a Slack
// account, and as their id otherwise. It caches within one rendering.
type mentions struct {
	c     *Connector
	ctx   context.Context
	cache map[string]string
}

func (c *Connector) mentions(ctx context.Context) *mentions {
	return &mentions{c: c, ctx: ctx, cache: map[string]string{}}
}

func (m *mentions) of(user string) string {
	if user == "" {
		return ""
	}
	if s, ok := m.cache[user]; ok {
		return s
	}
	s := esc(user)
	if id, ok, err := m.c.dir.SlackUserOf(m.ctx, m.c.cfg.TeamID, user); err == nil && ok {
		s = "<@" + id + ">"
	}
	m.cache[user] = s
	return s
}

// decisionLine is one approval: who, what, when.
func decisionLine(m *mentions, a workflows.Approval) string {
	icon := ":white_check_mark:"
	if a.Decision == "rejected" {
		icon = ":x:"
	}
	s := fmt.Sprintf("%s %s by %s, %s", icon, a.Decision, m.of(a.By), date(a.At))
	if a.Comment != "" {
		s += ": " + esc(clip(a.Comment, 200))
	}
	return s
}

// caseLink is a link to the case in Kanri, or "" without base_url.
func (c *Connector) caseLink(kind cases.Kind, id string) string {
	if c.cfg.BaseURL == "" {
		return ""
	}
	return strings.TrimSuffix(c.cfg.BaseURL, "/") + "/api/v1/" + kind.Name + "/" + id
}

// statusBlocks shows a case as /kanri status answers it.
func (c *Connector) statusBlocks(ctx context.Context, kind cases.Kind, r record) []slackapi.Block {
	m := c.mentions(ctx)
	head := fmt.Sprintf("*%s* %s", esc(r.ID), esc(clip(r.Title, 200)))
	if link := c.caseLink(kind, r.ID); link != "" {
		head = fmt.Sprintf("*<%s|%s>* %s", link, esc(r.ID), esc(clip(r.Title, 200)))
	}
	var fields []*slackapi.TextBlockObject
	add := func(label, value string) {
		if value != "" {
			fields = append(fields, mrkdwn("*"+label+"*\n"+value))
		}
	}
	add("Status", esc(r.Status))
	add("Priority", esc(r.Priority))
	add("Service", esc(r.Service))
	add("Assignee", m.of(r.Assignee))
	add("Group", esc(r.Group))
	add("Waiting for", esc(r.WaitingFor))
	if r.Major {
		add("Major", "yes")
	}
	if !r.UpdatedAt.IsZero() {
		add("Updated", date(r.UpdatedAt))
	}
	if len(fields) > 10 { // Slack's limit for a section
		fields = fields[:10]
	}
	blocks := []slackapi.Block{slackapi.NewSectionBlock(mrkdwn(head), fields, nil)}
	if r.Resolution != "" {
		blocks = append(blocks, slackapi.NewSectionBlock(mrkdwn("*Resolution*\n"+esc(clip(r.Resolution, 2000))), nil, nil))
	}
	return blocks
}

// summaryLine is one case in a list.
func summaryLine(r record) string {
	s := fmt.Sprintf("• *%s* %s — %s", esc(r.ID), esc(clip(r.Title, 120)), esc(r.Status))
	if r.Priority != "" {
		s += " (" + esc(r.Priority) + ")"
	}
	return s
}
