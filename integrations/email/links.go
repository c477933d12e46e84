package email

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/kanri-itsm/kanri/cases"
	"github.com/kanri-itsm/kanri/workflows"
)

// An approver decides by mail only through a link that carries a signed,
// single-use, expiring token bound to the approver, the case and the
// decision; never from a From header, which anyone can write.

// Decision is what an approval link decides.
type Decision struct {
	Case     string `json:"c"`
	Approver string `json:"a"`
	Decision string `json:"d"` // "approve" or "reject"
	Expires  int64  `json:"e"` // Unix seconds
	Nonce    string `json:"n"`
}

// Token errors.
var (
	ErrBadToken     = errors.New("the link is not valid")
	ErrExpiredToken = errors.New("the link has expired")
	ErrUsedToken    = errors.New("the link has been used already")
)

// SignDecision makes the token of a decision link: the decision in
// base64url, a dot, and its HMAC-SHA256 under key.
func SignDecision(key []byte, d Decision) string {
	payload, _ := json.Marshal(d) // a struct of strings and an int: cannot fail
	p := base64.RawURLEncoding.EncodeToString(payload)
	return p + "." + base64.RawURLEncoding.EncodeToString(mac(key, p))
}

// VerifyDecision checks a token's signature and expiry.
func VerifyDecision(key []byte, token string, now time.Time) (Decision, error) {
	p, sig, ok := strings.Cut(token, ".")
	if !ok || len(key) == 0 {
		return Decision{}, ErrBadToken
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, mac(key, p)) {
		return Decision{}, ErrBadToken
	}
	raw, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil {
		return Decision{}, ErrBadToken
	}
	var d Decision
	if err := json.Unmarshal(raw, &d); err != nil || d.Case == "" || d.Approver == "" ||
		(d.Decision != "approve" && d.Decision != "reject") {
		return Decision{}, ErrBadToken
	}
	if now.Unix() >= d.Expires {
		return d, ErrExpiredToken
	}
	return d, nil
}

func mac(key []byte, payload string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte("kanri-decision\x00" + payload))
	return h.Sum(nil)
}

// TokenID names a token for the single-use record without storing it.
func TokenID(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// DecisionLinks makes the approve and reject links of one approval mail.
// The nonce is derived from the notification, so a retried send carries
// the same links.
func DecisionLinks(key []byte, baseURL, caseID, approver string, seq int64, ttl time.Duration, now time.Time) (approve, reject string) {
	nonce := TokenID(fmt.Sprintf("%s/%d/%s", caseID, seq, approver))[:16]
	exp := now.Add(ttl).Unix()
	link := func(decision string) string {
		t := SignDecision(key, Decision{Case: caseID, Approver: approver, Decision: decision, Expires: exp, Nonce: nonce})
		return strings.TrimSuffix(baseURL, "/") + "/mail/decide?t=" + t
	}
	return link("approve"), link("reject")
}

// Decider serves the decision links: GET shows what the link will do and
// asks to confirm (mail scanners fetch links; a GET never decides), POST
// decides as the approver the token names, with the same checks as the
// API.
type Decider struct {
	Key   []byte
	Cases interface {
		Act(ctx context.Context, kind cases.Kind, id string, a workflows.Action, requestID string) (json.RawMessage, error)
	}
	// Actor returns the approver as the directory knows them now: their
	// roles and groups decide whether they may still approve.
	Actor func(ctx context.Context, userID string) (workflows.Actor, error)
	// Used reports whether a token was used; Use records it as used.
	Used func(ctx context.Context, tokenID string) (bool, error)
	Use  func(ctx context.Context, tokenID string) (bool, error)
	Now  func() time.Time
}

var page = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Kanri</title></head>
<body><h1>{{.Title}}</h1><p>{{.Text}}</p>
{{if .Token}}<form method="post"><input type="hidden" name="t" value="{{.Token}}"><button type="submit">{{.Button}}</button></form>{{end}}
</body></html>`))

type view struct{ Title, Text, Token, Button string }

func (d *Decider) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := time.Now
	if d.Now != nil {
		now = d.Now
	}
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	token := r.FormValue("t")
	dec, err := VerifyDecision(d.Key, token, now())
	switch {
	case errors.Is(err, ErrExpiredToken):
		d.render(w, http.StatusGone, view{Title: "Link expired", Text: "This link has expired. Decide in Kanri or in chat instead."})
		return
	case err != nil:
		d.render(w, http.StatusBadRequest, view{Title: "Invalid link", Text: "This link is not valid."})
		return
	}
	verb := map[string]string{"approve": "Approve", "reject": "Reject"}[dec.Decision]
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		d.render(w, http.StatusOK, view{Title: verb + " " + dec.Case + "?",
			Text: "You are deciding as " + dec.Approver + ". Nothing happens until you confirm.", Token: token, Button: verb + " " + dec.Case})
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		d.render(w, http.StatusMethodNotAllowed, view{Title: "Method not allowed"})
		return
	}
	used, err := d.Used(r.Context(), TokenID(token))
	if err != nil {
		d.render(w, http.StatusServiceUnavailable, view{Title: "Try again", Text: "Kanri could not check the link; try again in a minute."})
		return
	}
	if used {
		d.render(w, http.StatusConflict, view{Title: "Link used", Text: ErrUsedToken.Error() + "."})
		return
	}
	// The decision is applied first and the link spent after, so a passing
	// failure leaves the link usable; two posts at once apply once, by the
	// update id.
	spend := func() { _, _ = d.Use(r.Context(), TokenID(token)) }
	actor, err := d.Actor(r.Context(), dec.Approver)
	if err != nil {
		d.render(w, http.StatusForbidden, view{Title: "Not allowed", Text: "The approver of this link is not known any more."})
		return
	}
	kind, ok := cases.KindOf(kindOfID(dec.Case))
	if !ok {
		d.render(w, http.StatusBadRequest, view{Title: "Invalid link", Text: "This link is not valid."})
		return
	}
	a := workflows.Action{Action: dec.Decision, Actor: actor, Comment: "decided by email link", Source: "email"}
	if _, err := d.Cases.Act(r.Context(), kind, dec.Case, a, "mail-decision-"+TokenID(token)); err != nil {
		status := 0
		switch {
		case errors.Is(err, cases.ErrForbidden):
			status = http.StatusForbidden
		case errors.Is(err, cases.ErrConflict):
			status = http.StatusConflict
		case errors.Is(err, cases.ErrNotFound):
			status = http.StatusNotFound
		case errors.Is(err, cases.ErrInvalid):
			status = http.StatusUnprocessableEntity
		}
		if status == 0 {
			d.render(w, http.StatusServiceUnavailable, view{Title: "Try again", Text: "Kanri could not record the decision now; the link still works, try again in a minute."})
			return
		}
		spend()
		d.render(w, status, view{Title: "Not recorded", Text: err.Error()})
		return
	}
	spend()
	d.render(w, http.StatusOK, view{Title: "Recorded", Text: dec.Approver + "'s decision on " + dec.Case + " (" + dec.Decision + ") is recorded."})
}

func (d *Decider) render(w http.ResponseWriter, status int, v view) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	_ = page.Execute(w, v)
}
