package store

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func testCI(id, typ string, rels ...Relation) CI {
	return CI{
		ID: id, Type: typ, Name: strings.ToUpper(id), Owner: "olga", Status: "active", Version: "1.0",
		Location: "tokyo-dc1", Attributes: map[string]string{"env": "prod"}, Relations: rels,
	}
}

func dep(to string) Relation    { return Relation{Type: RelDependsOn, To: to} }
func runs(to string) Relation   { return Relation{Type: RelRunsOn, To: to} }
func partOf(to string) Relation { return Relation{Type: RelPartOf, To: to} }

// checkCI compares a CI read back with what was written and the revision
// metadata it should carry.
func checkCI(t *testing.T, got, want CI, rev int64, changeID, by string, at time.Time) {
	t.Helper()
	want, err := normalizeCI(want)
	if err != nil {
		t.Fatal(err)
	}
	if !sameContent(got, want) {
		t.Errorf("ci content\n got %+v\nwant %+v", got, want)
	}
	if got.Rev != rev || got.ChangeID != changeID || got.UpdatedBy != by || !got.UpdatedAt.Equal(at) ||
		got.UpdatedAt.Location() != time.UTC {
		t.Errorf("ci %s metadata rev %d change %q by %q at %v, want rev %d change %q by %q at %v",
			got.ID, got.Rev, got.ChangeID, got.UpdatedBy, got.UpdatedAt, rev, changeID, by, at)
	}
}

func countRows(t *testing.T, s *Store, q string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := s.db.Raw(q, args...).Row().Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestRegisterCIIdempotent(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, s *Store) {
		ctx := ctxT(t)
		// The target is registered later: the configuration may list CIs
		// in any order.
		app := testCI("app-1", "application", runs("vm-1"), dep("db-1"))
		got, err := s.RegisterCI(ctx, app, "config", t0)
		if err != nil {
			t.Fatal(err)
		}
		checkCI(t, got, app, 1, "", "config", t0)
		if !slices.Equal(got.Relations, []Relation{dep("db-1"), runs("vm-1")}) {
			t.Errorf("relations not sorted by type: %v", got.Relations)
		}

		// Again, relations in another order: the same registration.
		again := app
		again.Relations = []Relation{runs("vm-1"), dep("db-1"), runs("vm-1")}
		if got, err := s.RegisterCI(ctx, again, "someone-else", t0.Add(time.Hour)); err != nil {
			t.Fatalf("identical registration: %v", err)
		} else {
			checkCI(t, got, app, 1, "", "config", t0)
		}
		if n := countRows(t, s, `SELECT COUNT(*) FROM ci_revisions WHERE ci_id = 'app-1'`); n != 1 {
			t.Errorf("%d revisions after an identical registration, want 1", n)
		}

		for name, mutate := range map[string]func(*CI){
			"version":   func(c *CI) { c.Version = "2.0" },
			"attribute": func(c *CI) { c.Attributes = map[string]string{"env": "staging"} },
			"relation":  func(c *CI) { c.Relations = []Relation{dep("db-1")} },
			"owner":     func(c *CI) { c.Owner = "mallory" },
		} {
			other := app
			other.Attributes = maps.Clone(app.Attributes)
			mutate(&other)
			if _, err := s.RegisterCI(ctx, other, "config", t0); !errors.Is(err, ErrCIExists) {
				t.Errorf("different %s: %v, want ErrCIExists", name, err)
			}
		}

		// After a change moved the CI on, the configuration's original
		// registration still passes and returns the current state.
		v2 := app
		v2.Version = "2.0"
		if _, err := s.WriteCI(ctx, v2, "CHG-000001", "bob", t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if got, err := s.RegisterCI(ctx, app, "config", t0.Add(2*time.Hour)); err != nil {
			t.Errorf("original registration after a change: %v", err)
		} else {
			checkCI(t, got, v2, 2, "CHG-000001", "bob", t0.Add(time.Hour))
		}

		got, err = s.GetCI(ctx, "app-1")
		if err != nil {
			t.Fatal(err)
		}
		checkCI(t, got, v2, 2, "CHG-000001", "bob", t0.Add(time.Hour))
		if _, err := s.GetCI(ctx, "db-1"); !errors.Is(err, ErrNotFound) {
			t.Errorf("unregistered relation target: %v, want ErrNotFound", err)
		}

		for name, bad := range map[string]CI{
			"no id":         {Type: "server"},
			"no type":       {ID: "x"},
			"relation type": testCI("x", "server", Relation{Type: "likes", To: "y"}),
			"no target":     testCI("x", "server", Relation{Type: RelDependsOn}),
			"self":          testCI("x", "server", dep("x")),
		} {
			if _, err := s.RegisterCI(ctx, bad, "config", t0); err == nil {
				t.Errorf("%s: registered", name)
			}
		}
	})
}

func TestListCIs(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, s *Store) {
		ctx := ctxT(t)
		for _, ci := range []CI{
			testCI("vm-2", "server"), testCI("app-1", "application"), testCI("vm-1", "server"),
			{ID: "db-1", Type: "database", Name: "基幹データベース", Status: "retired"},
		} {
			if _, err := s.RegisterCI(ctx, ci, "config", t0); err != nil {
				t.Fatal(err)
			}
		}
		ids := func(q CIQuery) []string {
			t.Helper()
			got, err := s.ListCIs(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			out := []string{}
			for _, ci := range got {
				out = append(out, ci.ID)
			}
			return out
		}
		for _, c := range []struct {
			q    CIQuery
			want []string
		}{
			{CIQuery{}, []string{"app-1", "db-1", "vm-1", "vm-2"}},
			{CIQuery{Type: "server"}, []string{"vm-1", "vm-2"}},
			{CIQuery{Status: "retired"}, []string{"db-1"}},
			{CIQuery{Q: "VM-"}, []string{"vm-1", "vm-2"}},
			{CIQuery{Q: "データ"}, []string{"db-1"}},
			{CIQuery{Q: "%"}, []string{}},
			{CIQuery{Limit: 2}, []string{"app-1", "db-1"}},
			{CIQuery{Limit: 2, After: "db-1"}, []string{"vm-1", "vm-2"}},
		} {
			if got := ids(c.q); !slices.Equal(got, c.want) {
				t.Errorf("%+v: %v, want %v", c.q, got, c.want)
			}
		}
		all, _ := s.ListCIs(ctx, CIQuery{Type: "application"})
		if len(all) != 1 || all[0].Attributes["env"] != "prod" || all[0].Relations == nil {
			t.Errorf("listed CI %+v", all)
		}
	})
}

func TestWriteCIRevisions(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, s *Store) {
		ctx := ctxT(t)
		app := testCI("app-1", "application", dep("db-1"))
		for _, ci := range []CI{app, testCI("db-1", "database"), testCI("vm-1", "server")} {
			if _, err := s.RegisterCI(ctx, ci, "config", t0); err != nil {
				t.Fatal(err)
			}
		}

		if _, err := s.WriteCI(ctx, app, "", "bob", t0); err == nil {
			t.Error("WriteCI without a change id succeeded")
		}

		// The change moves the application to a VM: its relations are
		// replaced, not merged.
		v2 := app
		v2.Version, v2.Relations = "2.0", []Relation{runs("vm-1")}
		t1 := t0.Add(time.Hour)
		got, err := s.WriteCI(ctx, v2, "CHG-000001", "bob", t1)
		if err != nil {
			t.Fatal(err)
		}
		checkCI(t, got, v2, 2, "CHG-000001", "bob", t1)

		// A retried activity, even with other content, returns the
		// revision the change already wrote.
		retry := v2
		retry.Version = "2.1"
		got, err = s.WriteCI(ctx, retry, "CHG-000001", "bob", t1.Add(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		checkCI(t, got, v2, 2, "CHG-000001", "bob", t1)

		v3 := v2
		v3.Version, v3.Status = "3.0", "retired"
		t2 := t0.Add(2 * time.Hour)
		if got, err := s.WriteCI(ctx, v3, "CHG-000002", "carol", t2); err != nil {
			t.Fatal(err)
		} else {
			checkCI(t, got, v3, 3, "CHG-000002", "carol", t2)
		}

		// A change may add a CI.
		lb := testCI("lb-1", "load_balancer", dep("app-1"))
		if got, err := s.WriteCI(ctx, lb, "CHG-000001", "bob", t1); err != nil {
			t.Fatal(err)
		} else {
			checkCI(t, got, lb, 1, "CHG-000001", "bob", t1)
		}

		revs, err := s.CIRevisions(ctx, "app-1")
		if err != nil {
			t.Fatal(err)
		}
		if len(revs) != 3 {
			t.Fatalf("%d revisions, want 3: %+v", len(revs), revs)
		}
		checkCI(t, revs[0], app, 1, "", "config", t0)
		checkCI(t, revs[1], v2, 2, "CHG-000001", "bob", t1)
		checkCI(t, revs[2], v3, 3, "CHG-000002", "carol", t2)
		if cur, _ := s.GetCI(ctx, "app-1"); !sameContent(cur, revs[2]) || cur.Rev != 3 {
			t.Errorf("current %+v is not the last revision", cur)
		}
		if _, err := s.CIRevisions(ctx, "nope"); !errors.Is(err, ErrNotFound) {
			t.Errorf("revisions of an unknown CI: %v, want ErrNotFound", err)
		}

		byChange, err := s.CIRevisionsByChange(ctx, "CHG-000001")
		if err != nil {
			t.Fatal(err)
		}
		if len(byChange) != 2 || byChange[0].ID != "app-1" || byChange[0].Rev != 2 ||
			byChange[1].ID != "lb-1" || byChange[1].Rev != 1 {
			t.Errorf("revisions of CHG-000001: %+v", byChange)
		}
		if none, err := s.CIRevisionsByChange(ctx, "CHG-000009"); err != nil || len(none) != 0 || none == nil {
			t.Errorf("revisions of an unknown change: %v %v", none, err)
		}
		if regs, _ := s.CIRevisionsByChange(ctx, ""); len(regs) != 3 {
			t.Errorf("%d registrations, want 3", len(regs))
		}

		// The relation graph follows the current revision only.
		if n := countRows(t, s, `SELECT COUNT(*) FROM ci_relations WHERE ci_id = 'app-1'`); n != 1 {
			t.Errorf("%d relations of app-1, want 1", n)
		}
		if imp, err := s.Impact(ctx, "db-1"); err != nil || len(imp.CIs) != 0 {
			t.Errorf("db-1 still impacts %+v (%v) after the relation was replaced", imp.CIs, err)
		}
		if imp, err := s.Impact(ctx, "vm-1"); err != nil || len(imp.CIs) != 2 {
			t.Errorf("vm-1 impact %+v (%v), want app-1 and lb-1", imp.CIs, err)
		}
	})
}

func TestCMDBEvidenceIsAppendOnly(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, s *Store) {
		ctx := ctxT(t)
		ci := testCI("app-1", "application")
		if _, err := s.RegisterCI(ctx, ci, "config", t0); err != nil {
			t.Fatal(err)
		}
		if _, err := s.CreateBaseline(ctx, "bl-1", "REL-000001", []string{"app-1"}, "bob", t0); err != nil {
			t.Fatal(err)
		}
		for _, q := range []string{
			`UPDATE ci_revisions SET change_id = 'CHG-000666' WHERE ci_id = 'app-1'`,
			`UPDATE ci_revisions SET snapshot = '{}'`,
			`DELETE FROM ci_revisions WHERE ci_id = 'app-1'`,
			`DELETE FROM ci_revisions`,
			`UPDATE baselines SET release_id = 'REL-000666'`,
			`DELETE FROM baselines`,
			`UPDATE baseline_items SET rev = 7`,
			`DELETE FROM baseline_items`,
		} {
			err := s.db.Exec(q).Error
			if err == nil {
				t.Errorf("%s: succeeded", q)
			} else if !strings.Contains(err.Error(), "append-only") {
				t.Errorf("%s: %v, want the append-only error", q, err)
			}
		}
		if s.Dialect() == "postgres" {
			for _, table := range []string{"ci_revisions", "baselines", "baseline_items"} {
				if err := s.db.Exec(`TRUNCATE ` + table + ` CASCADE`).Error; err == nil {
					t.Errorf("TRUNCATE %s succeeded", table)
				}
			}
		}
		revs, err := s.CIRevisions(ctx, "app-1")
		if err != nil || len(revs) != 1 || revs[0].ChangeID != "" || revs[0].Name != "APP-1" {
			t.Errorf("revisions changed: %+v %v", revs, err)
		}
		if b, err := s.GetBaseline(ctx, "bl-1"); err != nil || b.Release != "REL-000001" || len(b.Items) != 1 || b.Items[0].Rev != 1 {
			t.Errorf("baseline changed: %+v %v", b, err)
		}
	})
}

// cmdbFixture registers a small estate with a dependency cycle:
//
//	cluster <-part_of- vm <-runs_on- app -depends_on-> db -depends_on-> batch
//	                                  ^                                  |
//	                                  +-- web <-------depends_on---------+
//
// that is app depends on db, web on app, batch on web and db on batch.
func cmdbFixture(t *testing.T, s *Store) {
	t.Helper()
	ctx := ctxT(t)
	for _, ci := range []CI{
		testCI("app", "application", dep("db"), runs("vm")),
		testCI("web", "application", dep("app")),
		testCI("batch", "application", dep("web")),
		testCI("db", "database", dep("batch")),
		testCI("vm", "server", partOf("cluster")),
		testCI("cluster", "cluster"),
		testCI("printer", "printer"),
	} {
		if _, err := s.RegisterCI(ctx, ci, "config", t0); err != nil {
			t.Fatal(err)
		}
	}
	for svc, cis := range map[string][]string{
		"mail":   {"app"},
		"portal": {"web"},
		"infra":  {"cluster"},
		"print":  {"printer"},
	} {
		if err := s.SetServiceCIs(ctx, svc, cis); err != nil {
			t.Fatal(err)
		}
	}
}

func TestImpact(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, s *Store) {
		ctx := ctxT(t)
		cmdbFixture(t, s)

		imp, err := s.Impact(ctx, "db")
		if err != nil {
			t.Fatal(err)
		}
		want := []ImpactItem{
			{ID: "app", Type: "application", Name: "APP", Via: RelDependsOn, Depth: 1},
			{ID: "web", Type: "application", Name: "WEB", Via: RelDependsOn, Depth: 2},
			{ID: "batch", Type: "application", Name: "BATCH", Via: RelDependsOn, Depth: 3},
		}
		if imp.CI != "db" || !slices.Equal(imp.CIs, want) {
			t.Errorf("impact of db: %+v, want %+v", imp.CIs, want)
		}
		if !slices.Equal(imp.Services, []string{"mail", "portal"}) {
			t.Errorf("services impacted by db: %v", imp.Services)
		}

		// Through every relation type and round the cycle, each CI once.
		imp, err = s.Impact(ctx, "cluster")
		if err != nil {
			t.Fatal(err)
		}
		want = []ImpactItem{
			{ID: "vm", Type: "server", Name: "VM", Via: RelPartOf, Depth: 1},
			{ID: "app", Type: "application", Name: "APP", Via: RelRunsOn, Depth: 2},
			{ID: "web", Type: "application", Name: "WEB", Via: RelDependsOn, Depth: 3},
			{ID: "batch", Type: "application", Name: "BATCH", Via: RelDependsOn, Depth: 4},
			{ID: "db", Type: "database", Name: "DB", Via: RelDependsOn, Depth: 5},
		}
		if !slices.Equal(imp.CIs, want) {
			t.Errorf("impact of cluster: %+v, want %+v", imp.CIs, want)
		}
		if !slices.Equal(imp.Services, []string{"infra", "mail", "portal"}) {
			t.Errorf("services impacted by cluster: %v", imp.Services)
		}

		imp, err = s.Impact(ctx, "printer")
		if err != nil || len(imp.CIs) != 0 || imp.CIs == nil || !slices.Equal(imp.Services, []string{"print"}) {
			t.Errorf("impact of printer: %+v %v", imp, err)
		}
		if _, err := s.Impact(ctx, "nope"); !errors.Is(err, ErrNotFound) {
			t.Errorf("impact of an unknown CI: %v, want ErrNotFound", err)
		}
	})
}

func TestServiceCIs(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, s *Store) {
		ctx := ctxT(t)
		if err := s.SetServiceCIs(ctx, "mail", []string{"smtp", "app", "smtp"}); err != nil {
			t.Fatal(err)
		}
		if err := s.SetServiceCIs(ctx, "portal", []string{"web", "app"}); err != nil {
			t.Fatal(err)
		}
		if got, err := s.ServiceCIs(ctx, "mail"); err != nil || !slices.Equal(got, []string{"app", "smtp"}) {
			t.Errorf("mail: %v %v", got, err)
		}
		// The set is replaced.
		if err := s.SetServiceCIs(ctx, "mail", []string{"imap"}); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.ServiceCIs(ctx, "mail"); !slices.Equal(got, []string{"imap"}) {
			t.Errorf("mail after replacement: %v", got)
		}
		if got, err := s.ServiceCIs(ctx, "nope"); err != nil || got == nil || len(got) != 0 {
			t.Errorf("unknown service: %v %v", got, err)
		}
		if got, err := s.ServicesOfCIs(ctx, []string{"app", "imap", "web", "nope"}); err != nil ||
			!slices.Equal(got, []string{"mail", "portal"}) {
			t.Errorf("services of CIs: %v %v", got, err)
		}
		if got, err := s.ServicesOfCIs(ctx, nil); err != nil || got == nil || len(got) != 0 {
			t.Errorf("services of no CI: %v %v", got, err)
		}
		if err := s.SetServiceCIs(ctx, "", []string{"x"}); err == nil {
			t.Error("empty service id accepted")
		}
	})
}

func TestBaselines(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, s *Store) {
		ctx := ctxT(t)
		a, b := testCI("app-1", "application", dep("db-1")), testCI("db-1", "database")
		for _, ci := range []CI{a, b} {
			if _, err := s.RegisterCI(ctx, ci, "config", t0); err != nil {
				t.Fatal(err)
			}
		}
		bl, err := s.CreateBaseline(ctx, "before-REL-1", "REL-000001", []string{"db-1", "app-1", "db-1"}, "bob", t0)
		if err != nil {
			t.Fatal(err)
		}
		if bl.ID == 0 || bl.Name != "before-REL-1" || bl.Release != "REL-000001" || bl.CreatedBy != "bob" ||
			!bl.CreatedAt.Equal(t0) || len(bl.Items) != 2 || bl.Items[0].ID != "app-1" || bl.Items[1].ID != "db-1" {
			t.Fatalf("baseline %+v", bl)
		}

		// The release changes app-1; the baseline keeps what was.
		a2 := a
		a2.Version, a2.Relations = "2.0", nil
		if _, err := s.WriteCI(ctx, a2, "CHG-000001", "bob", t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetBaseline(ctx, "before-REL-1")
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != bl.ID || len(got.Items) != 2 {
			t.Fatalf("baseline read back %+v", got)
		}
		checkCI(t, got.Items[0], a, 1, "", "config", t0)
		checkCI(t, got.Items[1], b, 1, "", "config", t0)

		// Re-creating it is idempotent, and still frozen.
		again, err := s.CreateBaseline(ctx, "before-REL-1", "REL-000001", []string{"app-1", "db-1"}, "carol", t0.Add(2*time.Hour))
		if err != nil {
			t.Fatalf("re-create: %v", err)
		}
		if again.ID != bl.ID || again.CreatedBy != "bob" || len(again.Items) != 2 || again.Items[0].Rev != 1 {
			t.Errorf("re-created baseline %+v", again)
		}
		for name, c := range map[string]struct {
			release string
			cis     []string
		}{
			"other release": {"REL-000002", []string{"app-1", "db-1"}},
			"fewer CIs":     {"REL-000001", []string{"app-1"}},
		} {
			if _, err := s.CreateBaseline(ctx, "before-REL-1", c.release, c.cis, "bob", t0); !errors.Is(err, ErrBaselineExists) {
				t.Errorf("%s: %v, want ErrBaselineExists", name, err)
			}
		}

		_, err = s.CreateBaseline(ctx, "broken", "REL-000001", []string{"app-1", "ghost-9"}, "bob", t0)
		if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "ghost-9") {
			t.Errorf("unknown CI: %v, want ErrNotFound naming ghost-9", err)
		}
		if _, err := s.GetBaseline(ctx, "broken"); !errors.Is(err, ErrNotFound) {
			t.Errorf("failed baseline stored: %v", err)
		}
		if _, err := s.CreateBaseline(ctx, "empty", "REL-000001", nil, "bob", t0); err == nil {
			t.Error("baseline of no CI created")
		}

		after, err := s.CreateBaseline(ctx, "after-REL-1", "REL-000001", []string{"app-1"}, "bob", t0.Add(3*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		checkCI(t, after.Items[0], a2, 2, "CHG-000001", "bob", t0.Add(time.Hour))
		if _, err := s.CreateBaseline(ctx, "other", "REL-000002", []string{"db-1"}, "bob", t0); err != nil {
			t.Fatal(err)
		}

		names := func(release string) []string {
			t.Helper()
			bls, err := s.ListBaselines(ctx, release)
			if err != nil {
				t.Fatal(err)
			}
			out := []string{}
			for _, b := range bls {
				if len(b.Items) == 0 {
					t.Errorf("listed baseline %s without items", b.Name)
				}
				out = append(out, b.Name)
			}
			return out
		}
		if got := names("REL-000001"); !slices.Equal(got, []string{"before-REL-1", "after-REL-1"}) {
			t.Errorf("baselines of REL-000001: %v", got)
		}
		if got := names(""); len(got) != 3 {
			t.Errorf("all baselines: %v", got)
		}
		if got := names("REL-000404"); len(got) != 0 {
			t.Errorf("baselines of an unknown release: %v", got)
		}
		if _, err := s.GetBaseline(ctx, "nope"); !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown baseline: %v, want ErrNotFound", err)
		}
	})
}

// Changes writing the same CI at once, each retried, and a CI registered and
// created by several callers at once: every write lands once, revisions stay
// contiguous, and no caller sees an error.
func TestWriteCIConcurrent(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, s *Store) {
		ctx := ctxT(t)
		if _, err := s.RegisterCI(ctx, testCI("app-1", "application"), "config", t0); err != nil {
			t.Fatal(err)
		}
		const changes, tries = 6, 3
		var wg sync.WaitGroup
		errs := make(chan error, 3*changes*tries)
		for i := range changes {
			for range tries {
				wg.Go(func() {
					ci := testCI("app-1", "application")
					ci.Version = fmt.Sprintf("v%d", i)
					got, err := s.WriteCI(ctx, ci, fmt.Sprintf("CHG-%06d", i), "bob", t0)
					if err == nil && got.Version != ci.Version {
						err = fmt.Errorf("change %d got revision %+v", i, got)
					}
					if err != nil {
						errs <- err
					}
				})
				wg.Go(func() {
					if _, err := s.WriteCI(ctx, testCI("new-1", "server"), "CHG-000100", "bob", t0); err != nil {
						errs <- err
					}
				})
				wg.Go(func() {
					if _, err := s.RegisterCI(ctx, testCI("reg-1", "server"), "config", t0); err != nil {
						errs <- err
					}
				})
			}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		revs, err := s.CIRevisions(ctx, "app-1")
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for i, r := range revs {
			if r.Rev != int64(i+1) {
				t.Errorf("revision %d at position %d", r.Rev, i)
			}
			if seen[r.ChangeID] {
				t.Errorf("change %q wrote twice", r.ChangeID)
			}
			seen[r.ChangeID] = true
		}
		if len(revs) != changes+1 {
			t.Errorf("%d revisions, want %d", len(revs), changes+1)
		}
		for _, id := range []string{"new-1", "reg-1"} {
			if revs, err := s.CIRevisions(ctx, id); err != nil || len(revs) != 1 || revs[0].Rev != 1 {
				t.Errorf("%s: %+v %v", id, revs, err)
			}
		}
	})
}
