package slack

import (
	"context"
	"errors"
	"fmt"
	"strings"

	slackapi "github.com/slack-go/slack"

	"github.com/kanri-itsm/kanri/cases"
	"github.com/kanri-itsm/kanri/workflows"
)

func ephemeral(text string) Ack {
	return Ack{Body: map[string]string{"response_type": slackapi.ResponseTypeEphemeral, "text": text}}
}

func (c *Connector) helpText() string {
	cmd := c.cfg.command()
	return strings.Join([]string{
		"*Kanri* — service management in Slack:",
		"`" + cmd + " incident <title>` report an incident",
		"`" + cmd + " request <item>` request something from the catalogue",
		"`" + cmd + " complaint <what went wrong>` make a complaint about the service",
		"`" + cmd + " status <id>` show a case, e.g. INC-000042",
		"`" + cmd + " mine` list your open cases",
		"`" + cmd + " link <code>` link your Slack account to your Kanri user",
		"Approval requests come to you as messages with Approve and Reject buttons.",
	}, "\n")
}

func (c *Connector) unlinkedText() string {
	return "Kanri does not know your Slack account yet, so you cannot use it from Slack. " + c.linkHowTo()
}

const busyText = "Kanri is busy right now. Please try again in a moment."

func (c *Connector) dispatchCommand(cmd slackapi.SlashCommand) (Ack, error) {
	if err := c.checkTeam(cmd.TeamID); err != nil {
		return Ack{}, err
	}
	if cmd.Command != c.cfg.command() {
		return ephemeral(fmt.Sprintf("Kanri answers %s, not %s.", c.cfg.command(), cmd.Command)), nil
	}
	sub, rest, _ := strings.Cut(strings.TrimSpace(cmd.Text), " ")
	sub, rest = strings.ToLower(sub), strings.TrimSpace(rest)
	switch sub {
	case "", "help":
		return ephemeral(c.helpText()), nil
	case "incident", "request", "complaint", "status", "mine", "link":
	default:
		return ephemeral(fmt.Sprintf("I don't know %q.\n%s", sub, c.helpText())), nil
	}
	if !c.jobs.start("command "+sub, func(ctx context.Context) { c.runCommand(ctx, cmd, sub, rest) }) {
		return ephemeral(busyText), nil
	}
	return Ack{}, nil
}

func (c *Connector) runCommand(ctx context.Context, cmd slackapi.SlashCommand, sub, rest string) {
	if sub == "link" {
		c.link(ctx, cmd, rest)
		return
	}
	actor, ok := c.actorOf(ctx, cmd.TeamID, cmd.UserID, cmd.ResponseURL)
	if !ok {
		return
	}
	meta := modalMeta{ResponseURL: cmd.ResponseURL, Channel: cmd.ChannelID}
	var err error
	switch sub {
	case "incident":
		err = c.openView(ctx, cmd.TriggerID, c.incidentModal(rest, "", meta))
	case "request":
		if len(c.cat.Items) == 0 {
			c.tell(ctx, cmd.ResponseURL, cmd.UserID, "No request catalogue is configured in Kanri.")
			return
		}
		err = c.openView(ctx, cmd.TriggerID, c.requestModal(rest, meta))
	case "complaint":
		c.complain(ctx, cmd, actor, rest)
	case "status":
		c.showStatus(ctx, cmd, actor, rest)
	case "mine":
		c.showMine(ctx, cmd, actor)
	}
	if err != nil {
		c.log.Warn("slack: opening a modal failed", "command", sub, "user", cmd.UserID, "err", err)
		c.tell(ctx, cmd.ResponseURL, cmd.UserID, "Kanri could not open the form. Please try the command again.")
	}
}

// complain receives a complaint (clause 7.1) in the complainant's words:
// the first line is its title, the whole text its description.
func (c *Connector) complain(ctx context.Context, cmd slackapi.SlashCommand, actor workflows.Actor, text string) {
	if text == "" {
		c.tell(ctx, cmd.ResponseURL, cmd.UserID, fmt.Sprintf("Say what went wrong, e.g. `%s complaint nobody answered my call for an hour`.", c.cfg.command()))
		return
	}
	title, _, _ := strings.Cut(text, "\n")
	if r := []rune(title); len(r) > 200 {
		title = string(r[:200]) + "…"
	}
	raw, err := c.cases.OpenComplaint(ctx, actor, cases.OpenComplaint{Title: title, Description: text}, Source)
	if err != nil {
		c.tell(ctx, cmd.ResponseURL, cmd.UserID, c.caseErrorText(err, "record your complaint"))
		return
	}
	r, err := parseRecord(raw)
	if err != nil {
		c.log.Error("slack: complaint", "err", err)
		c.tell(ctx, cmd.ResponseURL, cmd.UserID, "Kanri recorded your complaint.")
		return
	}
	c.tell(ctx, cmd.ResponseURL, cmd.UserID, fmt.Sprintf("Your complaint %s is received: %s. The service desk will record and investigate it, and report back to you.", r.ID, r.Title))
}

func (c *Connector) showStatus(ctx context.Context, cmd slackapi.SlashCommand, actor workflows.Actor, arg string) {
	id := strings.ToUpper(strings.TrimSpace(arg))
	kind, ok := kindOfID(id)
	if !ok {
		c.tell(ctx, cmd.ResponseURL, cmd.UserID, fmt.Sprintf("Give a case id, e.g. `%s status INC-000042`.", c.cfg.command()))
		return
	}
	raw, err := c.cases.Get(ctx, kind, id, actor)
	if err != nil {
		c.tell(ctx, cmd.ResponseURL, cmd.UserID, c.caseErrorText(err, "show "+id))
		return
	}
	r, err := parseRecord(raw)
	if err != nil {
		c.log.Error("slack: status", "id", id, "err", err)
		c.tell(ctx, cmd.ResponseURL, cmd.UserID, "Kanri could not read "+id+".")
		return
	}
	c.tell(ctx, cmd.ResponseURL, cmd.UserID, r.ID+": "+r.Title+" ("+r.Status+")", c.statusBlocks(ctx, kind, r)...)
}

// openStatuses are the statuses /kanri mine lists: everything not yet
// closed, cancelled or rejected.
var openStatuses = map[string][]string{
	"incidents": {"logged", "assigned", "in_progress", "pending", "resolved"},
	"requests":  {"logged", "awaiting_approval", "assigned", "fulfilling", "pending", "fulfilled"},
}

const mineLimit = 20

func (c *Connector) showMine(ctx context.Context, cmd slackapi.SlashCommand, actor workflows.Actor) {
	var lines []string
	for _, name := range []string{"incidents", "requests"} {
		kind, _ := cases.KindOf(name)
		items, next, err := c.cases.List(ctx, kind, actor, cases.ListQuery{RaisedBy: actor.ID, Statuses: openStatuses[name], Limit: mineLimit})
		if err != nil {
			c.tell(ctx, cmd.ResponseURL, cmd.UserID, c.caseErrorText(err, "list your "+name))
			return
		}
		for _, raw := range items {
			if r, err := parseRecord(raw); err == nil {
				lines = append(lines, summaryLine(r))
			}
		}
		if next != "" {
			lines = append(lines, fmt.Sprintf("… and more %s", name))
		}
	}
	if len(lines) == 0 {
		c.tell(ctx, cmd.ResponseURL, cmd.UserID, "You have no open incidents or requests.")
		return
	}
	text := "*Your open cases*\n" + strings.Join(lines, "\n")
	c.tell(ctx, cmd.ResponseURL, cmd.UserID, "Your open cases", slackapi.NewSectionBlock(mrkdwn(clip(text, 3000)), nil, nil))
}

// caseErrorText words an error of the case commands for the person who
// acted. Only the cases package's own errors are shown in full; anything
// else is logged and summarised.
func (c *Connector) caseErrorText(err error, what string) string {
	for _, k := range []error{cases.ErrNotFound, cases.ErrForbidden, cases.ErrConflict, cases.ErrInvalid, cases.ErrUnavailable} {
		if errors.Is(err, k) {
			return fmt.Sprintf("Kanri could not %s: %s", what, esc(reason(err, k)))
		}
	}
	c.log.Error("slack: case command failed", "what", what, "err", err)
	return fmt.Sprintf("Kanri could not %s just now. Please try again in a moment.", what)
}

// reason is an error's message without its class prefix ("forbidden: ").
func reason(err, class error) string {
	return strings.TrimPrefix(err.Error(), class.Error()+": ")
}
