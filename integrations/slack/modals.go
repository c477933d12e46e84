package slack

import (
	"context"
	"encoding/json"
	"strings"

	slackapi "github.com/slack-go/slack"

	"github.com/kanri-itsm/kanri/cases"
)

// Callback ids of Kanri's modals and shortcuts. The shortcuts are
// declared in the Slack app's manifest with these ids.
const (
	cbIncident        = "kanri_incident"              // the incident modal, and the global shortcut
	cbRequest         = "kanri_request"               // the request modal
	cbReopen          = "kanri_reopen"                // the reopen modal
	cbIncidentFromMsg = "kanri_incident_from_message" // the message shortcut
)

// Block ids of the modals' inputs; each input's action id is "value".
const (
	inTitle       = "title"
	inService     = "service"
	inImpact      = "impact"
	inUrgency     = "urgency"
	inDescription = "description"
	inItem        = "item"
	inReason      = "reason"
	inValue       = "value"
)

// Slack's limits: a plain-text input holds 3000 characters, a select 100
// options. Kanri's title limit is 300.
const (
	maxInput   = 3000
	maxTitle   = 300
	maxOptions = 100
)

// modalMeta travels in a modal's private_metadata, from the command that
// opened it to its submission.
type modalMeta struct {
	ResponseURL string `json:"r,omitempty"` // where to answer
	Channel     string `json:"c,omitempty"` // where the command was typed
	Permalink   string `json:"l,omitempty"` // the message a shortcut started from
	Case        string `json:"k,omitempty"` // reopen: the case ref
	MsgChannel  string `json:"mc,omitempty"`
	MsgTS       string `json:"mt,omitempty"` // reopen: the DM to update
}

func (m modalMeta) encode() string {
	b, _ := json.Marshal(m) // plain strings: cannot fail
	return string(b)
}

func decodeMeta(s string) modalMeta {
	var m modalMeta
	_ = json.Unmarshal([]byte(s), &m) // absent or foreign metadata reads as empty
	return m
}

var levels = []Choice{{"high", "High"}, {"medium", "Medium"}, {"low", "Low"}}

func options(cs []Choice) []*slackapi.OptionBlockObject {
	if len(cs) > maxOptions {
		cs = cs[:maxOptions]
	}
	out := make([]*slackapi.OptionBlockObject, len(cs))
	for i, ch := range cs {
		label := ch.Label
		if label == "" {
			label = ch.Value
		}
		out[i] = slackapi.NewOptionBlockObject(ch.Value, plain(clip(label, 75)), nil)
	}
	return out
}

func textInput(block, label, initial string, maxLen int, multiline, optional bool) *slackapi.InputBlock {
	el := slackapi.NewPlainTextInputBlockElement(nil, inValue).WithMaxLength(maxLen).WithMultiline(multiline)
	if initial != "" {
		el = el.WithInitialValue(clip(initial, maxLen))
	}
	return slackapi.NewInputBlock(block, plain(label), nil, el).WithOptional(optional)
}

func selectInput(block, label string, choices []Choice, initial string, optional bool) *slackapi.InputBlock {
	opts := options(choices)
	el := slackapi.NewOptionsSelectBlockElement(slackapi.OptTypeStatic, plain("Choose"), inValue, opts...)
	for _, o := range opts {
		if initial != "" && o.Value == initial {
			el = el.WithInitialOption(o)
		}
	}
	return slackapi.NewInputBlock(block, plain(label), nil, el).WithOptional(optional)
}

// serviceInput is a select of the service catalogue, or a text input when
// the connector was given none.
func (c *Connector) serviceInput(optional bool) *slackapi.InputBlock {
	if len(c.cat.Services) == 0 {
		return textInput(inService, "Service", "", 100, false, optional)
	}
	return selectInput(inService, "Service", c.cat.Services, "", optional)
}

func modal(callback, title, submit string, meta modalMeta, blocks ...slackapi.Block) slackapi.ModalViewRequest {
	return slackapi.ModalViewRequest{
		Type:            slackapi.VTModal,
		CallbackID:      callback,
		Title:           plain(title),
		Submit:          plain(submit),
		Close:           plain("Cancel"),
		PrivateMetadata: meta.encode(),
		Blocks:          slackapi.Blocks{BlockSet: blocks},
	}
}

func (c *Connector) incidentModal(title, description string, meta modalMeta) slackapi.ModalViewRequest {
	blocks := []slackapi.Block{
		textInput(inTitle, "Title", title, maxTitle, false, false),
		c.serviceInput(false),
		selectInput(inImpact, "Impact", levels, "", false),
		selectInput(inUrgency, "Urgency", levels, "", false),
		textInput(inDescription, "Description", description, maxInput, true, true),
	}
	if meta.Permalink != "" {
		blocks = append(blocks, slackapi.NewContextBlock("", mrkdwn("The Slack message is linked in the incident's description.")))
	}
	return modal(cbIncident, "Report an incident", "Report", meta, blocks...)
}

// requestModal offers the request catalogue; arg preselects the item whose
// id or name it matches.
func (c *Connector) requestModal(arg string, meta modalMeta) slackapi.ModalViewRequest {
	initial := ""
	for _, it := range c.cat.Items {
		if strings.EqualFold(it.Value, arg) || (it.Label != "" && strings.EqualFold(it.Label, arg)) {
			initial = it.Value
		}
	}
	title := ""
	if initial == "" {
		title = arg // not an item: keep the words as the title
	}
	blocks := []slackapi.Block{
		selectInput(inItem, "What do you need?", c.cat.Items, initial, false),
		textInput(inTitle, "Title (the item's name if empty)", title, maxTitle, false, true),
	}
	if len(c.cat.Services) > 0 {
		blocks = append(blocks, c.serviceInput(true))
	}
	blocks = append(blocks, textInput(inDescription, "Details", "", maxInput, true, true))
	return modal(cbRequest, "Request something", "Request", meta, blocks...)
}

func reopenModal(id string, meta modalMeta) slackapi.ModalViewRequest {
	return modal(cbReopen, "Reopen "+id, "Reopen", meta,
		textInput(inReason, "What is still wrong?", "", maxInput, true, false))
}

// stateValue reads an input of a submitted modal: a select's chosen value
// or a text input's trimmed text.
func stateValue(v *slackapi.ViewState, block string) string {
	if v == nil {
		return ""
	}
	a, ok := v.Values[block][inValue]
	if !ok {
		return ""
	}
	if a.SelectedOption.Value != "" {
		return a.SelectedOption.Value
	}
	return strings.TrimSpace(a.Value)
}

func isLevel(s string) bool {
	for _, l := range levels {
		if l.Value == s {
			return true
		}
	}
	return false
}

// submitView handles a modal's submission: what can be checked at once is
// answered in the modal (response_action errors); the rest runs as a job
// that answers through the command's response_url or by DM. The view id
// is remembered, so a repeated submission opens nothing twice.
func (c *Connector) submitView(ctx context.Context, cb slackapi.InteractionCallback) (Ack, error) {
	st := cb.View.State
	meta := decodeMeta(cb.View.PrivateMetadata)
	errs := map[string]string{}
	var work func(ctx context.Context)
	switch cb.View.CallbackID {
	case cbIncident:
		in := cases.OpenIncident{
			Title: stateValue(st, inTitle), Description: stateValue(st, inDescription),
			Service: stateValue(st, inService), Impact: stateValue(st, inImpact), Urgency: stateValue(st, inUrgency),
		}
		if in.Title == "" {
			errs[inTitle] = "Give the incident a title."
		}
		if in.Service == "" {
			errs[inService] = "Choose the affected service."
		}
		if !isLevel(in.Impact) {
			errs[inImpact] = "Choose high, medium or low."
		}
		if !isLevel(in.Urgency) {
			errs[inUrgency] = "Choose high, medium or low."
		}
		if meta.Permalink != "" {
			in.Description = strings.TrimSpace(in.Description + "\n\nSlack message: " + meta.Permalink)
		}
		work = func(ctx context.Context) { c.openIncident(ctx, cb, meta, in) }
	case cbRequest:
		in := cases.OpenRequest{
			Item: stateValue(st, inItem), Title: stateValue(st, inTitle),
			Service: stateValue(st, inService), Description: stateValue(st, inDescription),
		}
		if in.Item == "" {
			errs[inItem] = "Choose an item of the catalogue."
		}
		if in.Title == "" {
			in.Title = c.itemLabel(in.Item)
		}
		work = func(ctx context.Context) { c.openRequest(ctx, cb, meta, in) }
	case cbReopen:
		why := stateValue(st, inReason)
		if why == "" {
			errs[inReason] = "Say what is still wrong."
		}
		work = func(ctx context.Context) { c.reopen(ctx, cb, meta, why) }
	default:
		return Ack{}, nil
	}
	if len(errs) > 0 {
		return Ack{Body: slackapi.NewErrorsViewSubmissionResponse(errs)}, nil
	}
	t, ok := c.jobs.reserve()
	if !ok {
		return Ack{Body: slackapi.NewErrorsViewSubmissionResponse(map[string]string{firstBlock(cb.View): busyText})}, nil
	}
	now := c.now()
	seen, err := c.replay.Seen(ctx, "view:"+cb.View.ID, now, now.Add(eventMemory))
	if err != nil || seen {
		t.release()
		if err != nil {
			return Ack{}, err
		}
		return Ack{}, nil
	}
	t.run("submit "+cb.View.CallbackID, work)
	return Ack{}, nil
}

// firstBlock is the block an error that concerns the whole form is shown
// under.
func firstBlock(v slackapi.View) string {
	switch v.CallbackID {
	case cbRequest:
		return inItem
	case cbReopen:
		return inReason
	default:
		return inTitle
	}
}

func (c *Connector) itemLabel(item string) string {
	for _, it := range c.cat.Items {
		if it.Value == item && it.Label != "" {
			return it.Label
		}
	}
	return item
}

func (c *Connector) openIncident(ctx context.Context, cb slackapi.InteractionCallback, meta modalMeta, in cases.OpenIncident) {
	actor, ok := c.actorOf(ctx, teamOf(&cb), cb.User.ID, meta.ResponseURL)
	if !ok {
		return
	}
	raw, err := c.cases.OpenIncident(ctx, actor, in, Source)
	c.reportOpened(ctx, cb, meta, "incident", raw, err)
}

func (c *Connector) openRequest(ctx context.Context, cb slackapi.InteractionCallback, meta modalMeta, in cases.OpenRequest) {
	actor, ok := c.actorOf(ctx, teamOf(&cb), cb.User.ID, meta.ResponseURL)
	if !ok {
		return
	}
	raw, err := c.cases.OpenRequest(ctx, actor, in, Source)
	c.reportOpened(ctx, cb, meta, "request", raw, err)
}

func (c *Connector) reportOpened(ctx context.Context, cb slackapi.InteractionCallback, meta modalMeta, noun string, raw json.RawMessage, err error) {
	if err != nil {
		c.tell(ctx, meta.ResponseURL, cb.User.ID, c.caseErrorText(err, "open the "+noun))
		return
	}
	r, err := parseRecord(raw)
	if err != nil {
		c.log.Error("slack: opened "+noun, "err", err)
		c.tell(ctx, meta.ResponseURL, cb.User.ID, "Kanri opened the "+noun+" but could not read it back.")
		return
	}
	kind, _ := kindOfID(r.ID)
	c.tell(ctx, meta.ResponseURL, cb.User.ID, "Opened "+r.ID+": "+r.Title,
		append([]slackapi.Block{slackapi.NewSectionBlock(mrkdwn("Opened *"+esc(r.ID)+"*."), nil, nil)}, c.statusBlocks(ctx, kind, r)...)...)
}

// incidentFromMessage is the message shortcut: it opens the incident
// modal filled from the message, and the message's permalink goes into the
// description on submission.
func (c *Connector) incidentFromMessage(ctx context.Context, cb slackapi.InteractionCallback) {
	if _, ok := c.actorOf(ctx, teamOf(&cb), cb.User.ID, cb.ResponseURL); !ok {
		return
	}
	ts := cb.MessageTs
	if ts == "" {
		ts = cb.Message.Timestamp
	}
	var link string
	err := c.retry(ctx, func(ctx context.Context) (err error) {
		link, err = c.api.GetPermalinkContext(ctx, &slackapi.PermalinkParameters{Channel: cb.Channel.ID, Ts: ts})
		return err
	})
	if err != nil || link == "" {
		// The modal must open within the trigger's three seconds: fall
		// back to naming the message rather than failing.
		c.log.Warn("slack: chat.getPermalink failed", "channel", cb.Channel.ID, "ts", ts, "err", err)
		link = "message " + ts + " in channel " + cb.Channel.ID
	}
	text := strings.TrimSpace(cb.Message.Text)
	title, _, _ := strings.Cut(text, "\n")
	meta := modalMeta{ResponseURL: cb.ResponseURL, Channel: cb.Channel.ID, Permalink: link}
	if err := c.openView(ctx, cb.TriggerID, c.incidentModal(clip(title, 100), clip(text, maxInput-400), meta)); err != nil {
		c.log.Warn("slack: opening the incident modal failed", "user", cb.User.ID, "err", err)
		c.tell(ctx, cb.ResponseURL, cb.User.ID, "Kanri could not open the form. Please try again.")
	}
}

// globalIncident is the global shortcut: an empty incident modal. There
// is no response_url; the answer comes by DM.
func (c *Connector) globalIncident(ctx context.Context, cb slackapi.InteractionCallback) {
	if _, ok := c.actorOf(ctx, teamOf(&cb), cb.User.ID, ""); !ok {
		return
	}
	if err := c.openView(ctx, cb.TriggerID, c.incidentModal("", "", modalMeta{})); err != nil {
		c.log.Warn("slack: opening the incident modal failed", "user", cb.User.ID, "err", err)
	}
}
