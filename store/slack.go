package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// SlackUser returns the Kanri user a Slack user is: the one whose
// configured slack_id it is, else the one it was linked to in the team.
func (s *Store) SlackUser(ctx context.Context, teamID, slackUser string) (User, []string, error) {
	u, err := s.user(ctx, `slack_id = ? AND slack_id <> '' AND active = ?`, slackUser, true)
	if errors.Is(err, ErrNotFound) {
		var id string
		err = query(ctx, s.rdb, func(r *sql.Rows) error { return r.Scan(&id) },
			`SELECT user_id FROM slack_links WHERE team_id = ? AND slack_user = ?`, teamID, slackUser)
		if err == nil && id == "" {
			err = ErrNotFound
		}
		if err == nil {
			u, err = s.user(ctx, `id = ? AND active = ?`, id, true)
		}
	}
	if err != nil {
		return User{}, nil, fmt.Errorf("store: slack user %s: %w", slackUser, err)
	}
	groups, err := s.groupsOf(ctx, u.ID)
	if err != nil {
		return User{}, nil, fmt.Errorf("store: slack user %s: %w", slackUser, err)
	}
	return u, groups, nil
}

// SlackIDOf returns the Slack user of a Kanri user: configured, or linked.
func (s *Store) SlackIDOf(ctx context.Context, teamID, userID string) (string, error) {
	u, err := s.user(ctx, `id = ?`, userID)
	if err != nil {
		return "", fmt.Errorf("store: slack id of %s: %w", userID, err)
	}
	if u.SlackID != "" {
		return u.SlackID, nil
	}
	var id string
	err = query(ctx, s.rdb, func(r *sql.Rows) error { return r.Scan(&id) },
		`SELECT slack_user FROM slack_links WHERE team_id = ? AND user_id = ?`, teamID, userID)
	if err == nil && id == "" {
		err = ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("store: slack id of %s: %w", userID, err)
	}
	return id, nil
}

// GroupMembers lists a group's members in id order; none for an unknown
// group.
func (s *Store) GroupMembers(ctx context.Context, groupID string) ([]string, error) {
	out := []string{}
	err := query(ctx, s.rdb, func(r *sql.Rows) error {
		var id string
		err := r.Scan(&id)
		out = append(out, id)
		return err
	}, `SELECT user_id FROM group_members WHERE group_id = ? ORDER BY user_id`, groupID)
	if err != nil {
		return nil, fmt.Errorf("store: members of %s: %w", groupID, err)
	}
	return out, nil
}

// SaveSlackLinkCode keeps a link code (its hash) for a user, replacing the
// user's other codes.
func (s *Store) SaveSlackLinkCode(ctx context.Context, codeHash, userID string, expires time.Time) error {
	err := s.write(ctx, func(tx *gorm.DB) error {
		if err := tx.Exec(`DELETE FROM slack_link_codes WHERE user_id = ?`, userID).Error; err != nil {
			return err
		}
		return tx.Exec(`INSERT INTO slack_link_codes (code_hash, user_id, expires_at) VALUES (?, ?, ?)`,
			codeHash, userID, expires.UTC()).Error
	})
	if err != nil {
		return fmt.Errorf("store: save slack link code: %w", err)
	}
	return nil
}

// TakeSlackLinkCode removes a link code and returns whose it was and when
// it expires; ErrNotFound when there is no such code.
func (s *Store) TakeSlackLinkCode(ctx context.Context, codeHash string) (userID string, expires time.Time, err error) {
	err = s.write(ctx, func(tx *gorm.DB) error {
		if err := query(ctx, tx, func(r *sql.Rows) error { return r.Scan(&userID, &expires) },
			`SELECT user_id, expires_at FROM slack_link_codes WHERE code_hash = ?`, codeHash); err != nil {
			return err
		}
		if userID == "" {
			return ErrNotFound
		}
		return tx.Exec(`DELETE FROM slack_link_codes WHERE code_hash = ?`, codeHash).Error
	})
	if err != nil {
		return "", time.Time{}, fmt.Errorf("store: take slack link code: %w", err)
	}
	return userID, expires.UTC(), nil
}

// LinkSlackUser links a Slack user to a Kanri user in a team, replacing
// any earlier link of either.
func (s *Store) LinkSlackUser(ctx context.Context, teamID, slackUser, userID string) error {
	err := s.write(ctx, func(tx *gorm.DB) error {
		if err := tx.Exec(`DELETE FROM slack_links WHERE team_id = ? AND (slack_user = ? OR user_id = ?)`, teamID, slackUser, userID).Error; err != nil {
			return err
		}
		return tx.Exec(`INSERT INTO slack_links (team_id, slack_user, user_id) VALUES (?, ?, ?)`, teamID, slackUser, userID).Error
	})
	if err != nil {
		return fmt.Errorf("store: link slack user: %w", err)
	}
	return nil
}

// SlackMessage is a Slack message Kanri posted about a case.
type SlackMessage struct {
	CaseID, Key, Channel, TS, User string
}

// PutSlackMessage records a posted message under (case, key).
func (s *Store) PutSlackMessage(ctx context.Context, m SlackMessage) error {
	err := s.write(ctx, func(tx *gorm.DB) error {
		return tx.Exec(`INSERT INTO slack_messages (case_id, key, channel, ts, slack_user) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (case_id, key) DO UPDATE SET channel = excluded.channel, ts = excluded.ts, slack_user = excluded.slack_user`,
			m.CaseID, m.Key, m.Channel, m.TS, m.User).Error
	})
	if err != nil {
		return fmt.Errorf("store: put slack message: %w", err)
	}
	return nil
}

// SlackMessages lists a case's messages whose key starts with prefix, in
// key order.
func (s *Store) SlackMessages(ctx context.Context, caseID, prefix string) ([]SlackMessage, error) {
	var out []SlackMessage
	err := query(ctx, s.db, func(r *sql.Rows) error {
		var m SlackMessage
		err := r.Scan(&m.CaseID, &m.Key, &m.Channel, &m.TS, &m.User)
		out = append(out, m)
		return err
	}, `SELECT case_id, key, channel, ts, slack_user FROM slack_messages WHERE case_id = ? AND key LIKE ? ESCAPE '\' ORDER BY key`,
		caseID, likeEscape(prefix)+"%")
	if err != nil {
		return nil, fmt.Errorf("store: slack messages of %s: %w", caseID, err)
	}
	return out, nil
}

// SeenSlack records a replay key until expires and reports whether it was
// already there (and not expired). Of two concurrent calls with one key,
// exactly one sees false.
func (s *Store) SeenSlack(ctx context.Context, key string, now, expires time.Time) (bool, error) {
	var seen bool
	err := s.write(ctx, func(tx *gorm.DB) error {
		// Expired keys go, so the table holds five minutes of requests.
		if err := tx.Exec(`DELETE FROM slack_replay WHERE expires_at <= ?`, now.UTC()).Error; err != nil {
			return err
		}
		res := tx.Exec(`INSERT INTO slack_replay (key, expires_at) VALUES (?, ?) ON CONFLICT (key) DO NOTHING`, key, expires.UTC())
		seen = res.RowsAffected == 0
		return res.Error
	})
	if err != nil {
		return false, fmt.Errorf("store: slack replay: %w", err)
	}
	return seen, nil
}
