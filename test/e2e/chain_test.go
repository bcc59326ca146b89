package e2e

// The restore chain: a seeded random sequence of writes, backups and restores of every kind
// against one cluster, checked step by step against a model of the table's rows and of the
// cluster's timelines. See TestChain.

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cmd"
	"github.com/kubectl-pgo/kubectl-pgo/test/e2e/framework"
)

// Environment variables of the chain test.
const (
	chainSeedEnv  = "KPGO_CHAIN_SEED"  // the seed to replay; random when unset
	chainStepsEnv = "KPGO_CHAIN_STEPS" // how many steps; chainDefaultSteps when unset
)

// chainDefaultSteps is the length of a CI run: with chainObligations it holds at least
// chainMinRestores restores.
const (
	chainDefaultSteps = 25
	chainMinRestores  = 4
	chainInitialRows  = 2000
)

// chainChecksumSQL is the whole table's checksum, as "count|md5" ("0|" when it is empty).
const chainChecksumSQL = `SELECT count(*) || '|' || coalesce(md5(string_agg(t::text, ',' ORDER BY id)), '') FROM chain t`

// timelineSQL is the timeline the running database writes on.
const timelineSQL = `SELECT ('x'||substr(pg_walfile_name(pg_current_wal_lsn()),1,8))::bit(32)::int`

// chainPointSQL records a point: the time (after the commit before it, as a --pitr-target),
// the timeline, and the table's checksum.
const chainPointSQL = `SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00', ` +
	`('x'||substr(pg_walfile_name(pg_current_wal_lsn()),1,8))::bit(32)::int, ` +
	`count(*) || '|' || coalesce(md5(string_agg(t::text, ',' ORDER BY id)), '') FROM chain t`

// chainSum is what chainChecksumSQL returns for rows.
func chainSum(rows map[int]string) string {
	if len(rows) == 0 {
		return "0|"
	}
	ids := make([]int, 0, len(rows))
	for id := range rows {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var b strings.Builder
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "(%d,%s)", id, rows[id])
	}
	sum := md5.Sum([]byte(b.String()))
	return fmt.Sprintf("%d|%s", len(ids), hex.EncodeToString(sum[:]))
}

// Kinds of events in a timeline's history.
const (
	evWrite       = "write"        // a batch of inserts, updates and deletes: a commit, a point
	evTick        = "tick"         // a commit in another table, so that a time target has a commit after it
	evRestored    = "restored"     // the first point of a timeline, just after its restore
	evDumpRestore = "dump-restore" // a pg_dump restored into the table: commits, a point
	evBackup      = "backup"       // a pgBackRest backup
	evBaseBackup  = "base-backup"  // a pg_basebackup backup
	evDump        = "dump"         // a pg_dump backup
)

// chainEvent is one thing that happened on a timeline.
type chainEvent struct {
	seq    int
	kind   string
	tl     int  // the timeline it happened on
	commit bool // it wrote a commit record into the WAL
	// A point: the time after it (a --pitr-target), the table's rows then and their checksum.
	at   string
	rows map[int]string
	sum  string
	// A backup's label (pgBackRest) or name (pg_basebackup, pg_dump), and pgBackRest's type.
	label, typ string
}

func (e *chainEvent) String() string {
	s := fmt.Sprintf("#%d %s on timeline %d", e.seq, e.kind, e.tl)
	if e.label != "" {
		s += " " + e.label
	}
	if e.at != "" {
		s += " at " + e.at
	}
	return s
}

// chainModel is what the cluster must hold: the table's rows, and the history of every timeline
// as the ordered events that a recovery along it replays.
//
// A restore makes timeline maxTL+1, whose history is a prefix of the history of the timeline
// recovered along (the target timeline), followed by its own events:
//   - to the latest point: the whole history of the current timeline;
//   - to a point in time T (a point P): the target timeline's history up to, not including, the
//     first commit after P, since PostgreSQL stops before the first commit later than T. A backup
//     between P and that commit would lie on one side of the fork or the other depending on
//     commits the model does not see (autovacuum's), so such a P is never a target;
//   - a pg_basebackup restore: the history of the backup's timeline up to the backup.
//
// A point P can be reached without --target-timeline when it lies on the current timeline's
// history; otherwise the restore must be refused without it, and with --target-timeline=P's
// timeline it reaches P along that timeline's history. A backup reaches the current timeline
// when it lies on the current timeline's history.
type chainModel struct {
	rng    *rand.Rand
	rows   map[int]string
	nextID int
	seq    int
	cur    int // the current timeline, the highest in the archive
	maxTL  int
	hist   map[int][]*chainEvent
	// parent is the timeline a timeline forked off: the one its switch point lies on, where the
	// recovery that made it stopped (show backup's parent; PostgreSQL's history file names the
	// target timeline of the recovery instead, which differs when it stopped on an ancestor).
	parent map[int]int
	// backups are pgBackRest's; bases and dumps are the base backups and the dumps.
	backups, bases, dumps []*chainEvent
	// abandon asks the next point-in-time restore for a target that abandons a point.
	abandon bool
}

func newChainModel(seed uint64) *chainModel {
	m := &chainModel{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), rows: map[int]string{},
		cur: 1, maxTL: 1, hist: map[int][]*chainEvent{1: nil}, parent: map[int]int{}}
	for id := 1; id <= chainInitialRows; id++ {
		sum := md5.Sum([]byte(strconv.Itoa(id)))
		m.rows[id] = hex.EncodeToString(sum[:])[:8]
	}
	m.nextID = chainInitialRows + 1
	return m
}

// add appends an event to the current timeline.
func (m *chainModel) add(e *chainEvent) *chainEvent {
	m.seq++
	e.seq, e.tl = m.seq, m.cur
	m.hist[m.cur] = append(m.hist[m.cur], e)
	return e
}

// point makes e a point with the model's rows.
func (m *chainModel) point(e *chainEvent, at string) *chainEvent {
	e.at, e.rows, e.sum = at, cloneRows(m.rows), chainSum(m.rows)
	return e
}

func cloneRows(rows map[int]string) map[int]string {
	out := make(map[int]string, len(rows))
	for k, v := range rows {
		out[k] = v
	}
	return out
}

// onHistory tells whether e lies on the history of timeline tl.
func (m *chainModel) onHistory(e *chainEvent, tl int) bool {
	return slices.Contains(m.hist[tl], e)
}

// fork returns the history a restore to point p along timeline tl keeps: tl's history up to the
// first commit after p. ok is false when p cannot be a target along tl: p is not on its history,
// no backup before p is, no commit follows p (unless assumeTick: one is about to be made on the
// current timeline), or a pgBackRest backup lies between p and that commit.
func (m *chainModel) fork(p *chainEvent, tl int, assumeTick bool) (prefix []*chainEvent, ok bool) {
	h := m.hist[tl]
	i := slices.Index(h, p)
	if i < 0 || !slices.ContainsFunc(h[:i], func(e *chainEvent) bool { return e.kind == evBackup }) {
		return nil, false
	}
	j := i + 1
	for j < len(h) && !h[j].commit {
		if h[j].kind == evBackup {
			return nil, false
		}
		j++
	}
	if j == len(h) && !(assumeTick && tl == m.cur) {
		return nil, false
	}
	return h[:j], true
}

// forkedOff returns the timeline a point-in-time restore to tg forks off: the one of the first
// commit after the point on tg's history, before which the recovery stops, or the current
// timeline when that commit is the tick made just before the restore.
func (m *chainModel) forkedOff(tg chainTarget) int {
	if h := m.hist[tg.tl]; len(tg.prefix) < len(h) {
		return h[len(tg.prefix)].tl
	}
	return m.cur
}

// chainTarget is a point to restore to, along a timeline.
type chainTarget struct {
	p  *chainEvent
	tl int
	// needsTL: p is not on the current timeline's history, so the restore needs
	// --target-timeline=tl and must be refused without it.
	needsTL bool
	prefix  []*chainEvent
}

// targets are the points a point-in-time restore can reach: along the current timeline, or,
// for a point off its history, along the point's own timeline.
func (m *chainModel) targets(assumeTick bool) (current, abandoned []chainTarget) {
	for tl := 1; tl <= m.maxTL; tl++ {
		for _, p := range m.hist[tl] {
			if p.tl != tl || p.at == "" {
				continue // each point once, from its own timeline
			}
			if m.onHistory(p, m.cur) {
				if prefix, ok := m.fork(p, m.cur, assumeTick); ok {
					current = append(current, chainTarget{p: p, tl: m.cur, prefix: prefix})
				}
			} else if prefix, ok := m.fork(p, tl, assumeTick); ok {
				abandoned = append(abandoned, chainTarget{p: p, tl: tl, needsTL: true, prefix: prefix})
			}
		}
	}
	return current, abandoned
}

// abandoning are the targets on the current timeline with a later point after them: a restore
// to one abandons that point.
func (m *chainModel) abandoning(assumeTick bool) []chainTarget {
	cur, _ := m.targets(assumeTick)
	h := m.hist[m.cur]
	var out []chainTarget
	for _, tg := range cur {
		i := slices.Index(h, tg.p)
		if slices.ContainsFunc(h[i+1:], func(e *chainEvent) bool { return e.at != "" }) {
			out = append(out, tg)
		}
	}
	return out
}

// restored records a restore that made a new timeline with the history prefix, recovered along
// the target timeline parent, with rows.
func (m *chainModel) restored(prefix []*chainEvent, parent int, rows map[int]string) int {
	m.maxTL++
	m.hist[m.maxTL] = slices.Clone(prefix)
	m.parent[m.maxTL] = parent
	m.cur = m.maxTL
	m.rows = cloneRows(rows)
	return m.cur
}

// batch makes a write: inserts, updates and deletes, as SQL, applied to the model.
func (m *chainModel) batch() (sql, desc string) {
	word := func() string {
		const letters = "abcdefghijklmnopqrstuvwxyz0123456789"
		b := make([]byte, 8)
		for i := range b {
			b[i] = letters[m.rng.IntN(len(letters))]
		}
		return string(b)
	}
	existing := func() []int {
		ids := make([]int, 0, len(m.rows))
		for id := range m.rows {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		return ids
	}
	var ins, upd, del []string
	for n := 1 + m.rng.IntN(40); n > 0; n-- {
		v := word()
		ins = append(ins, fmt.Sprintf("(%d,'%s')", m.nextID, v))
		m.rows[m.nextID] = v
		m.nextID++
	}
	ids := existing()
	updated := map[int]bool{}
	for n := m.rng.IntN(25); n > 0 && len(ids) > 0; n-- {
		id := ids[m.rng.IntN(len(ids))]
		if updated[id] {
			continue // one new value per row: UPDATE ... FROM takes one of several at random
		}
		updated[id] = true
		v := word()
		upd = append(upd, fmt.Sprintf("(%d,'%s')", id, v))
		m.rows[id] = v
	}
	ids = existing()
	for n := m.rng.IntN(15); n > 0 && len(ids) > 0; n-- {
		k := m.rng.IntN(len(ids))
		del = append(del, strconv.Itoa(ids[k]))
		delete(m.rows, ids[k])
		ids = slices.Delete(ids, k, k+1)
	}
	var b strings.Builder
	b.WriteString("BEGIN; INSERT INTO chain (id, v) VALUES " + strings.Join(ins, ",") + ";")
	if len(upd) > 0 {
		b.WriteString(" UPDATE chain SET v = x.v FROM (VALUES " + strings.Join(upd, ",") + ") AS x(id, v) WHERE chain.id = x.id;")
	}
	if len(del) > 0 {
		b.WriteString(" DELETE FROM chain WHERE id IN (" + strings.Join(del, ",") + ");")
	}
	b.WriteString(" COMMIT; " + chainPointSQL)
	return b.String(), fmt.Sprintf("%d inserts, %d updates, %d deletes", len(ins), len(upd), len(del))
}

// Kinds of steps.
const (
	stepWrite       = "write"
	stepBackup      = "backup"
	stepPITR        = "pitr"
	stepPITRAbandon = "pitr-abandoned" // a point-in-time restore off the current timeline's history
	stepLatest      = "restore-latest"
	stepRestoreFrom = "restore-from"
	stepDrill       = "restore-drill"
	stepBaseBackup  = "pgbasebackup"
	stepBaseRestore = "pgbasebackup-restore"
	stepDump        = "pgdump"
	stepDumpRestore = "pgdump-restore"
)

// chainObligations are the steps every run of chainDefaultSteps or more holds at least once.
var chainObligations = []string{stepPITR, stepPITRAbandon, stepLatest, stepRestoreFrom, stepDumpRestore, stepBaseRestore}

// chainWeights are the odds of each step in the random part of a run.
var chainWeights = []struct {
	step   string
	weight int
}{
	{stepWrite, 30}, {stepBackup, 14}, {stepPITR, 10}, {stepPITRAbandon, 8}, {stepLatest, 7},
	{stepRestoreFrom, 3}, {stepDrill, 2}, {stepBaseBackup, 4}, {stepBaseRestore, 3}, {stepDump, 4}, {stepDumpRestore, 3},
}

// feasible tells whether a step can run now.
func (m *chainModel) feasible(step string) bool {
	switch step {
	case stepPITR, stepDrill:
		cur, _ := m.targets(true)
		return len(cur) > 0
	case stepPITRAbandon:
		_, ab := m.targets(true)
		return len(ab) > 0
	case stepRestoreFrom:
		cur, ab := m.targets(true)
		return len(cur)+len(ab) > 0
	case stepBaseRestore:
		return len(m.bases) > 0
	case stepDumpRestore:
		return len(m.dumps) > 0
	}
	return true
}

// next picks the next step: at random by chainWeights, unless the steps left are only just
// enough for the obligations not met yet, in which case it makes the first of them possible.
func (m *chainModel) next(left int, done map[string]int) string {
	var pending []string
	cost := 0
	for _, ob := range chainObligations {
		if done[ob] > 0 {
			continue
		}
		pending = append(pending, ob)
		switch {
		case ob == stepPITRAbandon && !m.feasible(ob) && len(m.abandoning(true)) == 0:
			cost += 4 // a write, a backup, a restore to an earlier point, then this
		case ob == stepPITRAbandon && !m.feasible(ob):
			cost += 2 // a restore to an earlier point, then this
		case !m.feasible(ob):
			cost += 2
		default:
			cost++
		}
	}
	if len(pending) > 0 && left <= cost+1 {
		for _, ob := range pending {
			if m.feasible(ob) {
				return ob
			}
		}
		switch ob := pending[0]; ob {
		case stepBaseRestore:
			return stepBaseBackup
		case stepDumpRestore:
			return stepDump
		case stepPITRAbandon:
			// A restore to an earlier point of the current timeline abandons the points after it.
			if len(m.abandoning(true)) > 0 {
				m.abandon = true
				return stepPITR
			}
		}
		return stepWrite
	}
	total := 0
	for _, w := range chainWeights {
		total += w.weight
	}
	for {
		n := m.rng.IntN(total)
		for _, w := range chainWeights {
			if n -= w.weight; n < 0 {
				if m.feasible(w.step) {
					return w.step
				}
				break
			}
		}
	}
}

// chainShow is what the chain test reads of show backup -o json.
type chainShow struct {
	Repository *struct {
		Backups []struct {
			Label                  string `json:"label"`
			Type                   string `json:"type"`
			Timeline               *int   `json:"timeline"`
			ReachesCurrentTimeline *bool  `json:"reachesCurrentTimeline"`
			TimelineNote           string `json:"timelineNote"`
		} `json:"backups"`
		CurrentTimeline int `json:"currentTimeline"`
		Timelines       []struct {
			ID      int    `json:"id"`
			Parent  int    `json:"parent"`
			ForkLSN string `json:"forkLSN"`
		} `json:"timelines"`
	} `json:"repository"`
}

// showBackups runs show backup -o json.
func (c *restoreCluster) showBackups(t *testing.T) chainShow {
	t.Helper()
	res := c.env.PGO(t, "show", "backup", c.name, "-n", c.ns, "-o", "json")
	var s chainShow
	if res.ExitCode != 0 {
		t.Fatalf("show backup failed:\n%s", res)
	}
	if err := json.Unmarshal([]byte(res.Stdout), &s); err != nil || s.Repository == nil {
		t.Fatalf("show backup -o json (%v):\n%s", err, res.Stdout)
	}
	return s
}

// pointNow records the current time, timeline and checksum.
func (c *restoreCluster) pointNow(t *testing.T, query string) (at string, tl int, sum string) {
	t.Helper()
	row := c.one(t, query)
	f := strings.SplitN(row, "|", 3)
	if len(f) != 3 {
		t.Fatalf("point %q: %q", query, row)
	}
	return f[0], mustAtoi(t, f[1]), f[2]
}

// refusedUnchanged runs a command that must be refused with an error containing want, and
// checks that it changed nothing: no object of the namespace, the database's rows and timeline.
func (c *restoreCluster) refusedUnchanged(t *testing.T, snap *snapshotter, args []string, want ...string) framework.Result {
	t.Helper()
	before, state := snap.settle(t), c.state(t)
	sum, tl := c.one(t, chainChecksumSQL), c.one(t, timelineSQL)
	res := c.env.PGO(t, args...)
	t.Logf("refused (exit %d): %s", res.ExitCode, strings.TrimSpace(res.Stderr))
	if res.ExitCode == 0 {
		t.Errorf("kubectl pgo %s succeeded, want a refusal:\n%s", strings.Join(args, " "), res)
	}
	for _, w := range want {
		if !strings.Contains(res.Stderr, w) {
			t.Errorf("kubectl pgo %s: stderr lacks %q:\n%s", strings.Join(args, " "), w, res.Stderr)
		}
	}
	if d := snapshotDiff(before, snap.take(t)); len(d) > 0 {
		t.Errorf("kubectl pgo %s changed the namespace: %v", strings.Join(args, " "), d)
	}
	if after := c.state(t); after != state {
		t.Errorf("kubectl pgo %s touched the database: %+v, before %+v", strings.Join(args, " "), after, state)
	}
	if got := c.one(t, chainChecksumSQL); got != sum {
		t.Errorf("kubectl pgo %s changed the rows: checksum %s, before %s", strings.Join(args, " "), got, sum)
	}
	if got := c.one(t, timelineSQL); got != tl {
		t.Errorf("kubectl pgo %s changed the timeline: %s, before %s", strings.Join(args, " "), got, tl)
	}
	return res
}

// chainRun is one run of the chain against one cluster; dry, it only runs the model (to test
// the generator without a cluster).
type chainRun struct {
	env  *framework.Env
	c    *restoreCluster
	m    *chainModel
	snap *snapshotter
	dry  bool
	log  []string
	// running is the step that runs, for the log when it fails.
	running string
	done    map[string]int
	// copies counts the clusters restored from the chain's; refusals the refusals checked.
	copies, refusals int
}

func (r *chainRun) logf(format string, args ...any) {
	r.log = append(r.log, fmt.Sprintf(format, args...))
}

// chainParams reads the seed and the number of steps from the environment.
func chainParams(t *testing.T) (seed uint64, steps int) {
	seed = uint64(time.Now().UnixNano())
	if s := os.Getenv(chainSeedEnv); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q is not a number", chainSeedEnv, s)
		}
		seed = n
	}
	steps = chainDefaultSteps
	if s := os.Getenv(chainStepsEnv); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("%s=%q is not a positive number", chainStepsEnv, s)
		}
		steps = n
	}
	return seed, steps
}

// TestChain runs the restore chain on a local repository and on an S3-only one, in parallel:
// the same seeded sequence of steps (KPGO_CHAIN_SEED replays one, KPGO_CHAIN_STEPS sets its
// length) against a model of the table and of the timelines, checked after every step.
func TestChain(t *testing.T) {
	t.Parallel()
	seed, steps := chainParams(t)
	t.Logf("restore chain: seed %d, %d steps (replay: %s=%d %s=%d)", seed, steps, chainSeedEnv, seed, chainStepsEnv, steps)
	for _, repo := range []string{"local", "s3"} {
		t.Run(repo, func(t *testing.T) {
			t.Parallel()
			env := framework.Setup(t)
			args := []string{"create", "cluster", "chain", "--wait", "--timeout=5m",
				// Nothing expires: every backup stays a possible start, every WAL segment stays.
				"--pgbackrest-repo-retention-full=9999"}
			var ns string
			if repo == "s3" {
				var s3 *framework.S3Server
				var bucket string
				env, s3, ns, bucket = s3Setup(t)
				args = append(append(args, "--pgbackrest-storage-type=s3"), s3.Flags(bucket, "s3-keys", "s3-ca")...)
			} else {
				ns = env.Namespace(t)
			}
			if res := env.PGO(t, append(args, "-n", ns)...); res.ExitCode != 0 {
				t.Fatalf("create cluster failed:\n%s", res)
			}
			r := &chainRun{env: env, c: &restoreCluster{env: env, ns: ns, name: "chain"}, m: newChainModel(seed), done: map[string]int{}}
			r.runAll(t, seed, steps)
		})
	}
}

// TestChainGenerator runs the chain's model alone, without a cluster, for many seeds: every run
// of the CI's length holds every obligation and at least chainMinRestores restores.
func TestChainGenerator(t *testing.T) {
	total := map[string]int{}
	for seed := uint64(1); seed <= 100; seed++ {
		r := &chainRun{c: &restoreCluster{name: "dry"}, m: newChainModel(seed), dry: true, done: map[string]int{}}
		r.runAll(t, seed, chainDefaultSteps)
		for k, v := range r.done {
			total[k] += v
		}
		if t.Failed() {
			t.Fatalf("seed %d:\n%s", seed, strings.Join(r.log, "\n"))
		}
	}
	t.Logf("steps of 100 runs of %d: %v", chainDefaultSteps, total)
	for _, seed := range []uint64{1} {
		r := &chainRun{c: &restoreCluster{name: "dry"}, m: newChainModel(seed), dry: true, done: map[string]int{}}
		r.runAll(t, seed, 200)
		t.Logf("seed %d, 200 steps: %v, timelines 1..%d", seed, r.done, r.m.maxTL)
	}
}

// runAll runs the setup and the steps, and checks that the generator kept its promises.
func (r *chainRun) runAll(t *testing.T, seed uint64, steps int) {
	m, c := r.m, r.c
	start := time.Now()
	if !r.dry {
		t.Cleanup(func() {
			if r.running != "" {
				r.logf("%s FAILED", r.running)
			}
			t.Logf("restore chain, seed %d, %d steps, %s (replay: %s=%d %s=%d); step log:\n%s", seed, steps,
				time.Since(start).Round(time.Second), chainSeedEnv, seed, chainStepsEnv, steps, strings.Join(r.log, "\n"))
		})
		c.sql(t, fmt.Sprintf("CREATE TABLE chain (id int PRIMARY KEY, v text NOT NULL); CREATE TABLE chain_tick (at timestamptz);"+
			" INSERT INTO chain SELECT g, left(md5(g::text), 8) FROM generate_series(1, %d) g", chainInitialRows))
	}
	at, tl, sum := r.point(t, chainPointSQL)
	p := m.point(m.add(&chainEvent{kind: evWrite, commit: true}), at)
	r.checkPoint(t, tl, sum, p)
	r.logf("  0 %-21s %s, %s: the first rows", "setup", p, p.sum)
	r.sleep()
	r.backup(t, "full")
	if !r.dry {
		r.snap = newSnapshotter(t, r.env, c.ns)
	}
	// As after every step: a point recorded in the second the backup ended would be before
	// the earliest point a restore can reach (the backup's stop time has whole seconds).
	r.sleep()

	for i := 1; i <= steps; i++ {
		step := m.next(steps-i+1, r.done)
		stepStart := time.Now()
		r.running = fmt.Sprintf("%3d %-21s", i, step)
		detail := r.run(t, step)
		r.running = ""
		r.done[step]++
		r.logf("%3d %-21s %s [%s]", i, step, detail, time.Since(stepStart).Round(100*time.Millisecond))
		if !r.dry {
			t.Logf("step %d/%d: %s: %s", i, steps, step, detail)
		}
		if t.Failed() {
			t.FailNow()
		}
		r.sleep()
	}
	restores := r.done[stepPITR] + r.done[stepPITRAbandon] + r.done[stepLatest] + r.done[stepBaseRestore]
	if !r.dry {
		t.Logf("restore chain done: %d steps, %d in-place restores, %d pg_dump restores, %d new clusters, %d drills, %d refusals, timelines 1..%d, %s",
			steps, restores, r.done[stepDumpRestore], r.copies, r.done[stepDrill], r.refusals, m.maxTL, time.Since(start).Round(time.Second))
	}
	if steps >= chainDefaultSteps {
		if restores < chainMinRestores {
			t.Errorf("the generator made %d in-place restores in %d steps, want at least %d", restores, steps, chainMinRestores)
		}
		for _, ob := range chainObligations {
			if r.done[ob] == 0 {
				t.Errorf("the generator made no %s step in %d steps", ob, steps)
			}
		}
	}
	r.checkBackups(t)
}

// sleep puts more than a second between a point and the next commit or backup: times in the
// archive and in pgBackRest's backup list are in seconds.
func (r *chainRun) sleep() {
	if !r.dry {
		time.Sleep(1100 * time.Millisecond)
	}
}

// point records a point in the database, after running sql (which ends with chainPointSQL).
func (r *chainRun) point(t *testing.T, sql string) (at string, tl int, sum string) {
	t.Helper()
	if r.dry {
		return fmt.Sprintf("T%d", r.m.seq+1), r.m.cur, chainSum(r.m.rows)
	}
	return r.c.pointNow(t, sql)
}

// pgo runs kubectl pgo, and fails the test unless it succeeds; dry, it does nothing.
func (r *chainRun) pgo(t *testing.T, args ...string) framework.Result {
	t.Helper()
	if r.dry {
		return framework.Result{}
	}
	res := r.env.PGO(t, args...)
	if res.ExitCode != 0 {
		t.Fatalf("kubectl pgo %s failed:\n%s", strings.Join(args, " "), res)
	}
	return res
}

// run runs one step and returns what it did.
func (r *chainRun) run(t *testing.T, step string) string {
	m, c := r.m, r.c
	switch step {
	case stepWrite:
		sql, desc := m.batch()
		at, tl, sum := r.point(t, sql)
		p := m.point(m.add(&chainEvent{kind: evWrite, commit: true}), at)
		r.checkPoint(t, tl, sum, p)
		return fmt.Sprintf("%s: %s, %s", p, desc, p.sum)
	case stepBackup:
		return r.backup(t, []string{"full", "diff", "incr"}[m.rng.IntN(3)])
	case stepBaseBackup, stepDump:
		return r.logicalBackup(t, step)
	case stepDumpRestore:
		d := m.dumps[m.rng.IntN(len(m.dumps))]
		res := r.pgo(t, "restore", c.name, "-n", c.ns, "--backup-type=pgdump", "--backup-name="+d.label, "--yes")
		_ = res
		m.rows = cloneRows(d.rows)
		at, tl, sum := r.point(t, chainPointSQL)
		p := m.point(m.add(&chainEvent{kind: evDumpRestore, commit: true}), at)
		r.checkPoint(t, tl, sum, p)
		return fmt.Sprintf("%s: %s, %s", d, p, p.sum)
	}

	// Every restore starts with a commit on the current timeline, after its last point: a
	// recovery to that point stops there, and the timeline, if abandoned, ends with it.
	if !r.dry {
		c.sql(t, "INSERT INTO chain_tick VALUES (clock_timestamp())")
	}
	m.add(&chainEvent{kind: evTick, commit: true})
	switch step {
	case stepPITR, stepPITRAbandon:
		cur, ab := m.targets(false)
		pool := cur
		if step == stepPITRAbandon {
			pool = ab
		} else if m.abandon {
			pool, m.abandon = m.abandoning(false), false
		}
		if len(pool) == 0 {
			t.Fatalf("%s: no target (the generator was wrong)", step)
		}
		return r.pitr(t, pool[m.rng.IntN(len(pool))])
	case stepLatest:
		want := cloneRows(m.rows)
		if !r.dry {
			c.restore(t)
		}
		return r.afterRestore(t, "to the latest point", m.hist[m.cur], m.cur, want)
	case stepBaseRestore:
		b := m.bases[m.rng.IntN(len(m.bases))]
		if !r.dry {
			c.restoreBase(t, "--backup-name="+b.label)
		}
		h := m.hist[b.tl]
		return r.afterRestore(t, "of "+b.String(), h[:slices.Index(h, b)+1], b.tl, b.rows)
	case stepRestoreFrom:
		return r.restoreFrom(t)
	case stepDrill:
		return r.drill(t)
	}
	t.Fatalf("unknown step %q", step)
	return ""
}

// checkPoint compares a point the database reported with the model's.
func (r *chainRun) checkPoint(t *testing.T, tl int, sum string, p *chainEvent) {
	t.Helper()
	if tl != r.m.cur {
		t.Errorf("%s: the database is on timeline %d, the model on %d", p, tl, r.m.cur)
	}
	if sum != p.sum {
		t.Errorf("%s: checksum %s, the model says %s", p, sum, p.sum)
	}
}

// backup takes a pgBackRest backup of type typ.
func (r *chainRun) backup(t *testing.T, typ string) string {
	t.Helper()
	c := r.c
	label, got := fmt.Sprintf("B%d", r.m.seq+1), typ
	if !r.dry {
		res := r.pgo(t, "backup", c.name, "-n", c.ns, "--type="+typ, "--wait")
		m := bkLabelLine.FindStringSubmatch(res.Stdout)
		if m == nil {
			t.Fatalf("backup --type=%s --wait did not print the new backup's label:\n%s", typ, res.Stdout)
		}
		label, got = m[1], m[2]
	}
	b := r.m.add(&chainEvent{kind: evBackup, label: label, typ: got})
	r.m.backups = append(r.m.backups, b)
	if got != typ {
		return fmt.Sprintf("%s: asked for %s, got %s", b, typ, got)
	}
	return fmt.Sprintf("%s (%s)", b, got)
}

// logicalBackup takes a pg_basebackup or pg_dump backup.
func (r *chainRun) logicalBackup(t *testing.T, step string) string {
	t.Helper()
	c, m := r.c, r.m
	name := fmt.Sprintf("D%d", m.seq+1)
	if !r.dry {
		res := r.pgo(t, "backup", c.name, "-n", c.ns, "--backup-type="+step, "--wait", "-o", "json")
		var out cmd.PGDumpResult
		if err := json.Unmarshal([]byte(res.Stdout), &out); err != nil || out.Name == "" {
			t.Fatalf("backup --backup-type=%s -o json (%v):\n%s", step, err, res.Stdout)
		}
		name = out.Name
	}
	kind := evDump
	if step == stepBaseBackup {
		kind = evBaseBackup
	}
	e := m.add(&chainEvent{kind: kind, label: name})
	e.rows, e.sum = cloneRows(m.rows), chainSum(m.rows)
	if step == stepBaseBackup {
		m.bases = append(m.bases, e)
	} else {
		m.dumps = append(m.dumps, e)
	}
	return fmt.Sprintf("%s, %s", e, e.sum)
}

// timelineFlags chooses --target-timeline for a target: the one it needs off the current
// timeline's history, and otherwise, now and then, one that means the same (latest, the current
// timeline's number), or the point's own timeline, along which the restore then goes.
func (r *chainRun) timelineFlags(tg chainTarget) (chainTarget, []string) {
	m := r.m
	if tg.needsTL {
		return tg, []string{"--target-timeline=" + strconv.Itoa(tg.tl)}
	}
	switch m.rng.IntN(10) {
	case 0:
		return tg, []string{"--target-timeline=latest"}
	case 1:
		return tg, []string{"--target-timeline=" + strconv.Itoa(m.cur)}
	case 2, 3:
		if p := tg.p; p.tl != m.cur {
			if prefix, ok := m.fork(p, p.tl, false); ok {
				return chainTarget{p: p, tl: p.tl, prefix: prefix}, []string{"--target-timeline=" + strconv.Itoa(p.tl)}
			}
		}
	}
	return tg, nil
}

// currentTimeline tells what --target-timeline=current (the timeline of the backup restored: the
// newest one that ended before the target) does for a target: restore it along the point's own
// timeline, when that backup was taken there, or else be refused, naming that timeline.
func (m *chainModel) currentTimeline(p *chainEvent) (chainTarget, bool) {
	var newest *chainEvent
	for _, b := range m.backups {
		if b.seq < p.seq {
			newest = b
		}
	}
	if newest == nil || newest.tl != p.tl {
		return chainTarget{}, false
	}
	prefix, ok := m.fork(p, p.tl, false)
	return chainTarget{p: p, tl: p.tl, prefix: prefix}, ok
}

// refused checks, unless dry, that a command is refused without a --target-timeline it needs,
// and changes nothing.
func (r *chainRun) refused(t *testing.T, args []string, tl int) {
	t.Helper()
	r.refusals++
	if !r.dry {
		r.c.refusedUnchanged(t, r.snap, args, "--target-timeline="+strconv.Itoa(tl))
	}
}

// pitr restores in place to a point, first checking, now and then, that a target off the
// current timeline's history is refused without --target-timeline.
func (r *chainRun) pitr(t *testing.T, tg chainTarget) string {
	t.Helper()
	c, m := r.c, r.m
	args := []string{"restore", c.name, "-n", c.ns, "--yes", "--pitr-target=" + tg.p.at}
	var notes []string
	if tg.needsTL && (r.refusals == 0 || m.rng.IntN(3) == 0) {
		r.refused(t, args, tg.p.tl)
		notes = append(notes, "refused without --target-timeline first")
	}
	var flags []string
	if m.rng.IntN(8) == 0 {
		if cur, ok := m.currentTimeline(tg.p); ok {
			tg, flags = cur, []string{"--target-timeline=current"}
		} else {
			r.refused(t, append(args, "--target-timeline=current"), tg.p.tl)
			notes = append(notes, "refused with --target-timeline=current first")
		}
	}
	if flags == nil {
		tg, flags = r.timelineFlags(tg)
	}
	if !r.dry {
		c.restore(t, append([]string{"--pitr-target=" + tg.p.at}, flags...)...)
	}
	what := fmt.Sprintf("to %s %v", tg.p, flags)
	if len(notes) > 0 {
		what += " (" + strings.Join(notes, "; ") + ")"
	}
	return r.afterRestore(t, what, tg.prefix, r.m.forkedOff(tg), tg.p.rows)
}

// afterRestore checks an in-place restore that made a new timeline, and records it.
func (r *chainRun) afterRestore(t *testing.T, what string, prefix []*chainEvent, parent int, rows map[int]string) string {
	t.Helper()
	m, c := r.m, r.c
	tl := m.restored(prefix, parent, rows)
	at, gotTL, sum := r.point(t, chainPointSQL)
	p := m.point(m.add(&chainEvent{kind: evRestored}), at)
	r.checkPoint(t, gotTL, sum, p)
	if !r.dry {
		if got := c.one(t, "SELECT pg_is_in_recovery()"); got != "f" {
			t.Errorf("after the restore %s, pg_is_in_recovery() = %s", what, got)
		}
	}
	r.checkBackups(t)
	return fmt.Sprintf("%s: timeline %d (parent %d), %s", what, tl, parent, p.sum)
}

// checkBackups compares show backup with the model: every backup with its timeline and whether
// it reaches the current timeline, and the timelines with their parents.
func (r *chainRun) checkBackups(t *testing.T) {
	t.Helper()
	if r.dry {
		return
	}
	m := r.m
	s := r.c.showBackups(t)
	labels := map[string]bool{}
	for _, b := range s.Repository.Backups {
		labels[b.Label] = true
		i := slices.IndexFunc(m.backups, func(e *chainEvent) bool { return e.label == b.Label })
		if i < 0 {
			t.Errorf("show backup lists %s, which the model does not know", b.Label)
			continue
		}
		e := m.backups[i]
		if b.Timeline == nil || *b.Timeline != e.tl {
			t.Errorf("show backup: %s has timeline %v, want %d", b.Label, deref(b.Timeline), e.tl)
		}
		if want := m.onHistory(e, m.cur); b.ReachesCurrentTimeline == nil || *b.ReachesCurrentTimeline != want {
			t.Errorf("show backup: %s has reachesCurrentTimeline %v, want %v (current timeline %d)", b.Label, deref(b.ReachesCurrentTimeline), want, m.cur)
		}
	}
	for _, e := range m.backups {
		if !labels[e.label] {
			t.Errorf("show backup lacks %s", e)
		}
	}
	if s.Repository.CurrentTimeline != m.cur {
		t.Errorf("show backup: current timeline %d, want %d", s.Repository.CurrentTimeline, m.cur)
	}
	parents := map[int]int{}
	for _, tl := range s.Repository.Timelines {
		parents[tl.ID] = tl.Parent
	}
	for tl := 2; tl <= m.maxTL; tl++ {
		if got, ok := parents[tl]; !ok || got != m.parent[tl] {
			t.Errorf("show backup: timeline %d has parent %d (listed: %v), want %d", tl, got, ok, m.parent[tl])
		}
	}
	for id := range parents {
		if id > m.maxTL {
			t.Errorf("show backup lists timeline %d; the highest is %d", id, m.maxTL)
		}
	}
}

func deref[T any](p *T) any {
	if p == nil {
		return "(missing)"
	}
	return *p
}

// restoreFrom creates a new cluster from the chain's repository, at the latest point or at a
// point (refused first, now and then, without a --target-timeline it needs), checks its rows
// and timeline, and deletes it.
func (r *chainRun) restoreFrom(t *testing.T) string {
	t.Helper()
	c, m := r.c, r.m
	// The source runs: what a restore can reach is what is archived.
	if !r.dry {
		c.switchAndArchive(t)
	}
	r.copies++
	name := fmt.Sprintf("copy%d", r.copies)
	args := []string{"create", "cluster", name, "-n", c.ns, "--restore-from=" + c.name, "--wait", "--timeout=10m"}
	want, what := cloneRows(m.rows), "the latest point"
	cur, ab := m.targets(false)
	refused := ""
	if pool := append(cur, ab...); m.rng.IntN(4) > 0 && len(pool) > 0 {
		tg := pool[m.rng.IntN(len(pool))]
		args = append(args, "--pitr-target="+tg.p.at)
		if tg.needsTL && m.rng.IntN(2) == 0 {
			r.refused(t, args, tg.tl)
			refused = "; refused without --target-timeline first"
		}
		tg, flags := r.timelineFlags(tg)
		args = append(args, flags...)
		want, what = tg.p.rows, fmt.Sprintf("%s %v", tg.p, flags)
	}
	if r.dry {
		return fmt.Sprintf("%s at %s%s", name, what, refused)
	}
	r.pgo(t, args...)
	cp := &restoreCluster{env: c.env, ns: c.ns, name: name}
	_, tl, sum := cp.pointNow(t, chainPointSQL)
	if wantSum := chainSum(want); sum != wantSum {
		t.Errorf("%s restored from %s at %s: checksum %s, want %s", name, c.name, what, sum, wantSum)
	}
	if tl != m.maxTL+1 {
		t.Errorf("%s restored from %s: timeline %d, want %d (one more than the highest in the archive)", name, c.name, tl, m.maxTL+1)
	}
	// Its own repository works, and the history of its timeline in it can be read.
	r.pgo(t, "backup", name, "-n", c.ns, "--type=full", "--wait")
	s := cp.showBackups(t)
	if s.Repository.CurrentTimeline != tl {
		t.Errorf("show backup %s: current timeline %d, want %d", name, s.Repository.CurrentTimeline, tl)
	}
	for _, b := range s.Repository.Backups {
		if b.ReachesCurrentTimeline == nil || !*b.ReachesCurrentTimeline {
			t.Errorf("show backup %s: its backup %s (timeline %v) does not reach its current timeline: %s", name, b.Label, deref(b.Timeline), b.TimelineNote)
		}
	}
	if len(s.Repository.Backups) != 1 {
		t.Errorf("show backup %s lists %d backups, want its one", name, len(s.Repository.Backups))
	}
	r.pgo(t, "delete", "cluster", name, "-n", c.ns, "--yes")
	waitGone(t, c.env, c.ns, name+"-0")
	return fmt.Sprintf("%s at %s%s: timeline %d, %s", name, what, refused, tl, sum)
}

// drill runs restore-drill to the latest point or to a point (with the --target-timeline it
// needs), with the checksum as its check.
func (r *chainRun) drill(t *testing.T) string {
	t.Helper()
	c, m := r.c, r.m
	if !r.dry {
		c.switchAndArchive(t)
	}
	args := []string{"restore-drill", c.name, "-n", c.ns, "--check-sql=" + chainChecksumSQL, "-o", "json"}
	want, what := chainSum(m.rows), "the latest point"
	cur, ab := m.targets(false)
	if pool := append(cur, ab...); len(pool) > 0 && m.rng.IntN(3) > 0 {
		tg, flags := r.timelineFlags(pool[m.rng.IntN(len(pool))])
		args = append(append(args, "--pitr-target="+tg.p.at), flags...)
		want, what = tg.p.sum, fmt.Sprintf("%s %v", tg.p, flags)
	}
	if r.dry {
		return "at " + what
	}
	res := c.env.PGO(t, args...)
	var rep cmd.DrillReport
	if err := json.Unmarshal([]byte(res.Stdout), &rep); err != nil || res.ExitCode != 0 || !rep.Passed || !rep.Removed {
		t.Fatalf("restore-drill at %s (%v):\n%s", what, err, res)
	}
	if !strings.Contains(rep.SQLOutput, want) {
		t.Errorf("restore-drill at %s: the check printed %q, want the checksum %s", what, rep.SQLOutput, want)
	}
	return fmt.Sprintf("at %s: %s, passed", what, want)
}
