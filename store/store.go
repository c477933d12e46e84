// Package store is Kanri's system of record for reads: the case table that
// workflows project every transition into, the append-only history, the
// notification outbox, the id sequences and the directory of users, groups and
// services. It runs on SQLite (kanri dev) and PostgreSQL (kanri server) with
// the same SQL wherever the two agree, and per-dialect SQL where they do not.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/libtnb/sqlite"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

var (
	// ErrNotFound is returned when a case, user or notification does not exist.
	ErrNotFound = errors.New("not found")
	// ErrBadCursor is wrapped by ListCases when the cursor was not produced by
	// a previous ListCases.
	ErrBadCursor = errors.New("bad cursor")
)

const (
	dialectSQLite   = "sqlite"
	dialectPostgres = "postgres"
)

// Store is safe for concurrent use.
type Store struct {
	// db takes every write. On SQLite it is a pool of exactly one connection
	// whose transactions begin IMMEDIATE: writers queue in Go instead of
	// polling SQLite's file lock, so a busy writer never surfaces as
	// SQLITE_BUSY and never waits out a busy-handler sleep.
	db *gorm.DB
	// rdb serves reads. On SQLite it is a separate pool of read-only
	// connections, which WAL lets run beside the writer; on PostgreSQL (and
	// for an in-memory SQLite database) it is db itself.
	rdb     *gorm.DB
	dialect string
	watch   watchers
}

// Open connects to the database at url without migrating it.
//
// A url starting with postgres:// or postgresql:// opens PostgreSQL. Anything
// else is a SQLite file path, optionally prefixed with "sqlite:" or "file:"
// and optionally followed by "?" and extra underscore parameters of
// modernc.org/sqlite (SQLite's own URI parameters such as mode= do not
// apply: the path is opened as a plain file name). Missing parent
// directories are created.
func Open(ctx context.Context, url string) (*Store, error) {
	return OpenWithPool(ctx, url, Pool{})
}

// Pool sizes the PostgreSQL connection pool of one process; a zero field
// keeps its default (DefaultPool). SQLite ignores it: its pools are fixed
// (one writer connection, a few readers).
//
// Every server and worker process holds its own pool, so MaxOpenConns
// times the number of processes (plus `kanri migrate`) must stay below
// PostgreSQL's max_connections, or a pooler's limit.
type Pool struct {
	MaxOpenConns int
	MaxIdleConns int
	// ConnMaxLifetime closes a connection this long after it was opened,
	// so that connections move to a replica that failed over or to a
	// new pooler instance.
	ConnMaxLifetime time.Duration
	// ConnMaxIdleTime closes a connection idle this long.
	ConnMaxIdleTime time.Duration
}

// DefaultPool is the pool Open uses.
var DefaultPool = Pool{MaxOpenConns: 32, MaxIdleConns: 8, ConnMaxLifetime: 30 * time.Minute, ConnMaxIdleTime: 5 * time.Minute}

// withDefaults fills p's zero fields from DefaultPool.
func (p Pool) withDefaults() Pool {
	d := DefaultPool
	if p.MaxOpenConns > 0 {
		d.MaxOpenConns = p.MaxOpenConns
	}
	if p.MaxIdleConns > 0 {
		d.MaxIdleConns = p.MaxIdleConns
	}
	if p.ConnMaxLifetime > 0 {
		d.ConnMaxLifetime = p.ConnMaxLifetime
	}
	if p.ConnMaxIdleTime > 0 {
		d.ConnMaxIdleTime = p.ConnMaxIdleTime
	}
	return d
}

// OpenWithPool is Open with the PostgreSQL pool sized by p.
func OpenWithPool(ctx context.Context, url string, p Pool) (*Store, error) {
	if strings.HasPrefix(url, "postgres://") || strings.HasPrefix(url, "postgresql://") {
		return openPostgres(ctx, url, p.withDefaults())
	}
	return openSQLite(ctx, url)
}

// PoolStats reports the writer pool's database/sql statistics, among them
// its MaxOpenConnections.
func (s *Store) PoolStats() (sql.DBStats, error) {
	d, err := s.db.DB()
	if err != nil {
		return sql.DBStats{}, err
	}
	return d.Stats(), nil
}

func gormConfig() *gorm.Config {
	return &gorm.Config{
		Logger:                 logger.Discard,
		SkipDefaultTransaction: true,
		NowFunc:                func() time.Time { return time.Now().UTC() },
	}
}

func openPostgres(ctx context.Context, url string, p Pool) (*Store, error) {
	db, err := gorm.Open(postgres.Open(url), gormConfig())
	if err != nil {
		return nil, fmt.Errorf("store: open postgres: %w", err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, err
	}
	sqlDB.SetMaxOpenConns(p.MaxOpenConns)
	sqlDB.SetMaxIdleConns(p.MaxIdleConns)
	sqlDB.SetConnMaxLifetime(p.ConnMaxLifetime)
	sqlDB.SetConnMaxIdleTime(p.ConnMaxIdleTime)
	s := &Store{db: db, rdb: db, dialect: dialectPostgres}
	if err := s.Ping(ctx); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("store: open postgres: %w", err)
	}
	return s, nil
}

// sqlitePath splits a SQLite url into the file path and any DSN parameters
// the caller appended.
func sqlitePath(raw string) (path, query string, err error) {
	path = raw
	for _, p := range []string{"sqlite://", "sqlite:", "file://", "file:"} {
		if strings.HasPrefix(path, p) {
			path = strings.TrimPrefix(path, p)
			break
		}
	}
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path, query = path[:i], path[i+1:]
		if _, err := url.ParseQuery(query); err != nil {
			return "", "", fmt.Errorf("store: sqlite url %q: %w", raw, err)
		}
	}
	if path == "" {
		return "", "", fmt.Errorf("store: empty sqlite path in %q", raw)
	}
	return path, query, nil
}

func openSQLite(ctx context.Context, raw string) (*Store, error) {
	path, extra, err := sqlitePath(raw)
	if err != nil {
		return nil, err
	}
	memory := path == ":memory:"
	if !memory {
		if dir := filepath.Dir(path); dir != "." {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return nil, fmt.Errorf("store: %w", err)
			}
		}
	}

	// busy_timeout still matters with a single writer connection: another
	// process (kanri migrate, the sqlite3 shell) may hold the lock.
	common := []string{
		"_busy_timeout=10000",
		"_timezone=UTC",
		"_pragma=journal_mode(WAL)",
		"_pragma=synchronous(NORMAL)",
		"_pragma=foreign_keys(1)",
	}
	dsn := func(params ...string) string {
		q := strings.Join(append(append([]string{}, common...), params...), "&")
		if extra != "" {
			q += "&" + extra
		}
		return path + "?" + q
	}

	wdb, err := gorm.Open(sqlite.Open(dsn("_txlock=immediate", "_pragma=analysis_limit(1000)")), gormConfig())
	if err != nil {
		return nil, fmt.Errorf("store: open sqlite %s: %w", path, err)
	}
	w, err := wdb.DB()
	if err != nil {
		return nil, err
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	s := &Store{db: wdb, rdb: wdb, dialect: dialectSQLite}
	// The writer connects first, so that a new file is already in WAL mode
	// when the read-only pool opens it.
	if err := w.PingContext(ctx); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("store: open sqlite %s: %w", path, err)
	}
	// Without statistics SQLite picks among equally plausible indexes by
	// their order in the schema: at 100,000 cases a list filtered five ways
	// took 42 ms a page, against 13 ms with statistics (bench_test.go). optimize=0x10002 analyzes the tables whose statistics
	// are missing or stale, sampling at most analysis_limit rows per index.
	// PostgreSQL's autovacuum keeps its own statistics.
	// It runs in a transaction, which the writer begins IMMEDIATE: the
	// write lock is taken up front and waited for (busy_timeout). Run
	// alone, it read first and then upgraded to write, and SQLite answers
	// an upgrade that another process beat with SQLITE_BUSY at once, so
	// processes opening one file together (kanri migrate on every replica)
	// failed.
	err = wdb.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		return tx.Exec(`PRAGMA optimize=0x10002`).Error
	})
	if err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("store: open sqlite %s: optimize: %w", path, err)
	}
	if memory {
		// Every connection to :memory: is its own database: one pool only.
		return s, nil
	}

	rdb, err := gorm.Open(sqlite.Open(dsn("_pragma=query_only(1)")), gormConfig())
	if err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("store: open sqlite %s: %w", path, err)
	}
	s.rdb = rdb
	r, err := rdb.DB()
	if err != nil {
		_ = s.Close()
		return nil, err
	}
	n := max(4, runtime.NumCPU())
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	if err := r.PingContext(ctx); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("store: open sqlite %s: %w", path, err)
	}
	return s, nil
}

// Close closes the connection pools.
func (s *Store) Close() error {
	var errs []error
	closeDB := func(g *gorm.DB) {
		if g == nil {
			return
		}
		d, err := g.DB()
		if err != nil {
			errs = append(errs, err)
			return
		}
		errs = append(errs, d.Close())
	}
	if s.dialect == dialectSQLite && s.db != nil {
		// Refresh the planner's statistics for the next start; cheap when
		// nothing changed much.
		_ = s.db.Exec(`PRAGMA optimize`).Error
	}
	closeDB(s.db)
	if s.rdb != s.db {
		closeDB(s.rdb)
	}
	return errors.Join(errs...)
}

// Dialect is "sqlite" or "postgres".
func (s *Store) Dialect() string { return s.dialect }

// Ping checks that the database answers, for /readyz.
func (s *Store) Ping(ctx context.Context) error {
	for _, g := range []*gorm.DB{s.db, s.rdb} {
		d, err := g.DB()
		if err != nil {
			return err
		}
		if err := d.PingContext(ctx); err != nil {
			return err
		}
	}
	return nil
}

// write runs fn in one transaction on the writer.
func (s *Store) write(ctx context.Context, fn func(tx *gorm.DB) error) error {
	return s.db.WithContext(ctx).Transaction(fn)
}

// query runs a read on the reader pool and hands the rows to scan.
func query(ctx context.Context, db *gorm.DB, scan func(*sql.Rows) error, q string, args ...any) error {
	rows, err := db.WithContext(ctx).Raw(q, args...).Rows()
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// utc normalizes a time for storage: SQLite keeps times as text, and text
// only compares correctly when every value has the same offset.
func utc(t time.Time) time.Time { return t.UTC() }

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
