package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

const postgresEnv = "KANRI_TEST_POSTGRES_URL"

// testURLs remembers the url each test store was opened with, for tests that
// close and reopen it.
var testURLs sync.Map // *Store -> string

// forEachDialect runs fn as a subtest on a fresh, migrated SQLite database
// and, when KANRI_TEST_POSTGRES_URL is set, on a fresh, migrated PostgreSQL
// database created for the subtest and dropped after it.
func forEachDialect(t *testing.T, fn func(t *testing.T, s *Store)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		fn(t, openTestSQLite(t))
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		fn(t, openTestPostgres(t))
	})
}

func openTestSQLite(t testing.TB) *Store { return openMigrated(t, newSQLiteURL(t)) }

func openTestPostgres(t testing.TB) *Store { return openMigrated(t, newPostgresURL(t)) }

// newSQLiteURL names a SQLite file that does not exist yet.
func newSQLiteURL(t testing.TB) string { return filepath.Join(t.TempDir(), "kanri.db") }

// newPostgresURL creates an empty database kanri_t_<random> for the test and
// drops it afterwards. It skips the test when KANRI_TEST_POSTGRES_URL is
// unset, and fails it instead when CI is "true".
func newPostgresURL(t testing.TB) string {
	t.Helper()
	admin := os.Getenv(postgresEnv)
	if admin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set: CI must run the store tests against PostgreSQL (.ci/postgres prints the URL)", postgresEnv)
		}
		t.Skipf("%s is not set: skipping PostgreSQL (run .ci/postgres and export the URL it prints)", postgresEnv)
	}
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("%s: %v", postgresEnv, err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "kanri_t_" + hex.EncodeToString(b[:])

	adm, err := gorm.Open(postgres.Open(admin), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatalf("connect %s: %v", postgresEnv, err)
	}
	closeAdmin := func() {
		if d, err := adm.DB(); err == nil {
			_ = d.Close()
		}
	}
	if err := adm.Exec(`CREATE DATABASE ` + name).Error; err != nil {
		closeAdmin()
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		defer closeAdmin()
		if err := adm.Exec(`DROP DATABASE IF EXISTS ` + name + ` WITH (FORCE)`).Error; err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}

func openMigrated(t testing.TB, url string) *Store {
	t.Helper()
	s := openURL(t, url)
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return s
}

func openURL(t testing.TB, url string) *Store {
	t.Helper()
	s, err := Open(context.Background(), url)
	if err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	testURLs.Store(s, url)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// reopen closes s and opens its database again.
func reopen(t testing.TB, s *Store) *Store {
	t.Helper()
	u, ok := testURLs.Load(s)
	if !ok {
		t.Fatal("reopen: store not opened by the test helpers")
	}
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	return openURL(t, u.(string))
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestOpenSQLiteSettings(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, u := range []string{
		filepath.Join(dir, "a.db"),
		"sqlite:" + filepath.Join(dir, "b.db"),
		"file:" + filepath.Join(dir, "c.db"),
		filepath.Join(dir, "sub", "d.db"),
	} {
		s := openURL(t, u)
		if s.Dialect() != "sqlite" {
			t.Errorf("%s: dialect %q", u, s.Dialect())
		}
		if err := s.Ping(context.Background()); err != nil {
			t.Errorf("%s: ping: %v", u, err)
		}
		for _, db := range []*gorm.DB{s.db, s.rdb} {
			for pragma, want := range map[string]string{
				"journal_mode": "wal",
				"synchronous":  "1", // NORMAL
				"busy_timeout": "10000",
				"foreign_keys": "1",
			} {
				var got string
				if err := db.Raw("PRAGMA " + pragma).Row().Scan(&got); err != nil {
					t.Fatalf("%s: pragma %s: %v", u, pragma, err)
				}
				if got != want {
					t.Errorf("%s: %s = %s, want %s", u, pragma, got, want)
				}
			}
		}
	}
	mem := openURL(t, ":memory:")
	if err := mem.Migrate(context.Background()); err != nil {
		t.Fatalf(":memory: migrate: %v", err)
	}
	if id, _, err := mem.NextID(context.Background(), "incidents", "INC"); err != nil || id != "INC-000001" {
		t.Errorf(":memory: NextID %q %v", id, err)
	}
	if _, err := mem.GetCase(context.Background(), "INC-000001"); !errors.Is(err, ErrNotFound) {
		t.Errorf(":memory: reads do not see the migrated schema: %v", err)
	}
	if _, err := Open(context.Background(), "sqlite:"); err == nil {
		t.Error("empty sqlite path: no error")
	}
}

func TestOpenPostgresDialect(t *testing.T) {
	t.Parallel()
	s := openTestPostgres(t)
	if s.Dialect() != "postgres" {
		t.Errorf("dialect %q", s.Dialect())
	}
	if err := s.Ping(context.Background()); err != nil {
		t.Error(err)
	}
}
