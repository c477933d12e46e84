package slack

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// DefaultAPIURL is Slack's Web API. slack-go needs the trailing slash.
const DefaultAPIURL = "https://slack.com/api/"

// DefaultCommand is the slash command Kanri answers.
const DefaultCommand = "/kanri"

// Config is the slack section of Kanri's configuration file:
//
//	slack:
//	  team_id: T0123456
//	  bot_token_env: KANRI_SLACK_BOT_TOKEN        # or bot_token: xoxb-...
//	  signing_secret_env: KANRI_SLACK_SIGNING_SECRET
//	  app_token_env: KANRI_SLACK_APP_TOKEN        # Socket Mode; or app_token: xapp-...
//	  api_url: https://slack.com/api/             # tests point it at a local server
//	  base_url: https://kanri.example.com         # for links in messages
//	  channels: {major_incidents: C0MAJOR, approvals: C0CAB}
//	  groups: {service-desk: C0DESK, second-line: C0L2}
//
// A secret is given either inline or by the name of the environment variable
// that holds it (the *_env keys), never both. Resolve reads the variables;
// Validate checks the result.
type Config struct {
	// TeamID is the one workspace Kanri answers; requests of any other
	// team are refused.
	TeamID string `yaml:"team_id" json:"team_id"`
	// BotToken (xoxb-) calls the Web API.
	BotToken    string `yaml:"bot_token" json:"-"`
	BotTokenEnv string `yaml:"bot_token_env" json:"bot_token_env,omitempty"`
	// SigningSecret verifies HTTP requests; without it the HTTP endpoints
	// refuse everything and only Socket Mode works.
	SigningSecret    string `yaml:"signing_secret" json:"-"`
	SigningSecretEnv string `yaml:"signing_secret_env" json:"signing_secret_env,omitempty"`
	// AppToken (xapp-, scope connections:write) enables Socket Mode.
	AppToken    string `yaml:"app_token" json:"-"`
	AppTokenEnv string `yaml:"app_token_env" json:"app_token_env,omitempty"`
	// APIURL is the Web API base; empty means DefaultAPIURL.
	APIURL string `yaml:"api_url" json:"api_url,omitempty"`
	// BaseURL is where people reach Kanri; messages link to cases under it.
	// Empty leaves the links out.
	BaseURL string `yaml:"base_url" json:"base_url,omitempty"`
	// EvidenceURL overrides the link of an approval message to the case's
	// evidence: "{kind}" and "{id}" are replaced. Empty means
	// BaseURL + "/api/v1/{kind}/{id}/history".
	EvidenceURL string `yaml:"evidence_url" json:"evidence_url,omitempty"`
	// Command is the slash command; empty means DefaultCommand.
	Command  string   `yaml:"command" json:"command,omitempty"`
	Channels Channels `yaml:"channels" json:"channels"`
	// Groups maps a Kanri group id to the id of its Slack channel.
	Groups map[string]string `yaml:"groups" json:"groups,omitempty"`
}

// Channels are the shared channels Kanri posts to.
type Channels struct {
	// MajorIncidents gets one thread per major incident with every status
	// change.
	MajorIncidents string `yaml:"major_incidents" json:"major_incidents,omitempty"`
	// Approvals gets a copy of every approval request, with the buttons.
	Approvals string `yaml:"approvals" json:"approvals,omitempty"`
}

// ParseConfig reads the slack section of a whole configuration file. It
// returns nil, without error, when the file has no slack section: the
// connector is then off. The result is neither resolved nor validated.
func ParseConfig(data []byte) (*Config, error) {
	var doc struct {
		Slack *Config `yaml:"slack"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("slack config: %w", err)
	}
	return doc.Slack, nil
}

// Resolve fills the secrets named by the *_env keys from getenv (nil means
// os.Getenv). Naming a variable and also giving the value inline is an
// error, and so is a named variable that is empty.
func (c *Config) Resolve(getenv func(string) string) error {
	if getenv == nil {
		getenv = os.Getenv
	}
	var errs []error
	for _, s := range []struct {
		key        string
		value, env *string
	}{
		{"bot_token", &c.BotToken, &c.BotTokenEnv},
		{"signing_secret", &c.SigningSecret, &c.SigningSecretEnv},
		{"app_token", &c.AppToken, &c.AppTokenEnv},
	} {
		if *s.env == "" {
			continue
		}
		if *s.value != "" {
			errs = append(errs, fmt.Errorf("slack.%s and slack.%s_env are both set; keep one", s.key, s.key))
			continue
		}
		v := strings.TrimSpace(getenv(*s.env))
		if v == "" {
			errs = append(errs, fmt.Errorf("slack.%s_env names %s, which is empty or unset", s.key, *s.env))
			continue
		}
		*s.value = v
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("slack config: %w", err)
	}
	return nil
}

// Validate checks a resolved configuration.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.TeamID == "" {
		bad("slack.team_id is required: the id (T...) of the one workspace Kanri answers")
	}
	if c.BotToken == "" {
		bad("slack.bot_token (or bot_token_env) is required")
	}
	if c.SigningSecret == "" && c.AppToken == "" {
		bad("slack needs signing_secret (HTTP endpoints) or app_token (Socket Mode), or both")
	}
	if c.AppToken != "" && !strings.HasPrefix(c.AppToken, "xapp-") {
		bad("slack.app_token must be an app-level token (xapp-...)")
	}
	for key, u := range map[string]string{"api_url": c.APIURL, "base_url": c.BaseURL} {
		if u == "" {
			continue
		}
		p, err := url.Parse(u)
		if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" {
			bad("slack.%s %q is not an absolute http(s) URL", key, u)
		}
	}
	if c.EvidenceURL != "" && !strings.Contains(c.EvidenceURL, "{id}") {
		bad("slack.evidence_url %q must contain {id}", c.EvidenceURL)
	}
	if c.Command != "" && (!strings.HasPrefix(c.Command, "/") || strings.ContainsAny(c.Command, " \t")) {
		bad("slack.command %q must be one word starting with /", c.Command)
	}
	for key, ch := range map[string]string{"major_incidents": c.Channels.MajorIncidents, "approvals": c.Channels.Approvals} {
		if ch != "" && !validChannelID(ch) {
			bad("slack.channels.%s %q is not a channel id (C..., G...)", key, ch)
		}
	}
	groups := make([]string, 0, len(c.Groups))
	for g := range c.Groups {
		groups = append(groups, g)
	}
	sort.Strings(groups)
	for _, g := range groups {
		if g == "" {
			bad("slack.groups has an empty group id")
		}
		if ch := c.Groups[g]; !validChannelID(ch) {
			bad("slack.groups.%s %q is not a channel id (C..., G...)", g, ch)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("slack config: %w", err)
	}
	return nil
}

// validChannelID accepts Slack's conversation ids: an upper-case letter
// and upper-case letters and digits. Names (#general) are not ids: the
// Web API wants ids, and names change.
func validChannelID(s string) bool {
	if len(s) < 2 || s[0] < 'A' || s[0] > 'Z' {
		return false
	}
	for _, r := range s {
		if (r < 'A' || r > 'Z') && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}

func (c *Config) apiURL() string {
	u := c.APIURL
	if u == "" {
		u = DefaultAPIURL
	}
	if !strings.HasSuffix(u, "/") {
		u += "/"
	}
	return u
}

func (c *Config) command() string {
	if c.Command == "" {
		return DefaultCommand
	}
	return c.Command
}

// evidenceURL is the link to a case's evidence, or "" when none is
// configured.
func (c *Config) evidenceURL(kind, id string) string {
	tmpl := c.EvidenceURL
	if tmpl == "" {
		if c.BaseURL == "" {
			return ""
		}
		tmpl = strings.TrimSuffix(c.BaseURL, "/") + "/api/v1/{kind}/{id}/history"
	}
	return strings.NewReplacer("{kind}", url.PathEscape(kind), "{id}", url.PathEscape(id)).Replace(tmpl)
}
