package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"gorm.io/gorm"
)

// User is a person known to Kanri. Roles are "requester", "agent",
// "process_owner", "admin".
type User struct {
	ID, Name, Email, SlackID string
	Roles                    []string
	Active                   bool
}

// Group is a team: assignment target, approver pool, escalation step.
type Group struct {
	ID, Name, Manager string
	Members           []string
	Active            bool
}

// Service is an entry of the service catalogue.
type Service struct {
	ID, Name, Owner string
	Active          bool
}

// SeedUser is a user from the configuration with its bearer token. Only the
// token's SHA-256 is stored.
type SeedUser struct {
	User
	Token string
}

// hashToken is the hex SHA-256 of a bearer token, as stored in users.token_hash.
func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// SeedDirectory makes the directory match the configuration, in one
// transaction. Users, groups and services are upserted and active; those no
// longer in the configuration are marked inactive, not deleted, because
// history and cases refer to them. A removed user's token stops working.
func (s *Store) SeedDirectory(ctx context.Context, users []SeedUser, groups []Group, services []Service) error {
	now := time.Now().UTC()
	err := s.write(ctx, func(tx *gorm.DB) error {
		// Tokens are cleared first so that a token moving from one user to
		// another within the same seed does not trip the unique index.
		if err := tx.Exec(`UPDATE users SET active = ?, token_hash = ''`, false).Error; err != nil {
			return err
		}
		for _, u := range users {
			if u.ID == "" {
				return fmt.Errorf("user with empty id")
			}
			roles := u.Roles
			if roles == nil {
				roles = []string{}
			}
			rolesJSON, err := json.Marshal(roles)
			if err != nil {
				return err
			}
			hash := ""
			if u.Token != "" {
				hash = hashToken(u.Token)
			}
			err = tx.Exec(`INSERT INTO users (id, name, email, slack_id, roles, token_hash, active, updated_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (id) DO UPDATE SET name = excluded.name, email = excluded.email,
					slack_id = excluded.slack_id, roles = excluded.roles, token_hash = excluded.token_hash,
					active = excluded.active, updated_at = excluded.updated_at`,
				u.ID, u.Name, u.Email, u.SlackID, string(rolesJSON), hash, true, now).Error
			if err != nil {
				return fmt.Errorf("user %s: %w", u.ID, err)
			}
		}

		if err := tx.Exec(`UPDATE "groups" SET active = ?`, false).Error; err != nil {
			return err
		}
		for _, g := range groups {
			if g.ID == "" {
				return fmt.Errorf("group with empty id")
			}
			err := tx.Exec(`INSERT INTO "groups" (id, name, manager, active, updated_at) VALUES (?, ?, ?, ?, ?)
				ON CONFLICT (id) DO UPDATE SET name = excluded.name, manager = excluded.manager,
					active = excluded.active, updated_at = excluded.updated_at`,
				g.ID, g.Name, g.Manager, true, now).Error
			if err != nil {
				return fmt.Errorf("group %s: %w", g.ID, err)
			}
			if err := tx.Exec(`DELETE FROM group_members WHERE group_id = ?`, g.ID).Error; err != nil {
				return fmt.Errorf("group %s: %w", g.ID, err)
			}
			members := slices.Clone(g.Members)
			slices.Sort(members)
			for _, m := range slices.Compact(members) {
				if err := tx.Exec(`INSERT INTO group_members (group_id, user_id) VALUES (?, ?)`, g.ID, m).Error; err != nil {
					return fmt.Errorf("group %s member %s: %w", g.ID, m, err)
				}
			}
		}

		if err := tx.Exec(`UPDATE services SET active = ?`, false).Error; err != nil {
			return err
		}
		for _, sv := range services {
			if sv.ID == "" {
				return fmt.Errorf("service with empty id")
			}
			err := tx.Exec(`INSERT INTO services (id, name, owner, active, updated_at) VALUES (?, ?, ?, ?, ?)
				ON CONFLICT (id) DO UPDATE SET name = excluded.name, owner = excluded.owner,
					active = excluded.active, updated_at = excluded.updated_at`,
				sv.ID, sv.Name, sv.Owner, true, now).Error
			if err != nil {
				return fmt.Errorf("service %s: %w", sv.ID, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: seed directory: %w", err)
	}
	return nil
}

// UserByToken authenticates a bearer token: it returns the active user whose
// token hashes to the same SHA-256, and the ids of the user's active groups.
// An unknown token, or one of an inactive user, is ErrNotFound.
func (s *Store) UserByToken(ctx context.Context, token string) (User, []string, error) {
	if token == "" {
		return User{}, nil, fmt.Errorf("store: user by token: %w", ErrNotFound)
	}
	u, err := s.user(ctx, `token_hash = ? AND active = ?`, hashToken(token), true)
	if err != nil {
		return User{}, nil, fmt.Errorf("store: user by token: %w", err)
	}
	groups, err := s.groupsOf(ctx, u.ID)
	if err != nil {
		return User{}, nil, fmt.Errorf("store: user by token: %w", err)
	}
	return u, groups, nil
}

// UserByID returns a user, active or not, and the ids of the user's active
// groups; ErrNotFound when the id is unknown.
func (s *Store) UserByID(ctx context.Context, id string) (User, []string, error) {
	u, err := s.user(ctx, `id = ?`, id)
	if err != nil {
		return User{}, nil, fmt.Errorf("store: user %s: %w", id, err)
	}
	groups, err := s.groupsOf(ctx, u.ID)
	if err != nil {
		return User{}, nil, fmt.Errorf("store: user %s: %w", id, err)
	}
	return u, groups, nil
}

func (s *Store) user(ctx context.Context, where string, args ...any) (User, error) {
	var (
		u     User
		found bool
	)
	err := query(ctx, s.rdb, func(r *sql.Rows) error {
		var roles string
		if err := r.Scan(&u.ID, &u.Name, &u.Email, &u.SlackID, &roles, &u.Active); err != nil {
			return err
		}
		found = true
		if err := json.Unmarshal([]byte(roles), &u.Roles); err != nil {
			return fmt.Errorf("roles of %s: %w", u.ID, err)
		}
		return nil
	}, `SELECT id, name, email, slack_id, roles, active FROM users WHERE `+where, args...)
	if err != nil {
		return User{}, err
	}
	if !found {
		return User{}, ErrNotFound
	}
	return u, nil
}

func (s *Store) groupsOf(ctx context.Context, userID string) ([]string, error) {
	groups := []string{}
	err := query(ctx, s.rdb, func(r *sql.Rows) error {
		var g string
		err := r.Scan(&g)
		groups = append(groups, g)
		return err
	}, `SELECT m.group_id FROM group_members m JOIN "groups" g ON g.id = m.group_id
		WHERE m.user_id = ? AND g.active = ? ORDER BY m.group_id`, userID, true)
	return groups, err
}
