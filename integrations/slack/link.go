package slack

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	slackapi "github.com/slack-go/slack"
)

// The link flow binds a Slack account to a Kanri user who has none in the
// configuration. The code is issued to the Kanri user, authenticated by
// Kanri (IssueLinkCode, behind the API), and typed in Slack by that person
// (/kanri link <code>). This direction matters: whoever holds the code
// becomes that Kanri user in Slack, so the code must come from where the
// person is already known. (The other direction, a code shown in Slack and
// confirmed in Kanri, lets anyone who talks a Kanri user into confirming
// their code act as that user.) Only the code's hash is stored; it works
// once, for LinkCodeTTL.

// LinkCodeTTL is how long a link code works.
const LinkCodeTTL = 10 * time.Minute

// ErrLinkCode is a link code that is unknown, used or expired.
var ErrLinkCode = errors.New("slack: link code is unknown, used or expired")

// linkAlphabet has no 0/O, 1/I/L: codes are read and typed by people.
const linkAlphabet = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"

// newLinkCode draws eight characters (about 40 bits), shown as XXXX-XXXX.
func newLinkCode() (string, error) {
	out := make([]byte, 0, 9)
	var b [1]byte
	for len(out) < 9 {
		if len(out) == 4 {
			out = append(out, '-')
			continue
		}
		if _, err := rand.Read(b[:]); err != nil {
			return "", err
		}
		// Rejection sampling keeps every character equally likely.
		if int(b[0]) >= 256/len(linkAlphabet)*len(linkAlphabet) {
			continue
		}
		out = append(out, linkAlphabet[int(b[0])%len(linkAlphabet)])
	}
	return string(out), nil
}

// hashLinkCode is the hex SHA-256 of a code in canonical form: upper case,
// without separators or spaces.
func hashLinkCode(code string) string {
	canon := strings.Map(func(r rune) rune {
		if r == '-' || r == ' ' || r == '\t' {
			return -1
		}
		return r
	}, strings.ToUpper(code))
	sum := sha256.Sum256([]byte(canon))
	return hex.EncodeToString(sum[:])
}

// IssueLinkCode gives a Kanri user, authenticated by the caller (the API,
// with the user's own credentials), a code to type in Slack. A new code
// replaces the user's earlier one.
func (c *Connector) IssueLinkCode(ctx context.Context, userID string) (code string, expires time.Time, err error) {
	if userID == "" {
		return "", time.Time{}, errors.New("slack: IssueLinkCode needs a user")
	}
	code, err = newLinkCode()
	if err != nil {
		return "", time.Time{}, fmt.Errorf("slack: link code: %w", err)
	}
	expires = c.now().Add(LinkCodeTTL)
	if err := c.dir.SaveLinkCode(ctx, PendingLink{CodeHash: hashLinkCode(code), UserID: userID, ExpiresAt: expires}); err != nil {
		return "", time.Time{}, fmt.Errorf("slack: link code: %w", err)
	}
	return code, expires, nil
}

func (c *Connector) linkHowTo() string {
	where := "in Kanri"
	if c.cfg.BaseURL != "" {
		where = "from " + strings.TrimSuffix(c.cfg.BaseURL, "/") + "/api/v1/me/slack-link"
	}
	return fmt.Sprintf("To link your Slack account to your Kanri user, get a link code %s (signed in as yourself) and run `%s link <code>` here within %d minutes. "+
		"Or ask an administrator to add your Slack id to your user.", where, c.cfg.command(), int(LinkCodeTTL/time.Minute))
}

// link is /kanri link [code].
func (c *Connector) link(ctx context.Context, cmd slackapi.SlashCommand, code string) {
	actor, ok, err := c.dir.UserBySlackID(ctx, cmd.TeamID, cmd.UserID)
	if err != nil {
		c.log.Error("slack: directory lookup failed", "user", cmd.UserID, "err", err)
		c.tell(ctx, cmd.ResponseURL, cmd.UserID, "Kanri could not look you up just now. Please try again in a moment.")
		return
	}
	if ok {
		c.tell(ctx, cmd.ResponseURL, cmd.UserID, fmt.Sprintf("Your Slack account is already linked to the Kanri user *%s*.", esc(actor.ID)))
		return
	}
	if code == "" {
		c.tell(ctx, cmd.ResponseURL, cmd.UserID, c.linkHowTo())
		return
	}
	p, ok, err := c.dir.TakeLinkCode(ctx, hashLinkCode(code))
	if err == nil && ok && c.now().Before(p.ExpiresAt) {
		err = c.dir.Link(ctx, cmd.TeamID, cmd.UserID, p.UserID)
		if err == nil {
			c.log.Info("slack: account linked", "team", cmd.TeamID, "slack_user", cmd.UserID, "user", p.UserID)
			c.tell(ctx, cmd.ResponseURL, cmd.UserID, fmt.Sprintf("Your Slack account is now linked to the Kanri user *%s*. Try `%s mine`.",
				esc(p.UserID), c.cfg.command()))
			return
		}
	}
	if err != nil {
		c.log.Error("slack: link", "user", cmd.UserID, "err", err)
		c.tell(ctx, cmd.ResponseURL, cmd.UserID, "Kanri could not link your account just now. Please try again in a moment.")
		return
	}
	c.log.Warn("slack: link code refused", "team", cmd.TeamID, "slack_user", cmd.UserID, "reason", ErrLinkCode)
	c.tell(ctx, cmd.ResponseURL, cmd.UserID, "That link code is unknown, used or expired. "+c.linkHowTo())
}
