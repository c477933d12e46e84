package slack

import (
	"context"
	"strings"
	"testing"
	"time"
)

const configFile = `
users:
  - {id: alice, slack_id: U0ALICE}
slack:
  team_id: T0KANRI
  bot_token_env: TEST_BOT
  signing_secret_env: TEST_SIGNING
  app_token: xapp-1-abc
  api_url: http://127.0.0.1:9999/api
  channels: {major_incidents: C0MAJOR, approvals: C0CAB}
  groups: {service-desk: C0DESK}
`

func TestConfigFromTheConfigurationFile(t *testing.T) {
	c, err := ParseConfig([]byte(configFile))
	if err != nil || c == nil {
		t.Fatalf("parse: %v", err)
	}
	env := map[string]string{"TEST_BOT": "xoxb-1", "TEST_SIGNING": " s3cret \n"}
	if err := c.Resolve(func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.BotToken != "xoxb-1" || c.SigningSecret != "s3cret" || c.Groups["service-desk"] != "C0DESK" || c.Channels.Approvals != "C0CAB" {
		t.Errorf("config %+v", c)
	}
	if c.apiURL() != "http://127.0.0.1:9999/api/" {
		t.Errorf("api url %q: slack-go needs the trailing slash", c.apiURL())
	}
	if c.command() != "/kanri" {
		t.Errorf("command %q", c.command())
	}

	none, err := ParseConfig([]byte("users: []\n"))
	if err != nil || none != nil {
		t.Errorf("no slack section: %+v %v", none, err)
	}
}

func TestConfigErrors(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
		env  map[string]string
		want []string
	}{
		{"empty", Config{}, nil, []string{"team_id is required", "bot_token", "signing_secret (HTTP endpoints) or app_token"}},
		{"both inline and env", Config{TeamID: "T1", BotToken: "xoxb", BotTokenEnv: "B", SigningSecret: "s"}, map[string]string{"B": "x"},
			[]string{"bot_token and slack.bot_token_env are both set"}},
		{"env unset", Config{TeamID: "T1", BotTokenEnv: "MISSING", SigningSecret: "s"}, nil, []string{"names MISSING, which is empty or unset"}},
		{"bad values", Config{TeamID: "T1", BotToken: "xoxb", AppToken: "xoxb-wrong", APIURL: "slack.com/api",
			Channels: Channels{Approvals: "#cab"}, Groups: map[string]string{"desk": "general"}, Command: "kanri", EvidenceURL: "https://x/{kind}"},
			nil, []string{"app-level token", "api_url", "channels.approvals", "groups.desk", "command", "evidence_url"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.cfg
			err := c.Resolve(func(k string) string { return tc.env[k] })
			if err == nil {
				err = c.Validate()
			}
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q: %v", w, err)
				}
			}
		})
	}
	if _, err := New(Config{}, Deps{}); err == nil {
		t.Error("New accepted an empty configuration")
	}
	if _, err := New(Config{TeamID: "T1", BotToken: "x", SigningSecret: "s"}, Deps{}); err == nil {
		t.Error("New accepted missing dependencies")
	}
}

func TestEvidenceURL(t *testing.T) {
	c := Config{BaseURL: "https://kanri.example.com/"}
	if got := c.evidenceURL("changes", "CHG-000001"); got != "https://kanri.example.com/api/v1/changes/CHG-000001/history" {
		t.Errorf("default %q", got)
	}
	c.EvidenceURL = "https://ui.example.com/{kind}/{id}#evidence"
	if got := c.evidenceURL("changes", "CHG-000001"); got != "https://ui.example.com/changes/CHG-000001#evidence" {
		t.Errorf("template %q", got)
	}
	if got := (&Config{}).evidenceURL("changes", "CHG-000001"); got != "" {
		t.Errorf("without base_url %q", got)
	}
}

func TestVerifySignature(t *testing.T) {
	now := time.Unix(1531420618, 0)
	body := []byte("token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V" +
		"&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=" +
		"&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN" +
		"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c")
	// The example of Slack's documentation.
	const secret = "8f742231b10e8888abcd99yyyzzz85a5"
	sig := Sign(secret, "1531420618", body)
	if sig != "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503" {
		t.Fatalf("Sign gives %s", sig)
	}
	h := map[string][]string{headerTimestamp: {"1531420618"}, headerSignature: {sig}}
	if _, at, err := VerifySignature(h, body, secret, now.Add(4*time.Minute)); err != nil || !at.Equal(now) {
		t.Errorf("valid: %v", err)
	}
	if _, _, err := VerifySignature(h, body, secret, now.Add(5*time.Minute+time.Second)); err == nil || !strings.Contains(err.Error(), "stale") {
		t.Errorf("stale: %v", err)
	}
	if _, _, err := VerifySignature(h, body, "", now); err == nil {
		t.Error("no secret accepted")
	}
}

func TestMemoryReplayCacheForgetsAfterExpiry(t *testing.T) {
	ctx := context.Background()
	m := NewMemoryReplayCache()
	now := time.Unix(1000, 0)
	if seen, _ := m.Seen(ctx, "k", now, now.Add(time.Minute)); seen {
		t.Fatal("new key seen")
	}
	if seen, _ := m.Seen(ctx, "k", now.Add(59*time.Second), now.Add(2*time.Minute)); !seen {
		t.Fatal("key forgotten early")
	}
	if seen, _ := m.Seen(ctx, "k", now.Add(time.Minute), now.Add(2*time.Minute)); seen {
		t.Fatal("expired key still seen")
	}
	for i := range 2 * sweepEvery {
		_, _ = m.Seen(ctx, "x"+strings.Repeat("y", i), now.Add(time.Hour), now.Add(time.Hour+time.Second))
	}
	late := now.Add(2 * time.Hour)
	for i := range sweepEvery {
		_, _ = m.Seen(ctx, "z"+strings.Repeat("y", i), late, late.Add(time.Second))
	}
	if n := m.Len(); n > sweepEvery+1 {
		t.Errorf("%d keys held; expired ones are not swept", n)
	}
}
