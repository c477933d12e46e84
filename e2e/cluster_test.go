package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/server/common/primitives/timestamp"
)

// clusterConfig has second-scale targets, so the SLA and approval timers
// fire while the test runs: a P1 incident nobody touches escalates at 3 s
// and 6 s (response), is warned at 5 s, breaches resolution at 10 s and
// goes to top management at 20 s; a resolved incident closes itself after
// 8 s; a change waits 6 s, then 12 s, for its approvers before escalating.
const clusterConfig = `
users:
  - {id: admin, name: Ada Admin, email: admin@example.com, roles: [admin], token: admin-token}
  - {id: alice, name: Alice Agent, email: alice@example.com, roles: [agent], token: alice-token}
  - {id: bob, name: Bob Second, email: bob@example.com, roles: [agent], token: bob-token}
  - {id: carl, name: Carl Third, email: carl@example.com, roles: [agent], token: carl-token}
  - {id: mona, name: Mona Manager, email: mona@example.com, roles: [agent], token: mona-token}
  - {id: tess, name: Tess Top, email: tess@example.com, roles: [process_owner], token: tess-token}
  - {id: cab1, name: Cab One, email: cab1@example.com, roles: [agent], token: cab1-token}
  - {id: cab2, name: Cab Two, email: cab2@example.com, roles: [agent], token: cab2-token}
groups:
  - {id: service-desk, name: Service desk, members: [alice], manager: mona}
  - {id: second-line, name: Second line, members: [bob], manager: mona}
  - {id: third-line, name: Third line, members: [carl], manager: mona}
  - {id: cab, name: CAB, members: [cab1, cab2], manager: tess}
  - {id: ecab, name: ECAB, members: [cab1], manager: tess}
services:
  - {id: email, name: Corporate email, owner: mona}
top_management: [tess]
sla:
  targets:
    P1: {response: 3s, resolution: 10s}
    P2: {response: 1h, resolution: 2h}
    P3: {response: 4h, resolution: 3d}
    P4: {response: 8h, resolution: 5d}
  warning: 0.5
escalation:
  functional: [service-desk, second-line, third-line]
auto_close_after: 8s
change_policy:
  standard_changes: [password reset]
  approvers:
    normal: {group: cab, quorum: 2}
    emergency: {group: ecab, quorum: 1}
    major: {group: cab, quorum: 2}
  approval_timeout: 6s
`

// The scenarios of the scale-out test, and how many cases of each it runs.
const (
	clusterP1Breach  = "p1-breach"  // incident nobody starts: every SLA timer fires
	clusterAutoClose = "auto-close" // incident started and resolved: closes by its timer
	clusterConfirm   = "confirm"    // incident assigned, started, resolved, confirmed
	clusterStandard  = "standard"   // standard change through to closed
	clusterApproved  = "approved"   // normal change approved by two, through to closed
	clusterRejected  = "rejected"   // normal change rejected
	clusterWaiting   = "waiting"    // normal change left waiting: approval escalations fire
)

var clusterMix = []struct {
	scenario string
	n        int
}{
	{clusterP1Breach, 70}, {clusterAutoClose, 65}, {clusterConfirm, 65},
	{clusterStandard, 25}, {clusterApproved, 25}, {clusterRejected, 25}, {clusterWaiting, 25},
}

// TestClusterScaleOut runs Kanri as separate processes against a Temporal
// cluster on PostgreSQL: one `kanri server` and two `kanri worker`, the
// built binary, on one PostgreSQL application database. It opens a few
// hundred incidents and changes through the API, kills one worker with
// SIGKILL while they run, and then shows that every case reached its
// expected state, that no history entry was recorded twice, and that no
// timer was lost. .ci/cluster starts the cluster; .ci/run sets both
// variables.
func TestClusterScaleOut(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: needs a Temporal cluster")
	}
	frontend := os.Getenv("KANRI_TEST_TEMPORAL_CLUSTER")
	admin := os.Getenv("KANRI_TEST_POSTGRES_URL")
	switch {
	case frontend == "":
		t.Skip("KANRI_TEST_TEMPORAL_CLUSTER is not set: the frontend host:port of a Temporal cluster (.ci/cluster starts one)")
	case admin == "":
		t.Skip("KANRI_TEST_POSTGRES_URL is not set: the scale-out test needs PostgreSQL (.ci/postgres starts one)")
	}
	began := time.Now()
	bin := clusterBuildKanri(t)
	built := time.Since(began)
	// A namespace and a task queue of this run's own: case ids restart at
	// 000001 in each fresh database, and workflow ids must not meet the
	// cases of earlier runs on the same cluster.
	suffix := clusterRandom()
	namespace, taskQueue := "kanri-e2e-"+suffix, "kanri-e2e-"+suffix
	clusterNamespace(t, frontend, namespace, taskQueue)
	dbURL := freshPostgres(t, admin)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "kanri.yaml")
	if err := os.WriteFile(cfgPath, []byte(clusterConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	common := []string{"--config", cfgPath, "--database-url", dbURL, "--log-level", "warn"}
	engine := []string{"--temporal-address", frontend, "--temporal-namespace", namespace, "--task-queue", taskQueue}

	if out, err := exec.Command(bin, append([]string{"migrate"}, common...)...).CombinedOutput(); err != nil {
		t.Fatalf("kanri migrate: %v\n%s", err, out)
	}
	server := clusterStart(t, bin, dir, "server", append(append([]string{"server"}, common...), engine...))
	workerA := clusterStart(t, bin, dir, "worker-a", append(append([]string{"worker"}, common...), engine...))
	workerB := clusterStart(t, bin, dir, "worker-b", append(append([]string{"worker"}, common...), engine...))
	for _, p := range []*clusterProc{server, workerA, workerB} {
		p.waitReady(t, time.Minute)
	}
	t.Logf("kanri built in %s; namespace %s registered, server and two workers ready %s later",
		built.Round(time.Millisecond), namespace, (time.Since(began) - built).Round(time.Millisecond))

	api := &clusterAPI{base: "http://" + server.addr, hc: &http.Client{
		Timeout:   70 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 32},
	}}
	var all []*clusterCase
	for i := 0; ; i++ {
		added := false
		for _, m := range clusterMix {
			if i < m.n {
				all = append(all, clusterNewCase(m.scenario, i))
				added = true
			}
		}
		if !added {
			break
		}
	}

	// The load: 16 callers work through the cases, each case's actions in
	// order. Once a third of the cases have started, worker A is killed.
	loadStart := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	killAt := int64(len(all) / 3)
	killed := make(chan clusterKill, 1)
	for range 16 {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(len(all)) {
					return
				}
				if i == killAt {
					go func() { killed <- clusterKillWorker(workerA) }()
				}
				all[i].run(api)
			}
		})
	}
	wg.Wait()
	kill := <-killed
	loadTook := time.Since(loadStart)
	if kill.err != nil {
		t.Fatalf("killing worker A: %v", kill.err)
	}
	t.Logf("load: %d cases opened and driven in %s; worker A (pid %d) had projected %.0f transitions when it was killed with SIGKILL %s into the load",
		len(all), loadTook.Round(time.Millisecond), kill.pid, kill.transitions, kill.at.Sub(loadStart).Round(time.Millisecond))
	var failed []string
	retries, held := 0, 0
	var slowest time.Duration
	for _, c := range all {
		retries += c.retries
		slowest = max(slowest, c.slowest)
		if c.slowest > 4*time.Second {
			held++ // held up by the killed worker: its sticky queue or its unfinished task timed out
		}
		if c.err != nil {
			failed = append(failed, fmt.Sprintf("%s %s (%s): %v", c.kind, c.id, c.scenario, c.err))
		}
	}
	if len(failed) > 0 {
		t.Fatalf("%d of %d cases failed while the load ran:\n%s", len(failed), len(all), strings.Join(clusterFirst(failed, 20), "\n"))
	}

	// Every case reaches its expected state. The last timers are due 20 s
	// after the last P1 incident opened; a worker's death delays the tasks
	// it held by the workflow task timeout (10 s) at most.
	deadline := time.Now().Add(90 * time.Second)
	pending := slices.Clone(all)
	for len(pending) > 0 && time.Now().Before(deadline) {
		var still []*clusterCase
		for _, c := range pending {
			if !c.settled(api) {
				still = append(still, c)
			}
		}
		pending = still
		if len(pending) > 0 {
			time.Sleep(time.Second)
		}
	}
	if len(pending) > 0 {
		var lines []string
		for _, c := range pending {
			lines = append(lines, fmt.Sprintf("%s %s (%s): %s", c.kind, c.id, c.scenario, c.last))
		}
		t.Fatalf("%d of %d cases did not reach their expected state within 90 s after the load (a lost timer or a stuck case):\n%s",
			len(pending), len(all), strings.Join(clusterFirst(lines, 20), "\n"))
	}
	settledAfter := time.Since(loadStart)

	// Their histories: each seq once, in order; no entry twice; exactly
	// the transitions of the scenario, timers included.
	var problems []string
	counts := map[string]int{}
	timers, raced := 0, 0
	var lateness time.Duration
	for _, c := range all {
		h, err := api.history(c.kind, c.id)
		if err != nil {
			t.Fatalf("history of %s: %v", c.id, err)
		}
		for i, e := range h {
			counts[e.Action]++
			if e.Seq != int64(i+1) {
				problems = append(problems, fmt.Sprintf("%s: entry %d has seq %d (seqs %v)", c.id, i, e.Seq, clusterSeqs(h)))
				break
			}
		}
		seen := map[string]bool{}
		for _, e := range h {
			key := e.Actor + "|" + e.Action + "|" + e.From + "|" + e.To + "|" + string(e.Detail)
			if seen[key] {
				problems = append(problems, fmt.Sprintf("%s: %s by %s (%s -> %s) is recorded twice", c.id, e.Action, e.Actor, e.From, e.To))
			}
			seen[key] = true
		}
		n, late, p := c.checkHistory(h)
		timers += n
		lateness = max(lateness, late)
		if p != "" {
			problems = append(problems, fmt.Sprintf("%s %s (%s): %s; history %v", c.kind, c.id, c.scenario, p, clusterActions(h)))
		}
		if c.scenario == clusterConfirm && slices.ContainsFunc(h, func(e clusterEntry) bool { return e.Action == "auto_close" }) {
			raced++
		}
	}
	if len(problems) > 0 {
		t.Fatalf("%d problems in the histories:\n%s", len(problems), strings.Join(clusterFirst(problems, 20), "\n"))
	}

	// One case per open: the lists hold exactly the cases opened.
	opened := map[string]int{}
	for _, c := range all {
		opened[c.kind]++
	}
	for kind, want := range opened {
		if got := api.count(t, kind); got != want {
			t.Errorf("GET /api/v1/%s lists %d cases, want %d", kind, got, want)
		}
	}
	// The surviving processes took over: their projections went on.
	after := 0.0
	for _, p := range []*clusterProc{server, workerB} {
		v, err := p.transitions()
		if err != nil {
			t.Fatalf("%s metrics: %v", p.name, err)
		}
		after += v
	}
	if after == 0 {
		t.Fatal("the server and worker B projected no transitions")
	}
	t.Logf("all %d cases reached their expected state %s after the load began; %d history entries (%v); "+
		"%d timer-driven transitions (SLA breaches and warnings, hierarchical escalations, auto-closes, approval escalations), latest %s after its due time; "+
		"%d cases had an action held up more than 4 s (longest %s), %d API calls were retried, %d confirms were overtaken by the auto-close timer; "+
		"%d transitions projected by the server and worker B",
		len(all), settledAfter.Round(time.Millisecond), clusterSum(counts), counts, timers, lateness.Round(time.Millisecond),
		held, slowest.Round(time.Millisecond), retries, raced, int(after))
}

// clusterBuildKanri builds cmd/kanri into a temporary directory.
func clusterBuildKanri(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "kanri")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/kanri")
	cmd.Dir = ".." // the module root; tests run in their package's directory
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/kanri: %v\n%s", err, out)
	}
	return bin
}

func clusterRandom() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// clusterNamespace registers a namespace of the run's own and returns once
// the frontend serves it.
func clusterNamespace(t *testing.T, frontend, namespace, taskQueue string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := client.DialContext(ctx, client.Options{HostPort: frontend, Namespace: namespace, Logger: clusterQuiet{}})
	if err != nil {
		t.Fatalf("dial the cluster at %s: %v", frontend, err)
	}
	defer c.Close()
	_, err = c.WorkflowService().RegisterNamespace(ctx, &workflowservice.RegisterNamespaceRequest{
		Namespace: namespace, Description: "e2e/cluster_test.go", WorkflowExecutionRetentionPeriod: timestamp.DurationPtr(24 * time.Hour),
	})
	if err != nil {
		t.Fatalf("register namespace %s: %v", namespace, err)
	}
	for {
		_, err := c.DescribeTaskQueue(ctx, taskQueue, enumspb.TASK_QUEUE_TYPE_WORKFLOW)
		var nf *serviceerror.NamespaceNotFound
		if err == nil || !errors.As(err, &nf) {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("namespace %s is not served a minute after it was registered: %v", namespace, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// clusterQuiet keeps the SDK client's log out of the test output.
type clusterQuiet struct{}

func (clusterQuiet) Debug(string, ...any) {}
func (clusterQuiet) Info(string, ...any)  {}
func (clusterQuiet) Warn(string, ...any)  {}
func (clusterQuiet) Error(string, ...any) {}

// clusterProc is one kanri process.
type clusterProc struct {
	name, addr, logPath string
	cmd                 *exec.Cmd
	done                chan struct{}
}

// clusterStart starts the binary on an HTTP port it picks itself (a port
// picked here and released could be taken before the process binds it);
// waitReady learns it from the ready line of its log. The test's cleanup
// stops it, and shows the end of its log when the test failed.
func clusterStart(t *testing.T, bin, dir, name string, args []string) *clusterProc {
	t.Helper()
	p := &clusterProc{name: name, logPath: filepath.Join(dir, name+".log")}
	logFile, err := os.Create(p.logPath)
	if err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(bin, append(args, "--http", "127.0.0.1:0")...)
	p.cmd.Stdout, p.cmd.Stderr = logFile, logFile
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start kanri %s: %v", name, err)
	}
	p.done = make(chan struct{})
	go func() {
		_ = p.cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-p.done:
			case <-time.After(20 * time.Second):
				_ = p.cmd.Process.Kill()
				<-p.done
			}
		}
		if t.Failed() {
			b, _ := os.ReadFile(p.logPath)
			t.Logf("the end of kanri %s's log:\n%s", name, clusterTail(b, 30))
		}
	})
	return p
}

// readyLine is where a kanri process's ready line names its HTTP address:
// "Kanri is ready in ...  API: http://ADDR/api/v1" or "kanri worker is
// ready in ...: health and metrics on http://ADDR".
var readyLine = regexp.MustCompile(`(?s)ready in .*?http://(127\.0\.0\.1:[0-9]+)`)

// waitReady reads the process's address from its log, then polls /readyz
// until it answers 200.
func (p *clusterProc) waitReady(t *testing.T, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			b, _ := os.ReadFile(p.logPath)
			t.Fatalf("kanri %s exited while starting: %s\n%s", p.name, p.cmd.ProcessState, clusterTail(b, 30))
		default:
		}
		if p.addr == "" {
			b, _ := os.ReadFile(p.logPath)
			if m := readyLine.FindSubmatch(b); m != nil {
				p.addr = string(m[1])
			}
			time.Sleep(100 * time.Millisecond)
			continue
		}
		res, err := http.Get("http://" + p.addr + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("kanri %s is not ready after %s", p.name, within)
}

// transitions is the process's kanri_transitions_total, summed over its labels.
func (p *clusterProc) transitions() (float64, error) {
	res, err := http.Get("http://" + p.addr + "/metrics")
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(res.Body)
		return 0, fmt.Errorf("GET /metrics: %d %s", res.StatusCode, clusterTail(b, 5))
	}
	sum := 0.0
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "kanri_transitions_total") {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			return 0, fmt.Errorf("%q: %w", line, err)
		}
		sum += v
	}
	return sum, sc.Err()
}

type clusterKill struct {
	pid         int
	at          time.Time
	transitions float64
	err         error
}

// clusterKillWorker waits until the worker has projected transitions of its
// own (so it holds work), then kills it with SIGKILL: no shutdown, no
// answer to the tasks it holds.
func clusterKillWorker(p *clusterProc) clusterKill {
	k := clusterKill{pid: p.cmd.Process.Pid}
	deadline := time.Now().Add(30 * time.Second)
	for {
		v, err := p.transitions()
		if err != nil {
			k.err = err
			return k
		}
		if v > 0 {
			k.transitions = v
			break
		}
		if time.Now().After(deadline) {
			k.err = errors.New("worker A projected no transition in 30 s: it takes no work")
			return k
		}
		time.Sleep(100 * time.Millisecond)
	}
	k.at = time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		k.err = err
		return k
	}
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		k.err = errors.New("worker A still runs 10 s after SIGKILL")
	}
	if s := p.cmd.ProcessState; k.err == nil && (s == nil || s.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL) {
		k.err = fmt.Errorf("worker A ended otherwise than by SIGKILL: %v", s)
	}
	return k
}

// clusterAPI calls the HTTP API; it returns errors instead of failing the
// test, so the load's goroutines can use it.
type clusterAPI struct {
	base string
	hc   *http.Client
}

func (a *clusterAPI) call(method, path, token string, body any, key string) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, a.base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	res, err := a.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, b, err
}

func (a *clusterAPI) record(kind, id string) (map[string]any, error) {
	status, b, err := a.call("GET", "/api/v1/"+kind+"/"+id, "admin-token", nil, "")
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %d %s", id, status, b)
	}
	var m map[string]any
	return m, json.Unmarshal(b, &m)
}

type clusterEntry struct {
	Seq    int64           `json:"seq"`
	At     time.Time       `json:"at"`
	Actor  string          `json:"actor"`
	Action string          `json:"action"`
	From   string          `json:"from"`
	To     string          `json:"to"`
	Detail json.RawMessage `json:"detail"`
}

func (a *clusterAPI) history(kind, id string) ([]clusterEntry, error) {
	status, b, err := a.call("GET", "/api/v1/"+kind+"/"+id+"/history", "admin-token", nil, "")
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("GET %s/history: %d %s", id, status, b)
	}
	var h struct {
		Items []clusterEntry `json:"items"`
	}
	return h.Items, json.Unmarshal(b, &h)
}

// count pages through a kind's list.
func (a *clusterAPI) count(t *testing.T, kind string) int {
	t.Helper()
	n, cursor := 0, ""
	for {
		status, b, err := a.call("GET", "/api/v1/"+kind+"?limit=200&cursor="+cursor, "admin-token", nil, "")
		if err != nil || status != http.StatusOK {
			t.Fatalf("list %s: %d %v %s", kind, status, err, b)
		}
		var page struct {
			Items      []json.RawMessage `json:"items"`
			NextCursor string            `json:"next_cursor"`
		}
		if err := json.Unmarshal(b, &page); err != nil {
			t.Fatal(err)
		}
		n += len(page.Items)
		if page.NextCursor == "" {
			return n
		}
		cursor = page.NextCursor
	}
}

// clusterStep is one action of a scenario and the status it leads to.
type clusterStep struct {
	token  string
	action map[string]any
	want   string
	// orClosed: a 409 is fine when the case has closed by itself (a
	// confirm overtaken by the auto-close timer when the worker's death
	// held the case up).
	orClosed bool
}

// clusterCase is one case of the load and what became of it.
type clusterCase struct {
	kind, scenario string
	open           map[string]any
	openWant       string
	steps          []clusterStep
	id             string
	retries        int
	slowest        time.Duration // the longest action, waits for retries included
	err            error
	last           string // what the last look at the record showed
}

func clusterNewCase(scenario string, i int) *clusterCase {
	title := fmt.Sprintf("%s #%d", scenario, i)
	incident := func(impact, urgency string, steps ...clusterStep) *clusterCase {
		return &clusterCase{kind: "incidents", scenario: scenario, openWant: "logged", steps: steps, open: map[string]any{
			"title": title, "description": "scale-out test", "service": "email", "impact": impact, "urgency": urgency,
		}}
	}
	change := func(typ, want string, steps ...clusterStep) *clusterCase {
		open := map[string]any{"title": title, "description": "scale-out test", "type": typ, "backout_plan": "restore the snapshot"}
		if typ == "standard" {
			open = map[string]any{"title": title, "type": typ, "standard_change": "password reset"}
		}
		return &clusterCase{kind: "changes", scenario: scenario, openWant: want, steps: steps, open: open}
	}
	act := func(token, want string, kv ...any) clusterStep {
		a := map[string]any{}
		for j := 0; j+1 < len(kv); j += 2 {
			a[kv[j].(string)] = kv[j+1]
		}
		return clusterStep{token: token, action: a, want: want}
	}
	start := time.Now().UTC().Add(24 * time.Hour).Truncate(time.Hour)
	window := []any{"action", "schedule", "start", start.Format(time.RFC3339), "end", start.Add(time.Hour).Format(time.RFC3339)}
	assess := []any{"action", "assess", "risk", "low", "impact", "none", "benefit", "b", "feasibility", "f", "cost", "c", "security", "s"}
	implement := []clusterStep{
		act("alice-token", "scheduled", window...),
		act("alice-token", "implementing", "action", "implement"),
		act("alice-token", "completed", "action", "complete", "success", true, "notes", "done"),
		act("tess-token", "reviewed", "action", "review", "summary", "as planned"),
		act("alice-token", "closed", "action", "close"),
	}
	switch scenario {
	case clusterP1Breach:
		return incident("high", "high")
	case clusterAutoClose:
		return incident("low", "low",
			act("alice-token", "in_progress", "action", "start"),
			act("alice-token", "resolved", "action", "resolve", "resolution", "fixed"))
	case clusterConfirm:
		confirm := act("alice-token", "closed", "action", "confirm")
		confirm.orClosed = true
		return incident("low", "low",
			act("alice-token", "assigned", "action", "assign", "group", "second-line", "assignee", "bob"),
			act("bob-token", "in_progress", "action", "start"),
			act("bob-token", "resolved", "action", "resolve", "resolution", "fixed"),
			confirm)
	case clusterStandard:
		return change("standard", "approved", implement...)
	case clusterApproved:
		return change("normal", "requested", append([]clusterStep{
			act("alice-token", "assessed", assess...),
			act("alice-token", "awaiting_approval", "action", "submit"),
			act("cab1-token", "awaiting_approval", "action", "approve", "comment", "ok"),
			act("cab2-token", "approved", "action", "approve", "comment", "ok too"),
		}, implement...)...)
	case clusterRejected:
		return change("normal", "requested",
			act("alice-token", "assessed", assess...),
			act("alice-token", "awaiting_approval", "action", "submit"),
			act("cab1-token", "rejected", "action", "reject", "comment", "not now"))
	case clusterWaiting:
		return change("normal", "requested",
			act("alice-token", "assessed", assess...),
			act("alice-token", "awaiting_approval", "action", "submit"))
	}
	panic("unknown scenario " + scenario)
}

// clusterRetryable: the request may not have been applied, or was applied
// and its answer lost; with its Idempotency-Key it is safe to send again.
func clusterRetryable(status int, err error) bool {
	return err != nil || status == http.StatusServiceUnavailable || status == http.StatusBadGateway ||
		status == http.StatusGatewayTimeout || status == http.StatusInternalServerError
}

// run opens the case and takes it through its steps.
func (c *clusterCase) run(a *clusterAPI) {
	status, b, err := a.call("POST", "/api/v1/"+c.kind, "alice-token", c.open, "")
	if err != nil || status != http.StatusCreated {
		// Opening takes no Idempotency-Key: a retry could open a second case.
		c.err = fmt.Errorf("open: %d %v %s", status, err, b)
		return
	}
	var rec map[string]any
	if err := json.Unmarshal(b, &rec); err != nil {
		c.err = err
		return
	}
	c.id, _ = rec["id"].(string)
	if rec["status"] != c.openWant {
		c.err = fmt.Errorf("opened in status %v, want %s", rec["status"], c.openWant)
		return
	}
	for i, s := range c.steps {
		key := fmt.Sprintf("%s/%d/%s", c.id, i, s.action["action"])
		began := time.Now()
		deadline := began.Add(2 * time.Minute)
		for {
			status, b, err = a.call("POST", "/api/v1/"+c.kind+"/"+c.id+"/actions", s.token, s.action, key)
			if !clusterRetryable(status, err) || time.Now().After(deadline) {
				break
			}
			c.retries++
			time.Sleep(500 * time.Millisecond)
		}
		c.slowest = max(c.slowest, time.Since(began))
		if status == http.StatusConflict && s.orClosed {
			if r, gerr := a.record(c.kind, c.id); gerr == nil && r["status"] == "closed" {
				return
			}
		}
		if err != nil || status != http.StatusOK {
			c.err = fmt.Errorf("%s: %d %v %s", s.action["action"], status, err, b)
			return
		}
		if err := json.Unmarshal(b, &rec); err != nil {
			c.err = err
			return
		}
		if rec["status"] != s.want {
			c.err = fmt.Errorf("%s: status %v, want %s", s.action["action"], rec["status"], s.want)
			return
		}
	}
}

// settled reports whether the case is in its final expected state; timers
// included.
func (c *clusterCase) settled(a *clusterAPI) bool {
	r, err := a.record(c.kind, c.id)
	if err != nil {
		c.last = err.Error()
		return false
	}
	sla, _ := r["sla"].(map[string]any)
	breached, _ := sla["breached"].([]any)
	c.last = fmt.Sprintf("status %v, escalation_level %v, hierarchical_level %v, group %v, sla %v, approval_escalation %v",
		r["status"], r["escalation_level"], r["hierarchical_level"], r["group"], sla, r["approval_escalation"])
	switch c.scenario {
	case clusterP1Breach:
		return r["status"] == "logged" && r["escalation_level"] == 2.0 && r["group"] == "third-line" &&
			r["hierarchical_level"] == 2.0 && sla["warned"] == true &&
			slices.Contains(breached, any("response")) && slices.Contains(breached, any("resolution"))
	case clusterAutoClose, clusterConfirm:
		return r["status"] == "closed" && len(breached) == 0
	case clusterStandard, clusterApproved:
		return r["status"] == "closed"
	case clusterRejected:
		return r["status"] == "rejected"
	case clusterWaiting:
		return r["status"] == "awaiting_approval" && r["approval_escalation"] == 2.0
	}
	return false
}

// checkHistory compares a settled case's history with its scenario. It
// returns how many of its entries timers made, how late the latest of the
// SLA ones came, and what is wrong ("" when nothing).
func (c *clusterCase) checkHistory(h []clusterEntry) (timers int, late time.Duration, problem string) {
	acts := clusterActions(h)
	// Approval escalations come when approvers take longer than
	// approval_timeout, as they may while a worker's death holds the case.
	var core []string
	levels := map[string]int{}
	for _, e := range h {
		if e.Action == "approval_escalated" {
			var d struct {
				Level string `json:"level"`
			}
			_ = json.Unmarshal(e.Detail, &d)
			levels[d.Level]++
			timers++
			continue
		}
		if e.Actor == "system" {
			timers++
		}
		core = append(core, e.Action)
	}
	for level, n := range levels {
		if n > 1 {
			return timers, 0, fmt.Sprintf("approval escalated to %s %d times", level, n)
		}
	}
	want := map[string][]string{
		clusterAutoClose: {"open", "start", "resolve", "auto_close"},
		clusterConfirm:   {"open", "assign", "start", "resolve", "confirm"},
		clusterStandard:  {"open", "schedule", "implement", "complete", "review", "close"},
		clusterApproved:  {"open", "assess", "submit", "approve", "approve", "schedule", "implement", "complete", "review", "close"},
		clusterRejected:  {"open", "assess", "submit", "reject"},
		clusterWaiting:   {"open", "assess", "submit"},
	}
	switch c.scenario {
	case clusterP1Breach:
		got := map[string]int{}
		for _, a := range acts {
			got[a]++
		}
		if exp := map[string]int{"open": 1, "sla_breach": 3, "sla_warning": 1, "escalate_hierarchical": 1}; !maps.Equal(got, exp) {
			return timers, 0, fmt.Sprintf("transitions %v, want %v", got, exp)
		}
		created := h[0].At
		for _, e := range h {
			var d struct {
				Target string `json:"target"`
			}
			_ = json.Unmarshal(e.Detail, &d)
			if e.Action == "sla_breach" && d.Target == "resolution" {
				late = max(late, e.At.Sub(created.Add(10*time.Second)))
			}
			if e.Action == "escalate_hierarchical" {
				late = max(late, e.At.Sub(created.Add(20*time.Second)))
			}
		}
	case clusterConfirm:
		// Either the confirm, or the auto-close timer that overtook it.
		if !slices.Equal(core, want[clusterConfirm]) && !slices.Equal(core, []string{"open", "assign", "start", "resolve", "auto_close"}) {
			return timers, 0, fmt.Sprintf("transitions %v, want %v", core, want[clusterConfirm])
		}
	case clusterWaiting:
		if !slices.Equal(core, want[clusterWaiting]) || levels["manager"] != 1 || levels["top_management"] != 1 {
			return timers, 0, fmt.Sprintf("transitions %v and approval escalations %v, want %v and one each to manager and top_management",
				core, levels, want[clusterWaiting])
		}
	default:
		if !slices.Equal(core, want[c.scenario]) {
			return timers, 0, fmt.Sprintf("transitions %v, want %v", core, want[c.scenario])
		}
	}
	return timers, late, ""
}

func clusterActions(h []clusterEntry) []string {
	out := make([]string, len(h))
	for i, e := range h {
		out[i] = e.Action
	}
	return out
}

func clusterSeqs(h []clusterEntry) []int64 {
	out := make([]int64, len(h))
	for i, e := range h {
		out[i] = e.Seq
	}
	return out
}

func clusterSum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func clusterFirst(lines []string, n int) []string {
	if len(lines) > n {
		return append(lines[:n:n], fmt.Sprintf("... and %d more", len(lines)-n))
	}
	return lines
}

func clusterTail(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
