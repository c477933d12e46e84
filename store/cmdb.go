package store

// The CMDB (ISO/IEC 20000-1 9.1): configuration items, their relations, the
// services they make up and baselines. A CI is registered once from the
// configuration and from then on changes only through a change (9.2): every
// write after the registration carries the change's id, and every state a CI
// ever had is kept as an append-only revision, so that an auditor can trace
// each CI change to its RFC.

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"
)

var (
	// ErrCIExists is returned by RegisterCI when the id is taken by a CI
	// with other content: after its registration a CI changes only through
	// a change (WriteCI).
	ErrCIExists = errors.New("configuration item already registered with other content")
	// ErrBaselineExists is returned by CreateBaseline when the name is taken
	// by a baseline of another release or another set of CIs.
	ErrBaselineExists = errors.New("baseline already exists with other content")
)

// Relation types. A relation points from the dependent CI to what it depends
// on: an application runs_on a server, a server is part_of a cluster.
const (
	RelDependsOn = "depends_on"
	RelRunsOn    = "runs_on"
	RelPartOf    = "part_of"
)

// CI is one configuration item at one revision.
type CI struct {
	ID         string            `json:"id"`
	Type       string            `json:"type"`
	Name       string            `json:"name"`
	Owner      string            `json:"owner"`
	Status     string            `json:"status"`
	Version    string            `json:"version"`
	Location   string            `json:"location"`
	Attributes map[string]string `json:"attributes"` // free-form extra attributes
	Relations  []Relation        `json:"relations"`  // outgoing, sorted by type then target
	Rev        int64             `json:"rev"`        // 1 is the first registration
	ChangeID   string            `json:"change_id"`  // the change that wrote this revision; "" for a registration
	UpdatedBy  string            `json:"updated_by"`
	UpdatedAt  time.Time         `json:"updated_at"`
}

// Relation is an outgoing edge of a CI: the CI depends on To.
type Relation struct {
	Type string `json:"type"` // RelDependsOn, RelRunsOn or RelPartOf
	To   string `json:"to"`
}

// ImpactItem is a CI that depends, directly or not, on the analysed CI.
type ImpactItem struct {
	ID    string `json:"id"`
	Type  string `json:"type"`
	Name  string `json:"name"`
	Via   string `json:"via"`   // the relation type from this CI to the one it depends on, one step closer
	Depth int    `json:"depth"` // 1 for a direct dependent
}

// Impact is what a change to CI would affect.
type Impact struct {
	CI       string       `json:"ci"`
	CIs      []ImpactItem `json:"cis"`      // by depth, then id
	Services []string     `json:"services"` // services containing the CI or an impacted one, sorted
}

// Baseline is a named, frozen copy of CIs at the revisions they had when it
// was taken (3.2: configuration information formally fixed at a point in
// time). Later writes to the CIs never change it.
type Baseline struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	Release   string    `json:"release"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
	Items     []CI      `json:"items"` // by CI id
}

// CIQuery selects CIs. Empty fields do not filter.
type CIQuery struct {
	Type   string `json:"type"`
	Status string `json:"status"`
	Q      string `json:"q"`     // case-insensitive substring of the id or the name
	After  string `json:"after"` // ids greater than this: pass the last id of a page for the next
	Limit  int    `json:"limit"` // 1..200, default 50
}

func validRelation(t string) bool {
	return t == RelDependsOn || t == RelRunsOn || t == RelPartOf
}

// normalizeCI checks a CI's content and puts it in the one form that is
// stored and compared: attributes never nil, relations sorted and distinct.
func normalizeCI(ci CI) (CI, error) {
	if ci.ID == "" {
		return CI{}, errors.New("ci id is required")
	}
	if ci.Type == "" {
		return CI{}, fmt.Errorf("ci %s: type is required", ci.ID)
	}
	attrs := make(map[string]string, len(ci.Attributes))
	maps.Copy(attrs, ci.Attributes)
	ci.Attributes = attrs
	rels := make([]Relation, 0, len(ci.Relations))
	for _, r := range ci.Relations {
		if !validRelation(r.Type) {
			return CI{}, fmt.Errorf("ci %s: relation type %q is not one of %s, %s, %s",
				ci.ID, r.Type, RelDependsOn, RelRunsOn, RelPartOf)
		}
		if r.To == "" || r.To == ci.ID {
			return CI{}, fmt.Errorf("ci %s: relation %s needs another CI as target", ci.ID, r.Type)
		}
		rels = append(rels, r)
	}
	slices.SortFunc(rels, func(a, b Relation) int {
		if c := strings.Compare(a.Type, b.Type); c != 0 {
			return c
		}
		return strings.Compare(a.To, b.To)
	})
	ci.Relations = slices.Compact(rels)
	return ci, nil
}

// sameContent compares what a CI says, not who wrote it when.
func sameContent(a, b CI) bool {
	return a.ID == b.ID && a.Type == b.Type && a.Name == b.Name && a.Owner == b.Owner &&
		a.Status == b.Status && a.Version == b.Version && a.Location == b.Location &&
		maps.Equal(a.Attributes, b.Attributes) && slices.Equal(a.Relations, b.Relations)
}

// decodeCI reads a revision snapshot.
func decodeCI(snapshot string) (CI, error) {
	var ci CI
	if err := json.Unmarshal([]byte(snapshot), &ci); err != nil {
		return CI{}, fmt.Errorf("ci snapshot: %w", err)
	}
	if ci.Attributes == nil {
		ci.Attributes = map[string]string{}
	}
	if ci.Relations == nil {
		ci.Relations = []Relation{}
	}
	ci.UpdatedAt = ci.UpdatedAt.UTC()
	return ci, nil
}

// cmdbTime is the time a CMDB write records: UTC, and truncated to what
// PostgreSQL keeps, so that a CI read from a column and one read from a
// snapshot carry the same instant.
func cmdbTime(at time.Time) time.Time {
	if at.IsZero() {
		at = time.Now()
	}
	return at.UTC().Truncate(time.Microsecond)
}

// currentCISQL selects the snapshot of a CI's current revision.
const currentCISQL = `SELECT r.snapshot FROM cis c
	JOIN ci_revisions r ON r.ci_id = c.id AND r.rev = c.rev`

// currentCI reads a CI in a write transaction. On PostgreSQL it locks the
// row, so that two writers of the same CI take turns.
func (s *Store) currentCI(ctx context.Context, tx *gorm.DB, id string) (CI, bool, error) {
	q := currentCISQL + ` WHERE c.id = ?`
	if s.dialect == dialectPostgres {
		q += ` FOR UPDATE OF c`
	}
	return oneCI(ctx, tx, q, id)
}

func oneCI(ctx context.Context, db *gorm.DB, q string, args ...any) (CI, bool, error) {
	var (
		snap  string
		found bool
	)
	err := query(ctx, db, func(r *sql.Rows) error {
		found = true
		return r.Scan(&snap)
	}, q, args...)
	if err != nil || !found {
		return CI{}, false, err
	}
	ci, err := decodeCI(snap)
	return ci, err == nil, err
}

func ciList(ctx context.Context, db *gorm.DB, q string, args ...any) ([]CI, error) {
	out := []CI{}
	err := query(ctx, db, func(r *sql.Rows) error {
		var snap string
		if err := r.Scan(&snap); err != nil {
			return err
		}
		ci, err := decodeCI(snap)
		out = append(out, ci)
		return err
	}, q, args...)
	return out, err
}

// insertCI stores a new CI at revision ci.Rev. It reports false, writing
// nothing, when another transaction registered the id meanwhile.
func insertCI(tx *gorm.DB, ci CI) (bool, error) {
	res := tx.Exec(`INSERT INTO cis (id, type, name, owner, status, version, location, rev, change_id, updated_by, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO NOTHING`,
		ci.ID, ci.Type, ci.Name, ci.Owner, ci.Status, ci.Version, ci.Location, ci.Rev, ci.ChangeID,
		ci.UpdatedBy, ci.UpdatedAt)
	if res.Error != nil {
		return false, res.Error
	}
	if res.RowsAffected == 0 {
		return false, nil
	}
	return true, writeRevision(tx, ci)
}

// updateCI moves an existing CI to the revision ci.Rev.
func updateCI(tx *gorm.DB, ci CI) error {
	res := tx.Exec(`UPDATE cis SET type = ?, name = ?, owner = ?, status = ?, version = ?, location = ?,
			rev = ?, change_id = ?, updated_by = ?, updated_at = ?
		WHERE id = ? AND rev = ?`,
		ci.Type, ci.Name, ci.Owner, ci.Status, ci.Version, ci.Location, ci.Rev, ci.ChangeID,
		ci.UpdatedBy, ci.UpdatedAt, ci.ID, ci.Rev-1)
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected != 1 {
		return fmt.Errorf("ci %s moved past revision %d meanwhile", ci.ID, ci.Rev-1)
	}
	if err := tx.Exec(`DELETE FROM ci_relations WHERE ci_id = ?`, ci.ID).Error; err != nil {
		return err
	}
	return writeRevision(tx, ci)
}

// writeRevision inserts the relations of a CI whose old relations are gone,
// and its revision.
func writeRevision(tx *gorm.DB, ci CI) error {
	for _, r := range ci.Relations {
		if err := tx.Exec(`INSERT INTO ci_relations (ci_id, type, to_id) VALUES (?, ?, ?)`,
			ci.ID, r.Type, r.To).Error; err != nil {
			return fmt.Errorf("relation %s %s: %w", r.Type, r.To, err)
		}
	}
	snap, err := json.Marshal(ci)
	if err != nil {
		return err
	}
	return tx.Exec(`INSERT INTO ci_revisions (ci_id, rev, change_id, updated_by, updated_at, snapshot)
		VALUES (?, ?, ?, ?, ?, ?)`,
		ci.ID, ci.Rev, ci.ChangeID, ci.UpdatedBy, ci.UpdatedAt, string(snap)).Error
}

// RegisterCI records a CI from the configuration at revision 1, with no
// change. Relation targets need not be registered yet.
//
// Registering again is harmless: when the id exists and the content equals
// either its current state or its registration, the current CI is returned
// and nothing is written; so a configuration applied at every start keeps
// working after changes have moved its CIs on. Any other content is
// ErrCIExists: a registered CI changes only through WriteCI.
func (s *Store) RegisterCI(ctx context.Context, ci CI, by string, at time.Time) (CI, error) {
	ci, err := normalizeCI(ci)
	if err != nil {
		return CI{}, fmt.Errorf("store: register ci: %w", err)
	}
	ci.Rev, ci.ChangeID, ci.UpdatedBy, ci.UpdatedAt = 1, "", by, cmdbTime(at)
	var out CI
	err = s.write(ctx, func(tx *gorm.DB) error {
		// Twice at most: the insert loses only to a concurrent
		// registration, which the second read then finds.
		for range 2 {
			cur, found, err := s.currentCI(ctx, tx, ci.ID)
			if err != nil {
				return err
			}
			if found {
				if sameContent(cur, ci) {
					out = cur
					return nil
				}
				first, found, err := oneCI(ctx, tx, `SELECT snapshot FROM ci_revisions WHERE ci_id = ? AND rev = 1`, ci.ID)
				if err != nil {
					return err
				}
				if found && sameContent(first, ci) {
					out = cur
					return nil
				}
				return ErrCIExists
			}
			inserted, err := insertCI(tx, ci)
			if err != nil {
				return err
			}
			if inserted {
				out = ci
				return nil
			}
		}
		return errors.New("concurrent registration did not settle")
	})
	if err != nil {
		return CI{}, fmt.Errorf("store: register ci %s: %w", ci.ID, err)
	}
	return out, nil
}

// WriteCI records the state a change gives a CI, as its next revision; a CI
// the change adds starts at revision 1. The relations are replaced by
// ci.Relations.
//
// It is idempotent per CI and change, because activities are retried: when
// the change already wrote a revision of this CI, that revision is returned
// unchanged and nothing is written.
func (s *Store) WriteCI(ctx context.Context, ci CI, changeID, by string, at time.Time) (CI, error) {
	if changeID == "" {
		return CI{}, fmt.Errorf("store: write ci %s: a change id is required (9.1: configuration changes only through a change)", ci.ID)
	}
	ci, err := normalizeCI(ci)
	if err != nil {
		return CI{}, fmt.Errorf("store: write ci: %w", err)
	}
	ci.ChangeID, ci.UpdatedBy, ci.UpdatedAt = changeID, by, cmdbTime(at)
	var out CI
	err = s.write(ctx, func(tx *gorm.DB) error {
		for range 2 {
			cur, found, err := s.currentCI(ctx, tx, ci.ID)
			if err != nil {
				return err
			}
			done, written, err := oneCI(ctx, tx, `SELECT snapshot FROM ci_revisions WHERE ci_id = ? AND change_id = ?`,
				ci.ID, changeID)
			if err != nil {
				return err
			}
			if written {
				out = done
				return nil
			}
			if found {
				ci.Rev = cur.Rev + 1
				out = ci
				return updateCI(tx, ci)
			}
			ci.Rev = 1
			inserted, err := insertCI(tx, ci)
			if err != nil {
				return err
			}
			if inserted {
				out = ci
				return nil
			}
		}
		return errors.New("concurrent write did not settle")
	})
	if err != nil {
		return CI{}, fmt.Errorf("store: write ci %s for %s: %w", ci.ID, changeID, err)
	}
	return out, nil
}

// GetCI returns the current revision of a CI, or ErrNotFound.
func (s *Store) GetCI(ctx context.Context, id string) (CI, error) {
	ci, found, err := oneCI(ctx, s.rdb, currentCISQL+` WHERE c.id = ?`, id)
	if err != nil {
		return CI{}, fmt.Errorf("store: get ci %s: %w", id, err)
	}
	if !found {
		return CI{}, fmt.Errorf("store: ci %s: %w", id, ErrNotFound)
	}
	return ci, nil
}

// likePattern is a LIKE pattern matching q anywhere, with LIKE's wildcards in
// q taken literally (ESCAPE '\').
func likePattern(q string) string { return "%" + likeEscape(q) + "%" }

// likeEscape makes % _ and \ literal in a LIKE ... ESCAPE '\' pattern.
func likeEscape(q string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(q)
}

// containsSQL matches a case-insensitive substring in any of cols. LOWER on
// both sides folds what each database folds (ASCII at least); text without
// case, such as Japanese, matches as it is.
func containsSQL(cols ...string) string {
	parts := make([]string, len(cols))
	for i, c := range cols {
		parts[i] = `LOWER(` + c + `) LIKE LOWER(?) ESCAPE '\'`
	}
	return `(` + strings.Join(parts, ` OR `) + `)`
}

func pageLimit(n int) int {
	switch {
	case n <= 0:
		return defaultLimit
	case n > maxLimit:
		return maxLimit
	}
	return n
}

// ListCIs returns the current revisions of the CIs matching q, by id.
func (s *Store) ListCIs(ctx context.Context, q CIQuery) ([]CI, error) {
	var (
		where []string
		args  []any
	)
	if q.Type != "" {
		where = append(where, `c.type = ?`)
		args = append(args, q.Type)
	}
	if q.Status != "" {
		where = append(where, `c.status = ?`)
		args = append(args, q.Status)
	}
	if q.Q != "" {
		where = append(where, containsSQL(`c.id`, `c.name`))
		p := likePattern(q.Q)
		args = append(args, p, p)
	}
	if q.After != "" {
		where = append(where, `c.id > ?`)
		args = append(args, q.After)
	}
	text := currentCISQL
	if len(where) > 0 {
		text += ` WHERE ` + strings.Join(where, ` AND `)
	}
	text += ` ORDER BY c.id LIMIT ` + strconv.Itoa(pageLimit(q.Limit))
	out, err := ciList(ctx, s.rdb, text, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list cis: %w", err)
	}
	return out, nil
}

// CIRevisions returns every revision of a CI, oldest first: its history for
// an audit. An unknown id is ErrNotFound.
func (s *Store) CIRevisions(ctx context.Context, id string) ([]CI, error) {
	out, err := ciList(ctx, s.rdb, `SELECT snapshot FROM ci_revisions WHERE ci_id = ? ORDER BY rev`, id)
	if err != nil {
		return nil, fmt.Errorf("store: revisions of ci %s: %w", id, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("store: ci %s: %w", id, ErrNotFound)
	}
	return out, nil
}

// CIRevisionsByChange returns every CI revision a change wrote, by CI id: the
// evidence that the change updated the CMDB. An empty changeID lists the
// revisions written outside any change, that is the registrations.
func (s *Store) CIRevisionsByChange(ctx context.Context, changeID string) ([]CI, error) {
	out, err := ciList(ctx, s.rdb, `SELECT snapshot FROM ci_revisions WHERE change_id = ? ORDER BY ci_id, rev`, changeID)
	if err != nil {
		return nil, fmt.Errorf("store: ci revisions of change %s: %w", changeID, err)
	}
	return out, nil
}

// reach is how a graph walk got to a CI.
type reach struct {
	via    string // the type of the relation followed
	depth  int    // 1 for a neighbour of a start CI
	root   string // the start CI it was reached from
	parent string // the CI it was reached from, one step closer to root
}

// inChunk bounds the ids bound in one IN list.
const inChunk = 500

// walk follows the relations from the start CIs breadth first: up to the CIs
// that depend on them (up), or down to the CIs they depend on. It returns
// every CI reached, other than the start CIs, with the shortest way there;
// the visited set makes it safe on cycles. Ties go to the smallest ids, so
// the result does not depend on the database's row order.
func walk(ctx context.Context, db *gorm.DB, start []string, up bool) (map[string]reach, error) {
	seen := make(map[string]bool, len(start))
	for _, id := range start {
		seen[id] = true
	}
	out := map[string]reach{}
	frontier := slices.Compact(slices.Sorted(slices.Values(start)))
	from, to := `to_id`, `ci_id` // up: from the depended-on to the dependent
	if !up {
		from, to = to, from
	}
	for depth := 1; len(frontier) > 0; depth++ {
		var next []string
		for chunk := range slices.Chunk(frontier, inChunk) {
			args := make([]any, len(chunk))
			for i, id := range chunk {
				args[i] = id
			}
			err := query(ctx, db, func(r *sql.Rows) error {
				var src, dst, typ string
				if err := r.Scan(&src, &dst, &typ); err != nil {
					return err
				}
				if seen[dst] {
					return nil
				}
				seen[dst] = true
				root := src
				if p, ok := out[src]; ok {
					root = p.root
				}
				out[dst] = reach{via: typ, depth: depth, root: root, parent: src}
				next = append(next, dst)
				return nil
			}, `SELECT `+from+`, `+to+`, type FROM ci_relations WHERE `+from+` IN (`+placeholders(len(chunk))+`)
				ORDER BY `+from+`, `+to+`, type`, args...)
			if err != nil {
				return nil, err
			}
		}
		slices.Sort(next)
		frontier = next
	}
	return out, nil
}

// Impact returns every CI that depends on id, directly or through other CIs
// and whatever the relation type, and every service that contains id or one
// of them. An unknown id is ErrNotFound.
func (s *Store) Impact(ctx context.Context, id string) (Impact, error) {
	var n int64
	if err := query(ctx, s.rdb, func(r *sql.Rows) error { return r.Scan(&n) },
		`SELECT COUNT(*) FROM cis WHERE id = ?`, id); err != nil {
		return Impact{}, fmt.Errorf("store: impact of ci %s: %w", id, err)
	}
	if n == 0 {
		return Impact{}, fmt.Errorf("store: ci %s: %w", id, ErrNotFound)
	}
	reached, err := walk(ctx, s.rdb, []string{id}, true)
	if err != nil {
		return Impact{}, fmt.Errorf("store: impact of ci %s: %w", id, err)
	}
	ids := slices.Sorted(maps.Keys(reached))
	items := make([]ImpactItem, 0, len(ids))
	// Only CIs have outgoing relations, so every dependent is a CI.
	for chunk := range slices.Chunk(ids, inChunk) {
		args := make([]any, len(chunk))
		for i, c := range chunk {
			args[i] = c
		}
		err := query(ctx, s.rdb, func(r *sql.Rows) error {
			var it ImpactItem
			if err := r.Scan(&it.ID, &it.Type, &it.Name); err != nil {
				return err
			}
			it.Via, it.Depth = reached[it.ID].via, reached[it.ID].depth
			items = append(items, it)
			return nil
		}, `SELECT id, type, name FROM cis WHERE id IN (`+placeholders(len(chunk))+`)`, args...)
		if err != nil {
			return Impact{}, fmt.Errorf("store: impact of ci %s: %w", id, err)
		}
	}
	slices.SortFunc(items, func(a, b ImpactItem) int {
		if a.Depth != b.Depth {
			return a.Depth - b.Depth
		}
		return strings.Compare(a.ID, b.ID)
	})
	services, err := s.ServicesOfCIs(ctx, append([]string{id}, ids...))
	if err != nil {
		return Impact{}, fmt.Errorf("store: impact of ci %s: %w", id, err)
	}
	return Impact{CI: id, CIs: items, Services: services}, nil
}

// SetServiceCIs makes cis the set of CIs that service consists of. Neither
// the service nor the CIs need to be known yet.
func (s *Store) SetServiceCIs(ctx context.Context, service string, cis []string) error {
	if service == "" {
		return errors.New("store: set service cis: empty service id")
	}
	ids := slices.Compact(slices.Sorted(slices.Values(cis)))
	err := s.write(ctx, func(tx *gorm.DB) error {
		if err := tx.Exec(`DELETE FROM service_cis WHERE service_id = ?`, service).Error; err != nil {
			return err
		}
		for _, id := range ids {
			if id == "" {
				return errors.New("empty ci id")
			}
			if err := tx.Exec(`INSERT INTO service_cis (service_id, ci_id) VALUES (?, ?)`, service, id).Error; err != nil {
				return fmt.Errorf("ci %s: %w", id, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: set cis of service %s: %w", service, err)
	}
	return nil
}

// stringColumn reads a query of one text column.
func stringColumn(ctx context.Context, db *gorm.DB, q string, args ...any) ([]string, error) {
	out := []string{}
	err := query(ctx, db, func(r *sql.Rows) error {
		var v string
		err := r.Scan(&v)
		out = append(out, v)
		return err
	}, q, args...)
	return out, err
}

// ServiceCIs returns the CIs of a service, sorted; none for an unknown
// service.
func (s *Store) ServiceCIs(ctx context.Context, service string) ([]string, error) {
	out, err := stringColumn(ctx, s.rdb, `SELECT ci_id FROM service_cis WHERE service_id = ? ORDER BY ci_id`, service)
	if err != nil {
		return nil, fmt.Errorf("store: cis of service %s: %w", service, err)
	}
	return out, nil
}

// ServicesOfCIs returns the services containing any of cis, sorted and
// distinct.
func (s *Store) ServicesOfCIs(ctx context.Context, cis []string) ([]string, error) {
	ids := slices.Compact(slices.Sorted(slices.Values(cis)))
	var out []string
	for chunk := range slices.Chunk(ids, inChunk) {
		args := make([]any, len(chunk))
		for i, c := range chunk {
			args[i] = c
		}
		got, err := stringColumn(ctx, s.rdb, `SELECT DISTINCT service_id FROM service_cis
			WHERE ci_id IN (`+placeholders(len(chunk))+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("store: services of cis: %w", err)
		}
		out = append(out, got...)
	}
	if out == nil {
		return []string{}, nil
	}
	return slices.Compact(slices.Sorted(slices.Values(out))), nil
}

// CreateBaseline freezes the current revision of each of cis under a unique
// name. Creating it again with the same release and the same CIs returns the
// existing baseline, whatever happened to the CIs since; another release or
// set is ErrBaselineExists. An unknown CI is ErrNotFound, naming it.
func (s *Store) CreateBaseline(ctx context.Context, name, release string, cis []string, by string, at time.Time) (Baseline, error) {
	if name == "" {
		return Baseline{}, errors.New("store: create baseline: empty name")
	}
	ids := slices.Compact(slices.Sorted(slices.Values(cis)))
	if len(ids) == 0 {
		return Baseline{}, fmt.Errorf("store: create baseline %s: no CIs", name)
	}
	at = cmdbTime(at)
	var out Baseline
	err := s.write(ctx, func(tx *gorm.DB) error {
		existing, found, err := baselines(ctx, tx, `WHERE b.name = ?`, name)
		if err != nil {
			return err
		}
		if found {
			return sameBaseline(existing[0], release, ids, &out)
		}
		items := make([]CI, 0, len(ids))
		for _, id := range ids {
			ci, found, err := oneCI(ctx, tx, currentCISQL+` WHERE c.id = ?`, id)
			if err != nil {
				return err
			}
			if !found {
				return fmt.Errorf("ci %s: %w", id, ErrNotFound)
			}
			items = append(items, ci)
		}
		var bid int64
		err = query(ctx, tx, func(r *sql.Rows) error { return r.Scan(&bid) },
			`INSERT INTO baselines (name, release_id, created_by, created_at) VALUES (?, ?, ?, ?)
			 ON CONFLICT (name) DO NOTHING RETURNING id`, name, release, by, at)
		if err != nil {
			return err
		}
		if bid == 0 {
			// Created concurrently (PostgreSQL): judge that one instead.
			existing, _, err := baselines(ctx, tx, `WHERE b.name = ?`, name)
			if err != nil {
				return err
			}
			return sameBaseline(existing[0], release, ids, &out)
		}
		for _, ci := range items {
			snap, err := json.Marshal(ci)
			if err != nil {
				return err
			}
			if err := tx.Exec(`INSERT INTO baseline_items (baseline_id, ci_id, rev, snapshot) VALUES (?, ?, ?, ?)`,
				bid, ci.ID, ci.Rev, string(snap)).Error; err != nil {
				return fmt.Errorf("ci %s: %w", ci.ID, err)
			}
		}
		out = Baseline{ID: bid, Name: name, Release: release, CreatedBy: by, CreatedAt: at, Items: items}
		return nil
	})
	if err != nil {
		return Baseline{}, fmt.Errorf("store: create baseline %s: %w", name, err)
	}
	return out, nil
}

func sameBaseline(b Baseline, release string, ids []string, out *Baseline) error {
	have := make([]string, len(b.Items))
	for i, it := range b.Items {
		have[i] = it.ID
	}
	if b.Release != release || !slices.Equal(have, ids) {
		return ErrBaselineExists
	}
	*out = b
	return nil
}

// baselines reads the baselines selected by where (on baselines b), oldest
// first, with their items.
func baselines(ctx context.Context, db *gorm.DB, where string, args ...any) ([]Baseline, bool, error) {
	var out []Baseline
	err := query(ctx, db, func(r *sql.Rows) error {
		var b Baseline
		if err := r.Scan(&b.ID, &b.Name, &b.Release, &b.CreatedBy, &b.CreatedAt); err != nil {
			return err
		}
		b.CreatedAt = b.CreatedAt.UTC()
		b.Items = []CI{}
		out = append(out, b)
		return nil
	}, `SELECT b.id, b.name, b.release_id, b.created_by, b.created_at FROM baselines b `+where+` ORDER BY b.id`, args...)
	if err != nil || len(out) == 0 {
		return out, false, err
	}
	index := make(map[int64]int, len(out))
	for i, b := range out {
		index[b.ID] = i
	}
	err = query(ctx, db, func(r *sql.Rows) error {
		var (
			bid  int64
			snap string
		)
		if err := r.Scan(&bid, &snap); err != nil {
			return err
		}
		ci, err := decodeCI(snap)
		if err != nil {
			return err
		}
		b := &out[index[bid]]
		b.Items = append(b.Items, ci)
		return nil
	}, `SELECT i.baseline_id, i.snapshot FROM baseline_items i
		JOIN baselines b ON b.id = i.baseline_id `+where+` ORDER BY i.baseline_id, i.ci_id`, args...)
	return out, true, err
}

// GetBaseline returns a baseline by name, or ErrNotFound.
func (s *Store) GetBaseline(ctx context.Context, name string) (Baseline, error) {
	out, found, err := baselines(ctx, s.rdb, `WHERE b.name = ?`, name)
	if err != nil {
		return Baseline{}, fmt.Errorf("store: get baseline %s: %w", name, err)
	}
	if !found {
		return Baseline{}, fmt.Errorf("store: baseline %s: %w", name, ErrNotFound)
	}
	return out[0], nil
}

// ListBaselines returns the baselines of a release (every baseline when
// release is ""), oldest first, with their items.
func (s *Store) ListBaselines(ctx context.Context, release string) ([]Baseline, error) {
	where, args := ``, []any(nil)
	if release != "" {
		where, args = `WHERE b.release_id = ?`, []any{release}
	}
	out, _, err := baselines(ctx, s.rdb, where, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list baselines: %w", err)
	}
	if out == nil {
		out = []Baseline{}
	}
	return out, nil
}
