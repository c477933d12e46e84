package email

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"
)

// A decision token is bound to its case, approver and decision by its
// signature, and expires.
func TestDecisionTokens(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	now := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	approve, reject := DecisionLinks(key, "https://kanri.example.com/", "CHG-000042", "cab1", 7, time.Hour, now)
	if !strings.HasPrefix(approve, "https://kanri.example.com/mail/decide?t=") || approve == reject {
		t.Fatalf("links %q %q", approve, reject)
	}
	again, _ := DecisionLinks(key, "https://kanri.example.com", "CHG-000042", "cab1", 7, time.Hour, now)
	if again != approve {
		t.Fatal("a retried send makes a different link")
	}
	tok := func(l string) string { u, _ := url.Parse(l); return u.Query().Get("t") }
	d, err := VerifyDecision(key, tok(approve), now.Add(59*time.Minute))
	if err != nil || d.Case != "CHG-000042" || d.Approver != "cab1" || d.Decision != "approve" {
		t.Fatalf("verify approve: %+v %v", d, err)
	}
	if d, err := VerifyDecision(key, tok(reject), now); err != nil || d.Decision != "reject" {
		t.Fatalf("verify reject: %+v %v", d, err)
	}
	if _, err := VerifyDecision(key, tok(approve), now.Add(time.Hour)); !errors.Is(err, ErrExpiredToken) {
		t.Fatalf("an expired token: %v", err)
	}
	if _, err := VerifyDecision([]byte("another key, another installation"), tok(approve), now); !errors.Is(err, ErrBadToken) {
		t.Fatalf("a token under another key: %v", err)
	}
	// Changing the decision (or anything else) in the payload breaks the
	// signature.
	p, sig, _ := strings.Cut(tok(approve), ".")
	forged := SignDecision([]byte("guess"), Decision{Case: "CHG-000042", Approver: "cab2", Decision: "approve", Expires: now.Add(time.Hour).Unix()})
	fp, _, _ := strings.Cut(forged, ".")
	for _, bad := range []string{"", "x", p, p + ".", fp + "." + sig, tok(approve) + "x", "." + sig} {
		if _, err := VerifyDecision(key, bad, now); !errors.Is(err, ErrBadToken) {
			t.Errorf("token %q: %v, want ErrBadToken", bad, err)
		}
	}
	if _, err := VerifyDecision(nil, tok(approve), now); !errors.Is(err, ErrBadToken) {
		t.Error("an empty key verified a token")
	}
}
