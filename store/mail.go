package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
)

// MailCursor returns the IMAP cursor of a mailbox; zero when it has none.
func (s *Store) MailCursor(ctx context.Context, mailbox string) (uidValidity, lastUID uint32, err error) {
	err = query(ctx, s.db, func(r *sql.Rows) error {
		var v, l int64
		if err := r.Scan(&v, &l); err != nil {
			return err
		}
		uidValidity, lastUID = uint32(v), uint32(l)
		return nil
	}, `SELECT uid_validity, last_uid FROM mail_cursors WHERE mailbox = ?`, mailbox)
	if err != nil {
		return 0, 0, fmt.Errorf("store: mail cursor %s: %w", mailbox, err)
	}
	return uidValidity, lastUID, nil
}

// SaveMailCursor records how far a mailbox has been read.
func (s *Store) SaveMailCursor(ctx context.Context, mailbox string, uidValidity, lastUID uint32) error {
	err := s.write(ctx, func(tx *gorm.DB) error {
		return tx.Exec(`INSERT INTO mail_cursors (mailbox, uid_validity, last_uid) VALUES (?, ?, ?)
			ON CONFLICT (mailbox) DO UPDATE SET uid_validity = excluded.uid_validity, last_uid = excluded.last_uid`,
			mailbox, int64(uidValidity), int64(lastUID)).Error
	})
	if err != nil {
		return fmt.Errorf("store: save mail cursor %s: %w", mailbox, err)
	}
	return nil
}

// MailRecord is what became of one received mail.
type MailRecord struct {
	DedupeKey   string    `json:"dedupe_key"`
	MessageID   string    `json:"message_id"`
	MsgIDHash   string    `json:"msgid_hash"`
	Mailbox     string    `json:"mailbox"`
	UID         uint32    `json:"uid"`
	From        string    `json:"from"`
	Subject     string    `json:"subject"`
	CaseID      string    `json:"case_id"`
	Disposition string    `json:"disposition"` // "pending", "opened", "reply", "note", "command", "ignored", "failed"
	Reason      string    `json:"reason"`
	ReceivedAt  time.Time `json:"received_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// ReserveMail records a mail under its dedupe key unless it is already
// recorded, and returns the record as it stands: created is false for a
// mail seen before (fetched twice, delivered to two mailboxes, re-read
// after a crash), whose record says what became of it.
func (s *Store) ReserveMail(ctx context.Context, m MailRecord) (rec MailRecord, created bool, err error) {
	if m.DedupeKey == "" {
		return MailRecord{}, false, errors.New("store: reserve mail: empty dedupe key")
	}
	now := time.Now().UTC()
	if m.ReceivedAt.IsZero() {
		m.ReceivedAt = now
	}
	if m.Disposition == "" {
		m.Disposition = "pending"
	}
	err = s.write(ctx, func(tx *gorm.DB) error {
		res := tx.Exec(`INSERT INTO mail_messages
			(dedupe_key, message_id, msgid_hash, mailbox, uid, from_addr, subject, case_id, disposition, reason, received_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (dedupe_key) DO NOTHING`,
			m.DedupeKey, m.MessageID, m.MsgIDHash, m.Mailbox, int64(m.UID), m.From, m.Subject, m.CaseID, m.Disposition, m.Reason,
			utc(m.ReceivedAt), now)
		if res.Error != nil {
			return res.Error
		}
		created = res.RowsAffected == 1
		return nil
	})
	if err != nil {
		return MailRecord{}, false, fmt.Errorf("store: reserve mail: %w", err)
	}
	rec, err = s.mailWhere(ctx, s.db, `dedupe_key = ?`, m.DedupeKey)
	return rec, created, err
}

// SettleMail records what became of a mail.
func (s *Store) SettleMail(ctx context.Context, key, caseID, disposition, reason string) error {
	err := s.write(ctx, func(tx *gorm.DB) error {
		return tx.Exec(`UPDATE mail_messages SET case_id = ?, disposition = ?, reason = ?, updated_at = ? WHERE dedupe_key = ?`,
			caseID, disposition, reason, time.Now().UTC(), key).Error
	})
	if err != nil {
		return fmt.Errorf("store: settle mail %s: %w", key, err)
	}
	return nil
}

// ReserveCase records the case a new mail opens, unless one is recorded
// already, and returns the one that is: of two handlers of one mail, the
// first reservation wins.
func (s *Store) ReserveCase(ctx context.Context, key, caseID string) (string, error) {
	err := s.write(ctx, func(tx *gorm.DB) error {
		return tx.Exec(`UPDATE mail_messages SET case_id = ?, updated_at = ? WHERE dedupe_key = ? AND case_id = ''`,
			caseID, time.Now().UTC(), key).Error
	})
	if err != nil {
		return "", fmt.Errorf("store: reserve case for mail %s: %w", key, err)
	}
	m, err := s.mailWhere(ctx, s.db, `dedupe_key = ?`, key)
	if err != nil {
		return "", err
	}
	return m.CaseID, nil
}

// TokenUsed reports whether a single-use token was used.
func (s *Store) TokenUsed(ctx context.Context, id string) (bool, error) {
	var n int
	err := query(ctx, s.db, func(r *sql.Rows) error { return r.Scan(&n) }, `SELECT COUNT(*) FROM used_tokens WHERE id = ?`, id)
	if err != nil {
		return false, fmt.Errorf("store: token used: %w", err)
	}
	return n > 0, nil
}

// MailByMessageID returns the newest received mail with the Message-ID
// hash that belongs to a case: replies thread on it.
func (s *Store) MailByMessageID(ctx context.Context, msgIDHash string) (MailRecord, error) {
	return s.mailWhere(ctx, s.rdb, `msgid_hash = ? AND case_id <> '' ORDER BY received_at DESC`, msgIDHash)
}

// MailOfCase lists the mail recorded against a case, oldest first.
func (s *Store) MailOfCase(ctx context.Context, caseID string) ([]MailRecord, error) {
	var out []MailRecord
	err := query(ctx, s.rdb, func(r *sql.Rows) error {
		m, err := scanMail(r)
		out = append(out, m)
		return err
	}, `SELECT `+mailColumns+` FROM mail_messages WHERE case_id = ? ORDER BY received_at, dedupe_key`, caseID)
	if err != nil {
		return nil, fmt.Errorf("store: mail of %s: %w", caseID, err)
	}
	return out, nil
}

// MailByDisposition lists the mail with a disposition, newest first.
func (s *Store) MailByDisposition(ctx context.Context, disposition string, limit int) ([]MailRecord, error) {
	var out []MailRecord
	err := query(ctx, s.rdb, func(r *sql.Rows) error {
		m, err := scanMail(r)
		out = append(out, m)
		return err
	}, `SELECT `+mailColumns+` FROM mail_messages WHERE disposition = ? ORDER BY received_at DESC LIMIT ?`, disposition, pageLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("store: mail %s: %w", disposition, err)
	}
	return out, nil
}

const mailColumns = `dedupe_key, message_id, msgid_hash, mailbox, uid, from_addr, subject, case_id, disposition, reason, received_at, updated_at`

func scanMail(r *sql.Rows) (MailRecord, error) {
	var (
		m   MailRecord
		uid int64
	)
	err := r.Scan(&m.DedupeKey, &m.MessageID, &m.MsgIDHash, &m.Mailbox, &uid, &m.From, &m.Subject, &m.CaseID, &m.Disposition,
		&m.Reason, &m.ReceivedAt, &m.UpdatedAt)
	m.UID, m.ReceivedAt, m.UpdatedAt = uint32(uid), m.ReceivedAt.UTC(), m.UpdatedAt.UTC()
	return m, err
}

func (s *Store) mailWhere(ctx context.Context, db *gorm.DB, where string, args ...any) (MailRecord, error) {
	var (
		m     MailRecord
		found bool
	)
	err := query(ctx, db, func(r *sql.Rows) error {
		if found {
			return nil
		}
		var err error
		m, err = scanMail(r)
		found = true
		return err
	}, `SELECT `+mailColumns+` FROM mail_messages WHERE `+where, args...)
	if err != nil {
		return MailRecord{}, fmt.Errorf("store: mail: %w", err)
	}
	if !found {
		return MailRecord{}, fmt.Errorf("store: mail: %w", ErrNotFound)
	}
	return m, nil
}

// IncrementMailCap counts one more automatic mail to a recipient on a day
// and returns the day's count so far.
func (s *Store) IncrementMailCap(ctx context.Context, recipient, day string) (int, error) {
	var n int
	err := s.write(ctx, func(tx *gorm.DB) error {
		return query(ctx, tx, func(r *sql.Rows) error { return r.Scan(&n) },
			`INSERT INTO mail_caps (recipient, day, count) VALUES (?, ?, 1)
			 ON CONFLICT (recipient, day) DO UPDATE SET count = mail_caps.count + 1
			 RETURNING count`, strings.ToLower(recipient), day)
	})
	if err != nil {
		return 0, fmt.Errorf("store: mail cap %s: %w", recipient, err)
	}
	return n, nil
}

// Attachment is a file that came with a case's mail.
type Attachment struct {
	ID          int64     `json:"id"`
	CaseID      string    `json:"case_id"`
	SourceKey   string    `json:"-"`
	Filename    string    `json:"filename"`
	ContentType string    `json:"content_type"`
	Size        int64     `json:"size"`
	Data        []byte    `json:"-"`
	CreatedAt   time.Time `json:"created_at"`
}

// SaveAttachment stores an attachment once per (source, filename, size).
func (s *Store) SaveAttachment(ctx context.Context, a Attachment) error {
	err := s.write(ctx, func(tx *gorm.DB) error {
		return tx.Exec(`INSERT INTO attachments (case_id, source_key, filename, content_type, size, data, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (source_key, filename, size) DO NOTHING`,
			a.CaseID, a.SourceKey, a.Filename, a.ContentType, a.Size, a.Data, time.Now().UTC()).Error
	})
	if err != nil {
		return fmt.Errorf("store: save attachment %s: %w", a.Filename, err)
	}
	return nil
}

// Attachments lists a case's attachments without their contents.
func (s *Store) Attachments(ctx context.Context, caseID string) ([]Attachment, error) {
	out := []Attachment{}
	err := query(ctx, s.rdb, func(r *sql.Rows) error {
		var a Attachment
		if err := r.Scan(&a.ID, &a.CaseID, &a.Filename, &a.ContentType, &a.Size, &a.CreatedAt); err != nil {
			return err
		}
		a.CreatedAt = a.CreatedAt.UTC()
		out = append(out, a)
		return nil
	}, `SELECT id, case_id, filename, content_type, size, created_at FROM attachments WHERE case_id = ? ORDER BY id`, caseID)
	if err != nil {
		return nil, fmt.Errorf("store: attachments of %s: %w", caseID, err)
	}
	return out, nil
}

// ClaimNotifications hands out up to limit unsent notifications of a
// channel that no other sender holds, and holds them for lease: two
// servers never send the same notification at the same time, and one that
// dies lets go when the lease runs out.
//
// A notification tried maxAttempts times is left alone (0: no limit); its
// last_error says why.
func (s *Store) ClaimNotifications(ctx context.Context, channel string, limit, maxAttempts int, lease time.Duration) ([]Notification, error) {
	if maxAttempts <= 0 {
		maxAttempts = 1 << 30
	}
	if limit <= 0 {
		limit = 100
	}
	now := time.Now().UTC()
	var out []Notification
	err := s.write(ctx, func(tx *gorm.DB) error {
		lock := ""
		if s.dialect == dialectPostgres {
			lock = ` FOR UPDATE SKIP LOCKED`
		}
		var ids []any
		err := query(ctx, tx, func(r *sql.Rows) error {
			n, err := scanNotification(r)
			out = append(out, n)
			ids = append(ids, n.ID)
			return err
		}, `SELECT `+notificationColumns+` FROM notifications
			WHERE channel = ? AND sent_at IS NULL AND attempts < ? AND (claimed_until IS NULL OR claimed_until < ?)
			ORDER BY id LIMIT ?`+lock, channel, maxAttempts, now, limit)
		if err != nil || len(ids) == 0 {
			return err
		}
		return tx.Exec(`UPDATE notifications SET claimed_until = ? WHERE id IN (`+placeholders(len(ids))+`)`,
			append([]any{now.Add(lease)}, ids...)...).Error
	})
	if err != nil {
		return nil, fmt.Errorf("store: claim %s notifications: %w", channel, err)
	}
	return out, nil
}

// UserByEmail returns the active user with the address (case-insensitive)
// and their active groups; ErrNotFound when there is none.
func (s *Store) UserByEmail(ctx context.Context, email string) (User, []string, error) {
	u, err := s.user(ctx, `LOWER(email) = ? AND active = ?`, strings.ToLower(strings.TrimSpace(email)), true)
	if err != nil {
		return User{}, nil, fmt.Errorf("store: user by email: %w", err)
	}
	groups, err := s.groupsOf(ctx, u.ID)
	if err != nil {
		return User{}, nil, fmt.Errorf("store: user by email: %w", err)
	}
	return u, groups, nil
}

// AbandonNotification gives up on a notification for good (a recipient
// over the daily cap, an address that does not exist): it is never sent
// or tried again, and reason says why.
func (s *Store) AbandonNotification(ctx context.Context, id int64, reason string) error {
	return s.updateNotification(ctx, id,
		`UPDATE notifications SET attempts = 1000000, last_error = ? WHERE id = ? AND sent_at IS NULL`, reason, id)
}

// Mail returns the record of the mail with the dedupe key.
func (s *Store) Mail(ctx context.Context, key string) (MailRecord, error) {
	return s.mailWhere(ctx, s.rdb, `dedupe_key = ?`, key)
}

// UseToken records a single-use token as used; false when it was already.
func (s *Store) UseToken(ctx context.Context, id string) (bool, error) {
	var fresh bool
	err := s.write(ctx, func(tx *gorm.DB) error {
		res := tx.Exec(`INSERT INTO used_tokens (id, used_at) VALUES (?, ?) ON CONFLICT (id) DO NOTHING`, id, time.Now().UTC())
		fresh = res.RowsAffected == 1
		return res.Error
	})
	if err != nil {
		return false, fmt.Errorf("store: use token: %w", err)
	}
	return fresh, nil
}

// Setting returns the value of a setting, making it with create the first
// time; every process that asks gets the value the first one stored.
func (s *Store) Setting(ctx context.Context, key string, create func() (string, error)) (string, error) {
	var v string
	err := query(ctx, s.db, func(r *sql.Rows) error { return r.Scan(&v) }, `SELECT value FROM settings WHERE key = ?`, key)
	if err == nil && v != "" {
		return v, nil
	}
	if err != nil {
		return "", fmt.Errorf("store: setting %s: %w", key, err)
	}
	nv, err := create()
	if err != nil {
		return "", fmt.Errorf("store: setting %s: %w", key, err)
	}
	err = s.write(ctx, func(tx *gorm.DB) error {
		return tx.Exec(`INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING`, key, nv).Error
	})
	if err == nil {
		err = query(ctx, s.db, func(r *sql.Rows) error { return r.Scan(&v) }, `SELECT value FROM settings WHERE key = ?`, key)
	}
	if err != nil {
		return "", fmt.Errorf("store: setting %s: %w", key, err)
	}
	return v, nil
}

// Delivered reports whether a notification was delivered to an address.
func (s *Store) Delivered(ctx context.Context, id int64, address string) (bool, error) {
	var n int
	err := query(ctx, s.db, func(r *sql.Rows) error { return r.Scan(&n) },
		`SELECT COUNT(*) FROM notification_deliveries WHERE notification_id = ? AND address = ?`, id, strings.ToLower(address))
	if err != nil {
		return false, fmt.Errorf("store: delivered: %w", err)
	}
	return n > 0, nil
}

// MarkDelivered records that a notification reached one address.
func (s *Store) MarkDelivered(ctx context.Context, id int64, address string, at time.Time) error {
	err := s.write(ctx, func(tx *gorm.DB) error {
		return tx.Exec(`INSERT INTO notification_deliveries (notification_id, address, sent_at) VALUES (?, ?, ?)
			ON CONFLICT (notification_id, address) DO NOTHING`, id, strings.ToLower(address), at.UTC()).Error
	})
	if err != nil {
		return fmt.Errorf("store: mark delivered: %w", err)
	}
	return nil
}
