package store

// Customer satisfaction (ISO/IEC 20000-1 7.1: measure customer
// satisfaction, analyse the results). Closing an incident or a service
// request sends its caller one survey, in the same transaction as the
// closing transition (see Project); the caller answers it once, with a score
// from 1 to 5 and a comment, and service reports count the answers.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"gorm.io/gorm"
)

var (
	// ErrSurveyAnswered is returned by AnswerSurvey when the survey has
	// been answered already: an answer is given once and never changed.
	ErrSurveyAnswered = errors.New("survey already answered")
	// ErrBadScore is returned by AnswerSurvey for a score outside 1 to 5.
	ErrBadScore = errors.New("score must be a whole number from 1 to 5")
)

// Survey statuses.
const (
	SurveyNotSent  = "not_sent" // the case has not closed (or closed before surveys existed)
	SurveySent     = "sent"
	SurveyAnswered = "answered"
)

// EventSatisfactionSurvey is the outbox event of a survey sent to a caller.
const EventSatisfactionSurvey = "satisfaction_survey"

// Survey is the satisfaction survey of one closed incident or request.
type Survey struct {
	CaseID string `json:"case_id"`
	Kind   string `json:"kind"`
	// Caller is who the survey was sent to, and the only one who answers it.
	Caller string `json:"caller"`
	// Status is "sent" or "answered"; "not_sent" for a case without one.
	Status     string     `json:"status"`
	SentAt     *time.Time `json:"sent_at"`
	Score      *int       `json:"score"`
	Comment    string     `json:"comment"`
	AnsweredAt *time.Time `json:"answered_at"`
}

// surveyKinds are the kinds whose closing sends the caller a survey.
var surveyKinds = []string{"incidents", "requests"}

// SurveyKind reports whether cases of the kind are surveyed when they close.
func SurveyKind(kind string) bool { return slices.Contains(surveyKinds, kind) }

// surveyDue reports whether the transition closes an incident or a request
// that has a caller: the transition that sends the survey.
func surveyDue(c Case, e *HistoryEntry) bool {
	return e != nil && SurveyKind(c.Kind) && c.Caller != "" && e.To == "closed" && e.From != "closed"
}

func surveyText(c Case) (subject, body string) {
	noun := "incident"
	if c.Kind == "requests" {
		noun = "request"
	}
	subject = "[" + c.ID + "] how did we do? " + c.Title
	body = "Your " + noun + " " + c.ID + " (" + c.Title + ") is closed. How satisfied are you with how it was handled?\n\n" +
		"Answer with a score from 1 (very dissatisfied) to 5 (very satisfied) and, if you like, a comment:\n" +
		"POST /api/v1/" + c.Kind + "/" + c.ID + "/survey {\"score\": 5, \"comment\": \"...\"}\n\n" +
		"対応への満足度を 1（不満）から 5（満足）でお聞かせください。"
	return subject, body
}

// sendSurvey records the survey of a closing transition and queues its
// notification to the caller, in the transaction of the transition. The
// survey row is keyed by the case, so a retried projection (or any later
// one) sends nothing again. Should the transition itself carry an email to
// the caller, which shares the outbox key (case, seq, recipient, channel),
// the survey is added to that message rather than lost.
func sendSurvey(tx *gorm.DB, c Case, e *HistoryEntry, at time.Time) error {
	res := tx.Exec(`INSERT INTO surveys (case_id, kind, caller, seq, sent_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (case_id) DO NOTHING`, c.ID, c.Kind, c.Caller, e.Seq, utc(at))
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return nil // sent before
	}
	subject, body := surveyText(c)
	res = tx.Exec(`INSERT INTO notifications
		(case_id, seq, recipient, channel, event, subject, body, created_at, attempts, last_error)
		VALUES (?, ?, ?, 'email', ?, ?, ?, ?, 0, '')
		ON CONFLICT (case_id, seq, recipient, channel) DO NOTHING`,
		c.ID, e.Seq, c.Caller, EventSatisfactionSurvey, subject, body, utc(at))
	if res.Error != nil || res.RowsAffected > 0 {
		return res.Error
	}
	return tx.Exec(`UPDATE notifications SET body = body || ? WHERE case_id = ? AND seq = ? AND recipient = ? AND channel = 'email'`,
		"\n\n"+body, c.ID, e.Seq, c.Caller).Error
}

const surveyColumns = `case_id, kind, caller, sent_at, score, comment, answered_at`

func scanSurvey(r *sql.Rows) (Survey, error) {
	var (
		v        Survey
		sent     time.Time
		score    sql.NullInt64
		answered sql.NullTime
	)
	if err := r.Scan(&v.CaseID, &v.Kind, &v.Caller, &sent, &score, &v.Comment, &answered); err != nil {
		return Survey{}, err
	}
	sent = sent.UTC()
	v.SentAt = &sent
	v.Status = SurveySent
	if score.Valid && answered.Valid {
		n := int(score.Int64)
		at := answered.Time.UTC()
		v.Score, v.AnsweredAt, v.Status = &n, &at, SurveyAnswered
	}
	return v, nil
}

func (s *Store) survey(ctx context.Context, db *gorm.DB, caseID string) (Survey, error) {
	var (
		v     Survey
		found bool
	)
	err := query(ctx, db, func(r *sql.Rows) (err error) {
		v, err = scanSurvey(r)
		found = true
		return err
	}, `SELECT `+surveyColumns+` FROM surveys WHERE case_id = ?`, caseID)
	if err != nil {
		return Survey{}, err
	}
	if !found {
		return Survey{}, ErrNotFound
	}
	return v, nil
}

// GetSurvey returns the survey of a case, or ErrNotFound when none was sent.
func (s *Store) GetSurvey(ctx context.Context, caseID string) (Survey, error) {
	v, err := s.survey(ctx, s.rdb, caseID)
	if err != nil {
		return Survey{}, fmt.Errorf("store: survey of %s: %w", caseID, err)
	}
	return v, nil
}

// AnswerSurvey records the caller's answer. It is ErrNotFound when no survey
// was sent, ErrSurveyAnswered when it was answered already (the first answer
// stands, whoever races), and ErrBadScore for a score outside 1 to 5. Who
// may answer is the caller's business (Survey.Caller).
func (s *Store) AnswerSurvey(ctx context.Context, caseID string, score int, comment string, at time.Time) (Survey, error) {
	if score < 1 || score > 5 {
		return Survey{}, ErrBadScore
	}
	var v Survey
	err := s.write(ctx, func(tx *gorm.DB) error {
		res := tx.Exec(`UPDATE surveys SET score = ?, comment = ?, answered_at = ? WHERE case_id = ? AND answered_at IS NULL`,
			score, comment, utc(at), caseID)
		if res.Error != nil {
			return res.Error
		}
		var err error
		v, err = s.survey(ctx, tx, caseID)
		if err != nil {
			return err
		}
		if res.RowsAffected == 0 {
			return ErrSurveyAnswered
		}
		return nil
	})
	if err != nil {
		return Survey{}, fmt.Errorf("store: answer the survey of %s: %w", caseID, err)
	}
	return v, nil
}
