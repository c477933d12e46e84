package store

import (
	"database/sql"
	"errors"
	"slices"
	"strings"
	"testing"
)

func seedUsers() []SeedUser {
	return []SeedUser{
		{User: User{ID: "alice", Name: "Alice", Email: "alice@example.com", SlackID: "U0ALICE", Roles: []string{"agent"}}, Token: "alice-dev-token"},
		{User: User{ID: "bob", Name: "Bob", Email: "bob@example.com", Roles: []string{"agent", "process_owner"}}, Token: "bob-dev-token"},
		{User: User{ID: "mona", Name: "Mona", Email: "mona@example.com"}, Token: "mona-dev-token"},
	}
}

func seedGroups() []Group {
	return []Group{
		{ID: "service-desk", Name: "Service desk", Manager: "mona", Members: []string{"alice", "bob", "alice"}},
		{ID: "cab", Name: "Change advisory board", Manager: "mona", Members: []string{"bob"}},
	}
}

func TestSeedDirectoryAndTokens(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, s *Store) {
		ctx := ctxT(t)
		services := []Service{{ID: "email", Name: "Corporate email", Owner: "olga"}}
		if err := s.SeedDirectory(ctx, seedUsers(), seedGroups(), services); err != nil {
			t.Fatal(err)
		}

		u, groups, err := s.UserByToken(ctx, "bob-dev-token")
		if err != nil {
			t.Fatal(err)
		}
		if u.ID != "bob" || u.Name != "Bob" || u.Email != "bob@example.com" || !u.Active ||
			!slices.Equal(u.Roles, []string{"agent", "process_owner"}) {
			t.Errorf("user %+v", u)
		}
		if !slices.Equal(groups, []string{"cab", "service-desk"}) {
			t.Errorf("groups %v", groups)
		}
		if u, groups, err := s.UserByToken(ctx, "mona-dev-token"); err != nil || u.ID != "mona" || len(groups) != 0 || u.Roles == nil {
			t.Errorf("mona: %+v %v %v", u, groups, err)
		}
		for _, tok := range []string{"", "wrong", "alice-dev-token "} {
			if _, _, err := s.UserByToken(ctx, tok); !errors.Is(err, ErrNotFound) {
				t.Errorf("token %q: %v, want ErrNotFound", tok, err)
			}
		}
		if u, groups, err := s.UserByID(ctx, "alice"); err != nil || u.SlackID != "U0ALICE" || !slices.Equal(groups, []string{"service-desk"}) {
			t.Errorf("alice by id: %+v %v %v", u, groups, err)
		}
		if _, _, err := s.UserByID(ctx, "zed"); !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown id: %v, want ErrNotFound", err)
		}

		// No column of any table holds a token in clear.
		for _, su := range seedUsers() {
			assertNowhere(t, s, su.Token)
		}

		// Re-seed: bob leaves, alice's token rotates and she takes over cab,
		// the cab group and the email service are gone.
		users := seedUsers()
		users = slices.DeleteFunc(users, func(u SeedUser) bool { return u.ID == "bob" })
		users[0].Token = "alice-new-token"
		users = append(users, SeedUser{User: User{ID: "dave", Name: "Dave"}, Token: "bob-dev-token"}) // a token can move
		groups2 := []Group{{ID: "service-desk", Name: "Service desk", Manager: "mona", Members: []string{"alice", "dave"}}}
		if err := s.SeedDirectory(ctx, users, groups2, []Service{{ID: "vpn", Name: "VPN"}}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.UserByToken(ctx, "alice-dev-token"); !errors.Is(err, ErrNotFound) {
			t.Errorf("old token still works: %v", err)
		}
		if u, groups, err := s.UserByToken(ctx, "alice-new-token"); err != nil || u.ID != "alice" || !slices.Equal(groups, []string{"service-desk"}) {
			t.Errorf("alice after re-seed: %+v %v %v", u, groups, err)
		}
		if u, _, err := s.UserByToken(ctx, "bob-dev-token"); err != nil || u.ID != "dave" {
			t.Errorf("moved token: %+v %v", u, err)
		}
		bob, bobGroups, err := s.UserByID(ctx, "bob")
		if err != nil {
			t.Fatalf("removed user was deleted: %v", err)
		}
		if bob.Active || len(bobGroups) != 0 {
			t.Errorf("removed user bob: %+v in %v, want inactive and in no active group", bob, bobGroups)
		}
		var active map[string]bool
		active = activeFlags(t, s, "groups")
		if !active["service-desk"] || active["cab"] || len(active) != 2 {
			t.Errorf("groups active %v", active)
		}
		active = activeFlags(t, s, "services")
		if !active["vpn"] || active["email"] || len(active) != 2 {
			t.Errorf("services active %v", active)
		}

		// A seed that fails leaves the directory as it was.
		dup := []SeedUser{{User: User{ID: "x"}, Token: "same"}, {User: User{ID: "y"}, Token: "same"}}
		if err := s.SeedDirectory(ctx, dup, nil, nil); err == nil {
			t.Error("two users with one token: no error")
		}
		if u, _, err := s.UserByToken(ctx, "alice-new-token"); err != nil || u.ID != "alice" {
			t.Errorf("failed seed was not rolled back: %v", err)
		}
	})
}

func activeFlags(t *testing.T, s *Store, table string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	rows, err := s.db.Raw(`SELECT id, active FROM "` + table + `"`).Rows()
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id string
			a  bool
		)
		if err := rows.Scan(&id, &a); err != nil {
			t.Fatal(err)
		}
		out[id] = a
	}
	return out
}

// assertNowhere fails if any value in any table contains needle.
func assertNowhere(t *testing.T, s *Store, needle string) {
	t.Helper()
	q := `SELECT name FROM sqlite_master WHERE type = 'table'`
	if s.Dialect() == "postgres" {
		q = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()`
	}
	var tables []string
	if err := s.db.Raw(q).Scan(&tables).Error; err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(tables, "users") {
		t.Fatalf("table list %v lacks users", tables)
	}
	for _, table := range tables {
		rows, err := s.db.Raw(`SELECT * FROM "` + table + `"`).Rows()
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]sql.RawBytes, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for i, v := range vals {
				if strings.Contains(string(v), needle) {
					t.Errorf("%s.%s holds the token %q", table, cols[i], needle)
				}
			}
		}
		rows.Close()
	}
}
