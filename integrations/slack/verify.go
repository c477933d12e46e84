package slack

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// MaxClockSkew is how far a request's timestamp may be from the local
// clock, either way. Slack's own guidance is five minutes.
const MaxClockSkew = 5 * time.Minute

// ErrUnauthorized is the class of every refused request: unsigned,
// forged, tampered, stale, replayed or from another workspace. The HTTP
// handler answers 401 and logs the wrapped reason.
var ErrUnauthorized = errors.New("unauthorized")

// Header names of Slack's request signing and retries.
const (
	headerSignature   = "X-Slack-Signature"
	headerTimestamp   = "X-Slack-Request-Timestamp"
	headerRetryNum    = "X-Slack-Retry-Num"
	headerRetryReason = "X-Slack-Retry-Reason"
)

func refused(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUnauthorized, fmt.Sprintf(format, args...))
}

// Sign returns the X-Slack-Signature of a body sent at timestamp ts (Unix
// seconds, as in X-Slack-Request-Timestamp): "v0=" and the hex HMAC-SHA256
// of "v0:<ts>:<body>" keyed with the signing secret.
func Sign(secret, ts string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("v0:" + ts + ":"))
	mac.Write(body)
	return "v0=" + hex.EncodeToString(mac.Sum(nil))
}

// VerifySignature checks a request's signature headers against its raw
// body and the clock. It does not remember anything; replays are the
// caller's to catch (by the returned signature, which is canonical: lower
// case hex). sentAt is the request's timestamp.
func VerifySignature(h http.Header, body []byte, secret string, now time.Time) (signature string, sentAt time.Time, err error) {
	if secret == "" {
		return "", time.Time{}, refused("no signing secret is configured; only Socket Mode is on")
	}
	ts, sig := h.Get(headerTimestamp), h.Get(headerSignature)
	if ts == "" || sig == "" {
		return "", time.Time{}, refused("unsigned: %s or %s is missing", headerSignature, headerTimestamp)
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return "", time.Time{}, refused("malformed %s %q", headerTimestamp, ts)
	}
	sentAt = time.Unix(sec, 0)
	if skew := now.Sub(sentAt); skew > MaxClockSkew || skew < -MaxClockSkew {
		return "", time.Time{}, refused("stale: the request was signed %s from now, more than %s", skew.Round(time.Second), MaxClockSkew)
	}
	hexSig, ok := strings.CutPrefix(sig, "v0=")
	got, err := hex.DecodeString(hexSig)
	if !ok || err != nil || len(got) != sha256.Size {
		return "", time.Time{}, refused("malformed %s", headerSignature)
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("v0:" + ts + ":"))
	mac.Write(body)
	// hmac.Equal compares in constant time.
	if !hmac.Equal(mac.Sum(nil), got) {
		return "", time.Time{}, refused("bad signature: forged, or the body was changed after signing")
	}
	return hex.EncodeToString(got), sentAt, nil
}

// verify checks a request's signature and that it was not seen before. A
// signature is remembered until the request would be stale anyway, so the
// cache holds no more than the traffic of ten minutes.
func (c *Connector) verify(ctx context.Context, h http.Header, body []byte) error {
	now := c.now()
	sig, sentAt, err := VerifySignature(h, body, c.cfg.SigningSecret, now)
	if err != nil {
		return err
	}
	seen, err := c.replay.Seen(ctx, "sig:"+sig, now, sentAt.Add(MaxClockSkew+time.Minute))
	if err != nil {
		// Fail closed: without the cache a replay cannot be told apart.
		return fmt.Errorf("slack: replay cache: %w", err)
	}
	if seen {
		return refused("replayed: this signature was already used")
	}
	return nil
}
