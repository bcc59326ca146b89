package e2e

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/test/e2e/framework"
)

// badCase is one bad input: the command, and what its error must say.
type badCase struct {
	name string
	args []string
	want string // a regexp the error (stderr) must match
}

// alwaysSnapshot are the resources listed whole, labelled or not; the
// resources that hold an object labelled by kubectl-pgo after the setup
// are added to them.
var alwaysSnapshot = []schema.GroupVersionResource{
	{Version: "v1", Resource: "configmaps"},
	{Version: "v1", Resource: "secrets"},
	{Version: "v1", Resource: "services"},
	{Version: "v1", Resource: "persistentvolumeclaims"},
	{Group: "apps", Version: "v1", Resource: "statefulsets"},
	{Group: "apps", Version: "v1", Resource: "deployments"},
	{Group: "batch", Version: "v1", Resource: "jobs"},
	{Group: "batch", Version: "v1", Resource: "cronjobs"},
}

// snapshotter records the resourceVersion of every object of some
// resources in a namespace.
type snapshotter struct {
	dyn       dynamic.Interface
	ns        string
	resources []schema.GroupVersionResource
}

// newSnapshotter lists alwaysSnapshot, and every other resource of the
// namespace that holds an object labelled as managed by kubectl-pgo.
func newSnapshotter(t *testing.T, env *framework.Env, ns string) *snapshotter {
	t.Helper()
	// Two listings per case: more than client-go's default 5 requests a
	// second, and without the warnings of deprecated resources.
	cfg := rest.CopyConfig(env.Config)
	cfg.QPS, cfg.Burst, cfg.WarningHandler = 50, 100, rest.NoWarnings{}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := &snapshotter{dyn: dyn, ns: ns, resources: slices.Clone(alwaysSnapshot)}
	lists, err := env.Client.Discovery().ServerPreferredNamespacedResources()
	if err != nil && len(lists) == 0 {
		t.Fatal(err)
	}
	selector := cluster.LabelManagedBy + "=" + cluster.FieldManager
	for _, l := range lists {
		gv, err := schema.ParseGroupVersion(l.GroupVersion)
		if err != nil {
			continue
		}
		for _, r := range l.APIResources {
			gvr := gv.WithResource(r.Name)
			if slices.Contains(s.resources, gvr) || !slices.Contains(r.Verbs, "list") {
				continue
			}
			items, err := dyn.Resource(gvr).Namespace(ns).List(context.Background(), metav1.ListOptions{LabelSelector: selector})
			if err == nil && len(items.Items) > 0 {
				s.resources = append(s.resources, gvr)
			}
		}
	}
	return s
}

// take returns "resource/name" -> resourceVersion.
func (s *snapshotter) take(t *testing.T) map[string]string {
	t.Helper()
	snap := map[string]string{}
	for _, gvr := range s.resources {
		items, err := s.dyn.Resource(gvr).Namespace(s.ns).List(context.Background(), metav1.ListOptions{})
		if err != nil {
			t.Fatalf("listing %s: %v", gvr.Resource, err)
		}
		for _, item := range items.Items {
			snap[gvr.Resource+"/"+item.GetName()] = item.GetResourceVersion()
		}
	}
	return snap
}

// diff says what changed between two snapshots: created, deleted, and
// changed objects.
func snapshotDiff(before, after map[string]string) []string {
	var out []string
	for k, v := range after {
		switch old, ok := before[k]; {
		case !ok:
			out = append(out, "created "+k)
		case old != v:
			out = append(out, fmt.Sprintf("changed %s (resourceVersion %s -> %s)", k, old, v))
		}
	}
	for k := range before {
		if _, ok := after[k]; !ok {
			out = append(out, "deleted "+k)
		}
	}
	sort.Strings(out)
	return out
}

// settle waits until two snapshots a few seconds apart are the same, so
// that the cases start from a cluster at rest (no controller still
// updating a status), and returns the last one.
func (s *snapshotter) settle(t *testing.T) map[string]string {
	t.Helper()
	last := s.take(t)
	for deadline := time.Now().Add(2 * time.Minute); ; {
		time.Sleep(3 * time.Second)
		next := s.take(t)
		d := snapshotDiff(last, next)
		if len(d) == 0 {
			return next
		}
		if time.Now().After(deadline) {
			t.Fatalf("the namespace does not come to rest: %v", d)
		}
		last = next
	}
}

// Bad input changes nothing: each case runs the real command against a
// real cluster (with a backup) and must exit non-zero, say what is wrong,
// and leave every object of the namespace as it was.
func TestBadInputMatrix(t *testing.T) {
	t.Parallel()
	env := framework.Setup(t)
	ns := env.Namespace(t)
	c := &bkCluster{env: env, ns: ns, name: "hippo"}
	if res := c.pgo(t, "create", "cluster", c.name, "--wait", "--timeout=5m"); res.ExitCode != 0 {
		t.Fatalf("create cluster failed:\n%s", res)
	}
	full, _ := c.backupWait(t, "full")
	incr, _ := c.backupWait(t, "incr")
	// A schedule that does not run during the test (at 01:00 on 1 January).
	if res := c.pgo(t, "create", "schedule", c.name, "--schedule=0 1 1 1 *", "--pgbackrest-backup-type=full"); res.ExitCode != 0 {
		t.Fatalf("create schedule failed:\n%s", res)
	}
	// A Service that kubectl-pgo did not create, in the way of a cluster.
	if _, err := env.Client.CoreV1().Services(ns).Create(context.Background(), &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "taken"},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 5432}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	snap := newSnapshotter(t, env, ns)
	baseline := snap.settle(t)
	t.Logf("snapshot: %d objects of %d resources", len(baseline), len(snap.resources))

	pitr := "2026-11-24 12:00:00+00"
	cases := badInputCases(c.name, full, incr, pitr)
	passed, failed := 0, 0
	for _, bc := range cases {
		ok := t.Run(bc.name, func(t *testing.T) {
			want := regexp.MustCompile(bc.want)
			before := snap.take(t)
			// No terminal: stdin is empty, so a command that asks must refuse, not wait.
			res := env.PGOWithin(t, 2*time.Minute, append([]string{"-n", ns}, bc.args...)...)
			t.Logf("%s", strings.TrimSpace(res.Stderr))
			if res.ExitCode == 0 {
				t.Errorf("exit code 0 for kubectl pgo %s:\n%s", strings.Join(bc.args, " "), res)
			}
			if !want.MatchString(res.Stderr) {
				t.Errorf("the error does not match %s:\n%s", bc.want, res)
			}
			if d := snapshotDiff(before, snap.take(t)); len(d) > 0 {
				t.Errorf("kubectl pgo %s changed the cluster:\n  %s", strings.Join(bc.args, "\n  "), strings.Join(d, "\n  "))
			}
		})
		if ok {
			passed++
		} else {
			failed++
		}
	}
	after := snap.take(t)
	if d := snapshotDiff(baseline, after); len(d) > 0 {
		t.Errorf("the matrix changed the cluster: %v", d)
	}
	// The control: the snapshots do see a change.
	if _, err := env.Client.CoreV1().ConfigMaps(ns).Create(context.Background(), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "control"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if d := snapshotDiff(after, snap.take(t)); !slices.Equal(d, []string{"created configmaps/control"}) {
		t.Errorf("a ConfigMap created by the test shows as %v in the snapshots", d)
	}
	summary := fmt.Sprintf("bad-input matrix: %d passed, %d failed", passed, failed)
	t.Log(summary)
	fmt.Println(summary)
	if passed+failed < 40 {
		t.Errorf("%d cases, want at least 40", passed+failed)
	}
}

// badInputCases are the cases, against the cluster name with its one full
// backup and an incremental one on it. The ones that could do harm if they were wrongly accepted
// (restore, delete) come last.
func badInputCases(name, full, incr, pitr string) []badCase {
	return []badCase{
		// General.
		{"unknown command", []string{"frobnicate"}, `unknown command "frobnicate"`},
		{"unknown resource", []string{"show", "widget"}, `(?i)unknown command "widget"|widget`},
		{"unknown context", []string{"--context=nosuch", "show", "cluster"}, `context "nosuch" does not exist`},
		{"version: wrong -o", []string{"version", "-o", "xml"}, `invalid output format "xml"`},

		// create cluster.
		{"create: no name", []string{"create", "cluster"}, `cluster name is required`},
		{"create: two names", []string{"create", "cluster", "a", "b"}, `one cluster name, got 2 arguments`},
		{"create: invalid name", []string{"create", "cluster", "Bad_Name"}, `cluster name "Bad_Name" is not valid`},
		{"create: name too long", []string{"create", "cluster", strings.Repeat("x", 80)}, `no more than 63 characters`},
		{"create: invalid image", []string{"create", "cluster", "x", "--image=UPPER CASE:tag"}, `image "UPPER CASE:tag" is not valid`},
		{"create: unknown flag", []string{"create", "cluster", "x", "--replica-count=2"}, `unknown flag: --replica-count`},
		{"create: too many replicas", []string{"create", "cluster", "x", "--replicas=9"}, `--replicas=9 is out of range: give 0 to 5`},
		{"create: backup-standby without replicas", []string{"create", "cluster", "x", "--pgbackrest-backup-standby"}, `--pgbackrest-backup-standby needs a replica to back up from: give --replicas=1 or more`},
		{"update: negative replicas", []string{"update", "cluster", "x", "--replicas=-1"}, `--replicas=-1 is out of range: give 0 to 5`},
		{"create: push queue not a quantity", []string{"create", "cluster", "x", "--pgbackrest-archive-async", "--pgbackrest-archive-push-queue-max=lots"}, `archive-push queue size "lots" is not a quantity`},
		{"update: negative get queue", []string{"update", "cluster", name, "--pgbackrest-archive-get-queue-max=-1Mi"}, `archive-get queue size "-1Mi" must be more than zero`},
		{"update: queue with async off", []string{"update", "cluster", name, "--pgbackrest-archive-async=false", "--pgbackrest-archive-push-queue-max=1Gi"}, `--pgbackrest-archive-async=false turns asynchronous archiving off`},
		{"create: bad passphrase Secret", []string{"create", "cluster", "x", "--pgbackrest-repo-cipher-secret=Bad_Name"}, `passphrase Secret "Bad_Name" is not a valid name`},
		{"create: missing passphrase Secret", []string{"create", "cluster", "x", "--pgbackrest-repo-cipher-secret=nosuch"}, `--pgbackrest-repo-cipher-secret: Secret \S+/nosuch does not exist`},
		{"create: passphrase in a Secret of kubectl-pgo", []string{"create", "cluster", "x", "--pgbackrest-repo-cipher-secret=" + name + "-backrest-repo-config"}, `is kubectl-pgo's and goes with the cluster`},
		{"create: bad storage size", []string{"create", "cluster", "x", "--storage-size=lots"}, `storage size "lots" is not a quantity`},
		{"create: negative storage size", []string{"create", "cluster", "x", "--storage-size=-1Gi"}, `storage size "-1Gi" must be more than zero`},
		{"create: zero repository size", []string{"create", "cluster", "x", "--pgbackrest-pvc-size=0"}, `repository PVC size "0" must be more than zero`},
		{"create: bad cpu", []string{"create", "cluster", "x", "--cpu=fast"}, `CPU request "fast" is not valid`},
		{"create: negative cpu", []string{"create", "cluster", "x", "--cpu=-1"}, `CPU request "-1" is not valid`},
		{"create: limit below request", []string{"create", "cluster", "x", "--memory=1Gi", "--memory-limit=512Mi"}, `memory request 1Gi is more than its limit 512Mi`},
		{"create: unknown storage type", []string{"create", "cluster", "x", "--pgbackrest-storage-type=tape"}, `storage type "tape" is not known`},
		{"create: invalid storage class", []string{"create", "cluster", "x", "--storage-class=Bad_Class"}, `storage class "Bad_Class" is not a valid name`},
		{"create: missing storage class", []string{"create", "cluster", "x", "--storage-class=nosuchclass"}, `storage class "nosuchclass" does not exist`},
		{"create: missing repository storage class", []string{"create", "cluster", "x", "--pgbackrest-storage-class=nosuchclass"}, `--pgbackrest-storage-class: storage class "nosuchclass" does not exist`},
		{"create: zero full retention", []string{"create", "cluster", "x", "--pgbackrest-repo-retention-full=0"}, `--pgbackrest-repo-retention-full=0 is not valid`},
		{"create: unknown retention type", []string{"create", "cluster", "x", "--pgbackrest-repo-retention-full-type=weeks"}, `retention type "weeks" is not known`},
		{"create: negative diff retention", []string{"create", "cluster", "x", "--pgbackrest-repo-retention-diff=-1"}, `--pgbackrest-repo-retention-diff=-1 is not valid`},
		{"create: bad dry-run value", []string{"create", "cluster", "x", "--dry-run=maybe"}, `invalid --dry-run value "maybe"`},
		{"create: wrong -o", []string{"create", "cluster", "x", "-o", "xml"}, `invalid output format "xml"`},
		{"create: bad --timeout", []string{"create", "cluster", "x", "--wait", "--timeout=soon"}, `invalid argument "soon" for "--timeout"`},
		{"create: immutable storage size", []string{"create", "cluster", name, "--storage-size=5Gi"}, `(?s)settings that cannot change.*storage size`},
		{"create: immutable repository class", []string{"create", "cluster", name, "--pgbackrest-storage-class=other"}, `(?s)settings that cannot change.*storage class`},
		{"create: foreign object in the way", []string{"create", "cluster", "taken"}, `not created by kubectl-pgo`},
		{"create: --pitr-target without --restore-from", []string{"create", "cluster", "x", "--pitr-target=" + pitr}, `--pitr-target needs --restore-from`},
		{"create: --restore-opts without --restore-from", []string{"create", "cluster", "x", "--restore-opts=--set=" + full}, `--restore-opts needs --restore-from`},
		{"create: invalid --restore-from-namespace", []string{"create", "cluster", "x", "--restore-from=" + name, "--restore-from-namespace=Bad_NS"}, `--restore-from-namespace=Bad_NS is not a namespace`},
		{"create: restore from a missing cluster", []string{"create", "cluster", "x", "--restore-from=nosuch"}, `cluster "nosuch" not found.*same bucket or container.*--pgbackrest-storage-type=s3.*gcs with --pgbackrest-gcs-bucket`},
		{"create: bad --pitr-target", []string{"create", "cluster", "x", "--restore-from=" + name, "--pitr-target=yesterday"}, `invalid --pitr-target: "yesterday"`},
		{"create: --pitr-target before the first backup", []string{"create", "cluster", "x", "--restore-from=" + name, "--pitr-target=2000-01-01 00:00:00+00"}, `before the end of the oldest backup`},
		{"create: --pitr-target conflicts with --type", []string{"create", "cluster", "x", "--restore-from=" + name, "--pitr-target=" + pitr, "--restore-opts=--type=immediate"}, `conflicts with --type=immediate`},
		{"create: forbidden --restore-opts", []string{"create", "cluster", "x", "--restore-from=" + name, "--restore-opts=--pg1-path=/tmp"}, `invalid --restore-opts:\s+--pg1-path`},
		{"create: missing target backup", []string{"create", "cluster", "x", "--restore-from=" + name, "--restore-opts=--set=20200101-000000F"}, `backup 20200101-000000F does not exist`},

		// show cluster.
		{"show cluster: missing", []string{"show", "cluster", "nosuch"}, `cluster "nosuch" not found`},
		{"show cluster: invalid name", []string{"show", "cluster", "Bad_Name"}, `cluster name "Bad_Name" is not valid`},
		{"show cluster: wrong -o", []string{"show", "cluster", name, "-o", "xml"}, `invalid output format "xml"`},
		{"show cluster: a name with -A", []string{"show", "cluster", name, "-A"}, `cannot be used together`},

		// backup.
		{"backup: missing cluster", []string{"backup", "nosuch"}, `cluster "nosuch" not found`},
		{"backup: no name", []string{"backup"}, `cluster name is required`},
		{"backup: unknown --type", []string{"backup", name, "--type=weekly"}, `unknown --type "weekly"`},
		{"backup: unknown --backup-type", []string{"backup", name, "--backup-type=tape"}, `unknown --backup-type "tape"`},
		{"backup: forbidden --backup-opts", []string{"backup", name, "--backup-opts=--repo1-path=/tmp"}, `option --repo1-path is managed by kubectl-pgo`},
		{"backup: forbidden --stanza", []string{"backup", name, "--backup-opts=--stanza=other"}, `option --stanza is managed by kubectl-pgo`},
		{"backup: unknown pgBackRest option", []string{"backup", name, "--backup-opts=--no-such-option"}, `option --no-such-option is unknown`},
		{"backup: bad option value", []string{"backup", name, "--backup-opts=--process-max=many"}, `--process-max: "many" is not allowed`},
		{"backup: --type conflicts with --backup-opts", []string{"backup", name, "--type=diff", "--backup-opts=--type=full"}, `--type=diff and --backup-opts='--type=full' disagree`},
		{"backup: --timeout too short", []string{"backup", name, "--timeout=0"}, `--timeout=0s is too short`},
		{"backup: wrong -o", []string{"backup", name, "-o", "xml"}, `invalid output format "xml"`},
		{"backup: pgdump with a bad PVC size", []string{"backup", name, "--backup-type=pgdump", "--pvc-size=lots"}, `invalid --pvc-size: .*"lots"`},
		{"backup: pgdump with an invalid PVC name", []string{"backup", name, "--backup-type=pgdump", "--pvc-name=Bad_PVC"}, `invalid --pvc-name "Bad_PVC"`},
		{"backup: pgdump into the data PVC", []string{"backup", name, "--backup-type=pgdump", "--pvc-name=" + cluster.DataPVCName(name)}, `is the database PVC of cluster "` + name + `", not one for backups`},
		{"backup: pgbasebackup into the repository PVC", []string{"backup", name, "--backup-type=pgbasebackup", "--pvc-name=" + cluster.RepoPVCName(name)}, `is the pgbackrest-repo PVC of cluster "` + name + `", not one for backups`},
		{"backup: pgdump of a missing database", []string{"backup", name, "--backup-type=pgdump", "--database=nosuchdb"}, `database "nosuchdb" does not exist`},
		{"backup: pgdump --dump-all with --database", []string{"backup", name, "--backup-type=pgdump", "--dump-all", "--database=app"}, `cannot be combined with --database`},
		{"backup: forbidden pg_dump option", []string{"backup", name, "--backup-type=pgdump", "--backup-opts=--file=/etc/x"}, `--file is managed by kubectl-pgo`},
		{"backup: pg_basebackup option not allowed", []string{"backup", name, "--backup-type=pgbasebackup", "--backup-opts=--type=full"}, `--type is not an allowed pg_basebackup option`},
		{"backup: --database without pgdump", []string{"backup", name, "--database=app"}, `--database applies to --backup-type=pgdump only`},
		{"backup: --type with pgdump", []string{"backup", name, "--backup-type=pgdump", "--type=full"}, `--type is a pgBackRest backup type`},
		{"backup: pgbasebackup of a missing cluster", []string{"backup", "nosuch", "--backup-type=pgbasebackup"}, `cluster "nosuch" not found`},

		{"backup: --from-standby without replicas", []string{"backup", name, "--from-standby"}, `cannot back up cluster "` + name + `" from a standby: it has no replica`},
		{"backup: --from-standby with pgdump", []string{"backup", name, "--backup-type=pgdump", "--from-standby"}, `--from-standby applies to --backup-type=pgbackrest only`},

		// failover.
		{"failover: no replica", []string{"failover", name, "--yes"}, `cluster "` + name + `" has no replica to fail over to: add one with kubectl pgo update cluster ` + name + ` --replicas=1`},
		{"failover: missing cluster", []string{"failover", "nosuch", "--yes"}, `cluster "nosuch" not found`},
		{"failover: bad --max-lag", []string{"failover", name, "--max-lag=lots"}, `invalid --max-lag "lots"`},
		{"failover: invalid --target", []string{"failover", name, "--target=Bad_Pod"}, `invalid --target "Bad_Pod"`},
		{"failover: no confirmation", []string{"failover", name}, `has no replica|without confirmation`},

		// standby clusters.
		{"create: --standby without --restore-from", []string{"create", "cluster", "x", "--standby"}, `--standby needs --restore-from: name the cluster to follow`},
		{"create: --standby with --pitr-target", []string{"create", "cluster", "x", "--restore-from=" + name, "--standby", "--pitr-target=2026-01-01 00:00:00+00"}, `--standby follows the source to its latest WAL`},
		{"create: bad --restore-from-s3-credentials-secret", []string{"create", "cluster", "x", "--restore-from=" + name, "--restore-from-s3-credentials-secret=Bad_Name"}, `invalid --restore-from-s3-credentials-secret "Bad_Name"`},
		{"create: credentials without --restore-from", []string{"create", "cluster", "x", "--restore-from-s3-credentials-secret=keys"}, `--restore-from-s3-credentials-secret needs --restore-from`},
		{"create: --standby-host without --standby", []string{"create", "cluster", "x", "--restore-from=" + name, "--standby-host=h:5432"}, `--standby-host needs --standby`},
		{"create: bad --standby-host", []string{"create", "cluster", "x", "--restore-from=" + name, "--standby", "--standby-host=h:99999"}, `--standby-host=h:99999 is not host\[:port\]`},
		{"create: --standby-host-secret alone", []string{"create", "cluster", "x", "--restore-from=" + name, "--standby", "--standby-host-secret=s"}, `--standby-host-secret needs --standby-host`},
		{"promote: not a standby", []string{"promote", name, "--yes"}, `cluster "` + name + `" is not a standby cluster`},
		{"promote: missing cluster", []string{"promote", "nosuch", "--yes"}, `cluster "nosuch" not found`},
		{"promote: no confirmation", []string{"promote", name}, `is not a standby cluster|without confirmation`},

		// show backup, show archive.
		{"show backup: missing cluster", []string{"show", "backup", "nosuch"}, `cluster "nosuch" not found`},
		{"show backup: unknown --backup-type", []string{"show", "backup", name, "--backup-type=tape"}, `unknown --backup-type "tape"`},
		{"show backup: wrong -o", []string{"show", "backup", name, "-o", "xml"}, `invalid output format "xml"`},
		{"show backup: bad selector", []string{"show", "backup", "-l", "a b c"}, `invalid --selector "a b c"`},
		{"show backup: a name with -A", []string{"show", "backup", name, "-A"}, `cannot be combined with -A`},
		{"show archive: missing cluster", []string{"show", "archive", "nosuch"}, `cluster "nosuch" not found`},
		{"show archive: wrong -o", []string{"show", "archive", name, "-o", "xml"}, `invalid output format "xml"`},
		{"show archive: bad selector", []string{"show", "archive", "-l", "a b"}, `invalid --selector "a b"`},

		// create, show, delete schedule.
		{"create schedule: no --schedule", []string{"create", "schedule", name, "--pgbackrest-backup-type=full"}, `--schedule is required`},
		{"create schedule: bad cron", []string{"create", "schedule", name, "--schedule=61 * * * *", "--pgbackrest-backup-type=full"}, `invalid cron expression "61 \* \* \* \*"`},
		{"create schedule: no backup type", []string{"create", "schedule", name, "--schedule=@hourly"}, `--pgbackrest-backup-type is required`},
		{"create schedule: unknown backup type", []string{"create", "schedule", name, "--schedule=@hourly", "--pgbackrest-backup-type=weekly"}, `unknown --pgbackrest-backup-type "weekly"`},
		{"create schedule: unknown time zone", []string{"create", "schedule", name, "--schedule=@hourly", "--pgbackrest-backup-type=full", "--time-zone=Mars/Olympus"}, `unknown time zone "Mars/Olympus"`},
		{"create schedule: unknown schedule type", []string{"create", "schedule", name, "--schedule=@hourly", "--schedule-type=tape"}, `unknown --schedule-type "tape"`},
		{"create schedule: forbidden --schedule-opts", []string{"create", "schedule", name, "--schedule=@hourly", "--pgbackrest-backup-type=full", "--schedule-opts=--repo1-path=/x"}, `option --repo1-path is managed by kubectl-pgo`},
		{"create schedule: backup type with pgdump", []string{"create", "schedule", name, "--schedule=@hourly", "--schedule-type=pgdump", "--pgbackrest-backup-type=full"}, `--pgbackrest-backup-type applies to --schedule-type=pgbackrest only`},
		{"create schedule: invalid schedule name", []string{"create", "schedule", name, "--schedule=@hourly", "--pgbackrest-backup-type=full", "--schedule-name=Bad_Name"}, `schedule name "Bad_Name" is not valid`},
		{"create schedule: dumps into the data PVC", []string{"create", "schedule", name, "--schedule=@hourly", "--schedule-type=pgdump", "--pvc-name=" + cluster.DataPVCName(name)}, `is the database PVC of cluster "` + name + `", not one for backups`},
		{"create schedule: missing cluster", []string{"create", "schedule", "nosuch", "--schedule=@hourly", "--pgbackrest-backup-type=full"}, `cluster "nosuch" not found`},
		{"show schedule: wrong -o", []string{"show", "schedule", name, "-o", "xml"}, `invalid output format "xml"`},
		{"show schedule: a name with -A", []string{"show", "schedule", name, "-A"}, `cannot be used together`},
		{"delete schedule: missing schedule", []string{"delete", "schedule", name, "--yes", "--schedule-name=nosuch"}, `has no schedule "nosuch"`},
		{"delete schedule: no --yes without a terminal", []string{"delete", "schedule", name}, `stdin is not a terminal`},

		// update cluster.
		{"update cluster: missing cluster", []string{"update", "cluster", "nosuch", "--cpu=1"}, `cluster "nosuch" not found`},
		{"update cluster: bad memory", []string{"update", "cluster", name, "--memory=lots"}, `memory request "lots" is not valid`},
		{"update cluster: zero retention", []string{"update", "cluster", name, "--pgbackrest-repo-retention-full=0"}, `--pgbackrest-repo-retention-full=0 is not valid`},
		{"update cluster: immutable storage size", []string{"update", "cluster", name, "--storage-size=5Gi"}, `(?s)these settings cannot change.*storage size`},
		{"update cluster: wrong -o", []string{"update", "cluster", name, "--cpu=1", "-o", "xml"}, `invalid output format "xml"`},

		// restore-drill.
		{"restore-drill: invalid --target", []string{"restore-drill", name, "--target=garbage"}, `invalid --target "garbage"`},
		{"restore-drill: bad --pitr-target", []string{"restore-drill", name, "--pitr-target=yesterday"}, `invalid --pitr-target: "yesterday"`},
		{"restore-drill: zero --timeout", []string{"restore-drill", name, "--timeout=0s"}, `invalid --timeout 0s`},
		{"restore-drill: wrong -o", []string{"restore-drill", name, "-o", "xml"}, `invalid output format "xml"`},
		{"restore-drill: missing cluster", []string{"restore-drill", "nosuch"}, `cluster "nosuch" not found`},
		{"restore-drill: missing target backup", []string{"restore-drill", name, "--target=20200101-000000F"}, `20200101-000000F`},
		{"restore-drill: --pitr-target before the first backup", []string{"restore-drill", name, "--pitr-target=2000-01-01 00:00:00+00"}, `before the end of the oldest backup`},

		// verify, doctor.
		{"verify: no name", []string{"verify"}, `cluster name is required`},
		{"verify: missing cluster", []string{"verify", "nosuch"}, `cluster "nosuch" not found`},
		{"verify: --repo out of range", []string{"verify", name, "--repo=0"}, `invalid --repo 0`},
		{"verify: a repository the cluster lacks", []string{"verify", name, "--repo=3"}, `cluster "` + name + `" has no repo3: its repositories are repo1`},
		{"verify: unknown storage type", []string{"verify", name, "--pgbackrest-storage-type=tape"}, `"tape" is not a storage type`},
		{"verify: --repo and --pgbackrest-storage-type", []string{"verify", name, "--repo=1", "--pgbackrest-storage-type=local"}, `both choose the repository`},
		{"verify: zero --timeout", []string{"verify", name, "--timeout=0s"}, `invalid --timeout 0s`},
		{"verify: wrong -o", []string{"verify", name, "-o", "xml"}, `invalid output format "xml"`},
		{"doctor: no name", []string{"doctor"}, `takes one cluster name, got 0 arguments`},
		{"doctor: missing cluster", []string{"doctor", "nosuch"}, `cluster "nosuch" not found`},
		{"doctor: negative --max-backup-age", []string{"doctor", name, "--max-backup-age=-1h"}, `--max-backup-age must be positive`},
		{"doctor: wrong -o", []string{"doctor", name, "-o", "xml"}, `invalid output format "xml"`},

		// restore.
		{"restore: invalid base backup name", []string{"restore", name, "--yes", "--backup-type=pgbasebackup", "--backup-name=garbage"}, `invalid --backup-name "garbage"`},
		{"restore: options for a base backup", []string{"restore", name, "--yes", "--backup-type=pgbasebackup", "--backup-opts=--delta"}, `--backup-opts does not apply to --backup-type=pgbasebackup`},
		{"restore: --backup-name and --pitr-target", []string{"restore", name, "--yes", "--backup-type=pgbasebackup", "--backup-name=2020-01-01-00-00-00", "--pitr-target=" + pitr}, `give --backup-name or --pitr-target, not both`},
		{"restore: no base backups", []string{"restore", name, "--yes", "--backup-type=pgbasebackup"}, `PVC backup-` + name + `-pgbasebackup-pvc does not exist`},
		{"restore: missing cluster", []string{"restore", "nosuch", "--yes"}, `cluster "nosuch" not found`},
		{"restore: bad --pitr-target", []string{"restore", name, "--yes", "--pitr-target=yesterday"}, `invalid --pitr-target: "yesterday"`},
		{"restore: impossible date", []string{"restore", name, "--yes", "--pitr-target=2026-13-45 99:00:00+00"}, `invalid --pitr-target: "2026-13-45`},
		{"restore: --pitr-target without a time zone", []string{"restore", name, "--yes", "--pitr-target=2026-11-24 12:00:00"}, `it has no time zone`},
		{"restore: --pitr-target before the first backup", []string{"restore", name, "--yes", "--pitr-target=2000-01-01 00:00:00+00"}, `before the end of the oldest backup \(` + full},
		{"restore: forbidden --backup-opts", []string{"restore", name, "--yes", "--backup-opts=--pg1-path=/tmp"}, `invalid --backup-opts:\s+--pg1-path`},
		{"restore: unknown option", []string{"restore", name, "--yes", "--backup-opts=--no-such"}, `--no-such is not a restore option`},
		{"restore: --target-action=shutdown", []string{"restore", name, "--yes", "--backup-opts=--target-action=shutdown"}, `--target-action: shutdown is not supported`},
		{"restore: missing target backup", []string{"restore", name, "--yes", "--backup-opts=--set=20200101-000000F"}, `backup 20200101-000000F does not exist`},
		{"restore: --pitr-target conflicts with --type", []string{"restore", name, "--yes", "--pitr-target=" + pitr, "--backup-opts=--type=immediate"}, `conflicts with --type=immediate`},
		{"restore: unknown --backup-type", []string{"restore", name, "--yes", "--backup-type=tape"}, `unknown --backup-type "tape"`},
		{"restore: invalid --backup-name", []string{"restore", name, "--yes", "--backup-type=pgdump", "--backup-name=20200101-000000"}, `invalid --backup-name "20200101-000000"`},
		{"restore: no dumps", []string{"restore", name, "--yes", "--backup-type=pgdump", "--backup-name=2020-01-01-00-00-00"}, `there are no dumps to restore`},
		{"restore: invalid --backup-pvc", []string{"restore", name, "--yes", "--backup-type=pgdump", "--backup-pvc=Bad_PVC"}, `invalid --backup-pvc "Bad_PVC"`},
		{"restore: pg_restore option not allowed", []string{"restore", name, "--yes", "--backup-type=pgdump", "--backup-opts=--no-such"}, `--no-such is not an allowed pg_restore option`},
		{"restore: bad --timeout", []string{"restore", name, "--yes", "--timeout=soon"}, `invalid argument "soon" for "--timeout"`},
		{"restore: no --yes without a terminal", []string{"restore", name}, `stdin is not a terminal: pass --yes`},

		// delete backup.
		{"delete backup: no --target", []string{"delete", "backup", name, "--yes"}, `--target is required`},
		{"delete backup: invalid label", []string{"delete", "backup", name, "--target=garbage", "--yes"}, `invalid --target "garbage"`},
		{"delete backup: missing backup", []string{"delete", "backup", name, "--target=20200101-000000F", "--yes"}, `backup "20200101-000000F" not found`},
		{"delete backup: wrong -o", []string{"delete", "backup", name, "--target=" + incr, "--yes", "-o", "xml"}, `invalid output format "xml"`},
		{"delete backup: the only full backup", []string{"delete", "backup", name, "--target=" + full, "--yes"}, full + `.*only full backup`},
		{"delete backup: missing cluster", []string{"delete", "backup", "nosuch", "--target=" + incr, "--yes"}, `cluster "nosuch" not found`},
		{"delete backup: no --yes without a terminal", []string{"delete", "backup", name, "--target=" + incr}, `without confirmation: stdin is not a terminal`},

		// delete cluster.
		{"delete cluster: missing", []string{"delete", "cluster", "nosuch", "--yes"}, `cluster "nosuch" not found`},
		{"delete cluster: no name", []string{"delete", "cluster", "--yes"}, `cluster name is required`},
		{"delete cluster: bad --timeout", []string{"delete", "cluster", name, "--yes", "--timeout=soon"}, `invalid argument "soon" for "--timeout"`},
		{"delete cluster: bad --discard-passphrase", []string{"delete", "cluster", name, "--yes", "--discard-passphrase=maybe"}, `invalid argument "maybe" for "--discard-passphrase"`},
		{"delete cluster: bad --keep-backups", []string{"delete", "cluster", name, "--yes", "--keep-backups=maybe"}, `invalid argument "maybe" for "--keep-backups"`},
		{"delete cluster: not a cluster", []string{"delete", "cluster", "taken", "--yes"}, `cluster "taken" not found`},
		{"delete cluster: no --yes without a terminal", []string{"delete", "cluster", name}, `without confirmation: stdin is not a terminal`},
	}
}
