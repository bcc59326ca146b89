package cmd

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/apply"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/printers"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/rotate"
)

const rotateRefusals = `A rotation first suspends the cluster's backup schedules, so that no
scheduled Job starts in the middle of it, and resumes them at its end,
whatever the outcome (a run that fell due meanwhile starts then, within the
schedule's starting deadline). It waits for a backup or dump Job that
runs to end, saying which (--wait-for-jobs=false refuses instead); --timeout
bounds the wait. It is refused, with nothing changed, while a restore or an
upgrade Job runs, and while the primary or the repository host is not
ready: run it again once the Job has ended or the pod is ready. It asks for
confirmation unless --yes; without a terminal to ask on, it refuses instead.
With --dry-run=client it reads the cluster, says what it would do and
changes nothing.`

const rotateCertsLong = `Sign new certificates for a cluster's pods with the cluster's own CA, and
make PostgreSQL and pgBackRest use them without a restart.

The database certificate (PostgreSQL's server certificate, and the database
side's pgBackRest TLS certificate, good for every Service and instance) and
the repository host's pgBackRest certificate are signed anew, with new keys,
and written into the repository Secret NAME-backrest-repo-config. Each pod's
mounted copy changes within seconds (the pods are annotated, so that the
kubelet syncs them at once); then PostgreSQL is reloaded in each instance
(pg_reload_conf(): connections stay) and checked to serve the new
certificate, and each pgBackRest server is sent SIGHUP, on which it reloads
its certificates for the next connections: the database pods first, then the
repository host. Every client verifies the other side against the CA only,
so an old and a new certificate are trusted alike while the pods switch, and
archive-push never fails. It ends with pgbackrest check.

With --new-ca the CA changes too, in three steps that every pod loads before
the next: the old and the new CA are trusted together (the ca.crt of the
Secret and of the ConfigMap NAME-ca hold both); after --new-ca-grace, so that
applications that mount NAME-ca get both, the new CA signs new certificates,
which the pods load as above; then the old CA is dropped. No side ever meets a
certificate it does not trust. The CA is valid for 10 years; doctor warns 30
days before any certificate expires.

With --ca-cert and --ca-key, --new-ca switches to a CA of your own PKI instead
of one it generates: --ca-cert holds the CA, then its issuers in order up to
the self-signed root (all of them go into ca.crt: OpenSSL verifies up to a
root), --ca-key its unencrypted key in PEM (PKCS#8, PKCS#1 or SEC1; ECDSA
P-256/P-384/P-521, RSA of 2048 bits or more, or Ed25519). Both are checked
before any request: a certificate that is not a CA (CA:TRUE, keyCertSign), a
key that does not match it, an encrypted key, a CA expired, not yet valid or
valid for less than 30 days, or a file that ends before the root is refused
and nothing changes. The new certificates keep ECDSA P-256 keys and expire no
later than the CA.

` + rotateRefusals

const rotateCertsExample = `  # New certificates from the cluster's CA, after confirming
  kubectl pgo rotate certs hippo

  # Say what would be done, changing nothing
  kubectl pgo rotate certs hippo --dry-run=client

  # A new CA too: both CAs trusted for 5 minutes, then the new one signs, then the old one goes
  kubectl pgo rotate certs hippo --new-ca --new-ca-grace=5m --yes

  # Switch to an intermediate CA of your PKI: the CA then its root in chain.pem, and its key
  kubectl pgo rotate certs hippo --new-ca --ca-cert=chain.pem --ca-key=ca.key --yes

  # Make the pods load the certificates the Secret holds (after an interrupted rotation)
  kubectl pgo rotate certs hippo --reload-only --yes`

const rotatePasswordLong = `Change the passwords of the superuser (postgres) and of the replication role
(pgo_replication), in PostgreSQL and in the Secret NAME-postgres-secret.

The new passwords are written into the Secret first; once the database pods
mount them (seconds), the primary runs ALTER ROLE for both roles in one
transaction, with the passwords read from its mounted files (they never leave
the cluster), and each instance's libpq password file for replication is
rewritten. Connections already open stay, and replicas keep streaming. A
client that connects between the two steps with the new password fails:
that is why no Job may run (every kubectl-pgo Job that connects reads the
Secret when it starts). Applications that read the Secret need a restart to
read the new password; a standby cluster that streams from this one keeps
the old replication password in its own Secret and falls back to the
repository until it is created again. If PostgreSQL does not take the new
passwords, the old ones are written back into the Secret.

` + rotateRefusals

const rotatePasswordExample = `  # New passwords for postgres and pgo_replication, without asking
  kubectl pgo rotate password hippo --yes`

const rotateKeysLong = `Switch a cluster's object store to new keys, in a Secret of your own, after
proving that they can read and write its repository.

Give one of --s3-credentials-secret (keys aws-s3-key and aws-s3-key-secret),
--gcs-key-secret (the key of the cluster's GCS key type) or
--azure-key-secret (azure-key). A probe pod, a copy of the repository host
with the new Secret, reads each repository in that store (backup.info,
decrypted) and writes to it (an annotation on its newest backup, or a small
object it removes); keys that cannot are refused, and nothing changes. Then
the cluster's settings take the new Secret, and the pods that run pgBackRest
restart (pgBackRest reads the keys from its environment): WAL archiving
pauses for those seconds and resumes, nothing is lost. It ends with
pgbackrest check. The old Secret is no longer read; revoke its keys
afterwards.

` + rotateRefusals

const rotateKeysExample = `  # Switch the S3 repository to the keys of Secret hippo-s3-2024
  kubectl pgo rotate keys hippo --s3-credentials-secret=hippo-s3-2024

  # The same, under the name of the S3 subcommand
  kubectl pgo rotate s3-keys hippo --s3-credentials-secret=hippo-s3-2024 --yes`

const rotateCipherPassLong = `The repository passphrase cannot be rotated: this command refuses, changes
nothing, and says what to do instead.

pgBackRest has no command that re-encrypts a repository or changes its
passphrase: the passphrase encrypts archive.info and backup.info, which hold
the keys of the WAL and of each backup, so a new passphrase could read none of
the existing backups. Use a new repository with a new passphrase instead (see
"Rotation" in the README): a new cluster made with --restore-from and
--pgbackrest-repo-cipher-secret, a full backup of it, and the old cluster kept
for the retention window.`

// rotateOptions holds what the rotate commands share: NAME, --yes,
// --dry-run, -o, --wait and --timeout.
type rotateOptions struct {
	execTarget
	confirmation
	DryRun      string
	Wait        bool
	WaitForJobs bool
	Timeout     time.Duration
	Output      *printers.OutputFlags

	pollInterval time.Duration
	genericiooptions.IOStreams
}

func newRotateOptions(streams genericiooptions.IOStreams) rotateOptions {
	return rotateOptions{confirmation: newConfirmation(), DryRun: apply.DryRunNone, Wait: true, WaitForJobs: true, Timeout: apply.DefaultWaitTimeout,
		Output: printers.NewOutputFlags(printers.DefaultFormats...), pollInterval: 2 * time.Second, IOStreams: streams}
}

func (o *rotateOptions) addFlags(cmd *cobra.Command, what string) {
	o.Output.AddFlags(cmd)
	fl := cmd.Flags()
	fl.BoolVarP(&o.Yes, "yes", "y", false, "Rotate the "+what+" without asking for confirmation.")
	fl.StringVar(&o.DryRun, "dry-run", o.DryRun, `"none", or "client": read the cluster, say what would be done, change nothing.`)
	fl.BoolVar(&o.Wait, "wait", o.Wait, "Wait until every pod uses the new "+what+", printing progress. A rotation always waits: it is not done before; --wait=false is refused.")
	fl.BoolVar(&o.WaitForJobs, "wait-for-jobs", o.WaitForJobs, "Wait for a backup or dump Job of the cluster that runs to end before rotating (bounded by --timeout); false refuses the rotation while one runs.")
	fl.DurationVar(&o.Timeout, "timeout", o.Timeout, "How long the rotation may take (and, before it, the wait for running Jobs).")
	_ = cmd.RegisterFlagCompletionFunc("dry-run", fixedCompletions(apply.DryRunNone, apply.DryRunClient))
}

// validate checks NAME and the shared flags; it sends no request.
func (o *rotateOptions) validate(cmd *cobra.Command) error {
	if err := o.execTarget.validate(cmd, o.Output); err != nil {
		return err
	}
	if !slices.Contains([]string{apply.DryRunNone, apply.DryRunClient}, o.DryRun) {
		return usageErrorf(cmd, `invalid --dry-run value %q: use "none" or "client"`, o.DryRun)
	}
	if !o.Wait {
		return usageErrorf(cmd, "--wait=false cannot be used: a rotation is done only once every pod uses what it changed, so it always waits (--timeout bounds it)")
	}
	return validateTimeout(cmd, o.Timeout)
}

// request reads the cluster (refused with the usual wording when it does
// not exist) and returns the clients and what pkg/rotate needs.
func (o *rotateOptions) request(ctx context.Context) (*apply.Clients, rotate.Request, error) {
	c, spec, err := o.clientsAndSpec(ctx)
	if err != nil {
		return nil, rotate.Request{}, err
	}
	return c, rotate.Request{Spec: spec, Exec: apply.ExecFunc(o.exec), Progress: progressStream(o.Output, o.Out, o.ErrOut),
		Poll: o.pollInterval, Timeout: o.Timeout, WaitForJobs: o.WaitForJobs}, nil
}

// RotateDryRun is what a rotation with --dry-run=client prints with -o.
type RotateDryRun struct {
	Cluster   string   `json:"cluster"`
	Namespace string   `json:"namespace"`
	Rotation  string   `json:"rotation"`
	Steps     []string `json:"steps"`
	// Objects are what would be written or created, by kind/name.
	Objects []string `json:"objects"`
}

// run prints the steps, asks, and runs the rotation; with --dry-run=client
// it prints them and stops.
func (o *rotateOptions) run(w io.Writer, what string, steps []string, objects []string, do func() (any, error)) error {
	if o.DryRun == apply.DryRunClient {
		fmt.Fprintf(w, "rotation of the %s of cluster %s in namespace %s (dry run): nothing is changed\n", what, o.Name, o.namespace)
		for i, s := range steps {
			fmt.Fprintf(w, "  %d. %s\n", i+1, s)
		}
		if o.Output.Format() == printers.FormatTable {
			return nil
		}
		return o.Output.Print(o.Out, nil, RotateDryRun{Cluster: o.Name, Namespace: o.namespace, Rotation: what, Steps: steps, Objects: objects})
	}
	return o.runPlanned(o.In, o.Out, o.ErrOut, w, o.Output, plannedChange{
		cluster: o.Name, verb: "rotate the " + what + " of", done: "changed",
		question: func() string { return rotateQuestion(o.Name, o.namespace, what, steps) },
		run:      do,
	})
}

func rotateQuestion(name, ns, what string, steps []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "This rotates the %s of cluster %q in namespace %q:\n", what, name, ns)
	for i, s := range steps {
		fmt.Fprintf(&b, "  %d. %s\n", i+1, s)
	}
	b.WriteString("Rotate? [y/N]: ")
	return b.String()
}

// NewCmdRotate returns `kubectl pgo rotate`, the parent of the rotations.
func NewCmdRotate(f kube.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	cmd := newGroup(streams, "rotate", "Replace a cluster's certificates, passwords or object-store keys")
	cmd.AddCommand(NewCmdRotateCerts(f, streams), NewCmdRotatePassword(f, streams), NewCmdRotateKeys(f, streams), NewCmdRotateCipherPass(f, streams))
	return cmd
}

// RotateCertsOptions holds the flags of `kubectl pgo rotate certs`.
type RotateCertsOptions struct {
	rotateOptions
	NewCA         bool
	CAGrace       time.Duration
	ReloadOnly    bool
	CACert, CAKey string
	ownCA         *cluster.OwnCA
}

// NewCmdRotateCerts returns `kubectl pgo rotate certs NAME`.
func NewCmdRotateCerts(f kube.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &RotateCertsOptions{rotateOptions: newRotateOptions(streams), CAGrace: rotate.DefaultCAGrace}
	cmd := newCommand(f, o, streams, commandHelp{"certs NAME", "Sign new certificates from the cluster's CA; PostgreSQL and pgBackRest reload them", rotateCertsLong, rotateCertsExample})
	o.addFlags(cmd, "certificates")
	cmd.Flags().BoolVar(&o.NewCA, "new-ca", false, "A new CA too: both CAs are trusted during the switch, then the old one is dropped.")
	cmd.Flags().DurationVar(&o.CAGrace, "new-ca-grace", o.CAGrace, "With --new-ca: how long every side trusts both CAs before the new one signs, so that applications that mount the CA ConfigMap get both.")
	cmd.Flags().BoolVar(&o.ReloadOnly, "reload-only", false, "Sign nothing: make every pod load the certificates the Secret holds, and check what each server presents.")
	cmd.Flags().StringVar(&o.CACert, "ca-cert", "", "With --new-ca and --ca-key: PEM file of a CA of your own PKI to switch to, then its issuers up to the root (instead of a CA kubectl-pgo generates).")
	cmd.Flags().StringVar(&o.CAKey, "ca-key", "", "With --new-ca and --ca-cert: PEM file of that CA's private key, unencrypted (PKCS#8, PKCS#1 or SEC1).")
	_ = cmd.MarkFlagFilename("ca-cert", "pem", "crt")
	_ = cmd.MarkFlagFilename("ca-key", "pem", "key")
	cmd.ValidArgsFunction = CompleteClusterNames(f)
	return cmd
}

// Validate checks the flags; it sends no request.
func (o *RotateCertsOptions) Validate(cmd *cobra.Command) error {
	if err := o.validate(cmd); err != nil {
		return err
	}
	if o.NewCA && o.ReloadOnly {
		return usageErrorf(cmd, "--new-ca and --reload-only cannot be used together: --reload-only signs nothing")
	}
	if o.CAGrace < 0 {
		return usageErrorf(cmd, "invalid --new-ca-grace %s: it must be 0 or more", o.CAGrace)
	}
	if cmd.Flags().Changed("new-ca-grace") && !o.NewCA {
		return usageErrorf(cmd, "--new-ca-grace goes with --new-ca")
	}
	return o.validateOwnCA(cmd)
}

// validateOwnCA reads and checks --ca-cert and --ca-key (cluster.CheckOwnCA),
// as kubectl create secret tls reads --cert and --key: before any request.
func (o *RotateCertsOptions) validateOwnCA(cmd *cobra.Command) error {
	if o.CACert == "" && o.CAKey == "" {
		return nil
	}
	if o.CACert == "" || o.CAKey == "" {
		return usageErrorf(cmd, "--ca-cert and --ca-key go together: the certificate of your CA and its private key")
	}
	if !o.NewCA {
		return usageErrorf(cmd, "--ca-cert and --ca-key go with --new-ca: give --new-ca to switch the cluster to that CA")
	}
	var files [2]cluster.OwnCAFile
	for i, flag := range []struct{ name, path string }{{"--ca-cert", o.CACert}, {"--ca-key", o.CAKey}} {
		data, err := os.ReadFile(flag.path)
		if err != nil {
			return usageErrorf(cmd, "cannot read %s file: %v", flag.name, err)
		}
		files[i] = cluster.OwnCAFile{Name: flag.name + " file " + flag.path, Data: data}
	}
	own, err := cluster.CheckOwnCA(files[0], files[1], o.Name, o.namespace, time.Now())
	if err != nil {
		return usageErrorf(cmd, "%v", err)
	}
	o.ownCA = own
	return nil
}

// Run plans, asks and rotates.
func (o *RotateCertsOptions) Run(ctx context.Context) error {
	c, req, err := o.request(ctx)
	if err != nil {
		return err
	}
	if o.NewCA {
		plan, err := rotate.PlanNewCA(ctx, c, req, o.ownCA, o.DryRun == apply.DryRunNone)
		if err != nil {
			return err
		}
		return o.run(req.Progress, "CA and certificates", plan.Steps(o.CAGrace), []string{"Secret/" + plan.Secret.Name, "ConfigMap/" + cluster.CAConfigMapName(o.Name)},
			func() (any, error) { return rotate.NewCA(ctx, c, req, plan, o.CAGrace) })
	}
	plan, err := rotate.PlanCerts(ctx, c, req, o.DryRun == apply.DryRunNone)
	if err != nil {
		return err
	}
	if o.ReloadOnly {
		steps := plan.ReloadSteps()
		return o.run(req.Progress, "certificates", steps, nil, func() (any, error) { return rotate.Reload(ctx, c, req, plan) })
	}
	return o.run(req.Progress, "certificates", plan.Steps(0), []string{"Secret/" + plan.Secret.Name}, func() (any, error) { return rotate.Certs(ctx, c, req, plan) })
}

// RotatePasswordOptions holds the flags of `kubectl pgo rotate password`.
type RotatePasswordOptions struct{ rotateOptions }

// NewCmdRotatePassword returns `kubectl pgo rotate password NAME`.
func NewCmdRotatePassword(f kube.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &RotatePasswordOptions{newRotateOptions(streams)}
	cmd := newCommand(f, o, streams, commandHelp{"password NAME", "Change the superuser's and the replication role's passwords", rotatePasswordLong, rotatePasswordExample})
	o.addFlags(cmd, "passwords")
	cmd.ValidArgsFunction = CompleteClusterNames(f)
	return cmd
}

// Validate checks the flags; it sends no request.
func (o *RotatePasswordOptions) Validate(cmd *cobra.Command) error { return o.validate(cmd) }

// Run plans, asks and rotates.
func (o *RotatePasswordOptions) Run(ctx context.Context) error {
	c, req, err := o.request(ctx)
	if err != nil {
		return err
	}
	plan, err := rotate.PlanPassword(ctx, c, req, o.DryRun == apply.DryRunNone)
	if err != nil {
		return err
	}
	return o.run(req.Progress, "passwords", plan.Steps(), []string{"Secret/" + plan.Secret.Name}, func() (any, error) { return rotate.Password(ctx, c, req, plan) })
}

// RotateKeysOptions holds the flags of `kubectl pgo rotate keys`.
type RotateKeysOptions struct {
	rotateOptions
	S3Secret, GCSSecret, AzureSecret string

	store  repo.Type
	secret string
}

// NewCmdRotateKeys returns `kubectl pgo rotate keys NAME` (also s3-keys).
func NewCmdRotateKeys(f kube.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &RotateKeysOptions{rotateOptions: newRotateOptions(streams)}
	cmd := newCommand(f, o, streams, commandHelp{"keys NAME --s3-credentials-secret=SECRET|--gcs-key-secret=SECRET|--azure-key-secret=SECRET",
		"Switch an object store to new keys, once proven to read and write its repository", rotateKeysLong, rotateKeysExample})
	cmd.Aliases = []string{"s3-keys", "gcs-key", "azure-key"}
	o.addFlags(cmd, "keys")
	fl := cmd.Flags()
	fl.StringVar(&o.S3Secret, "s3-credentials-secret", "", "Secret with the new S3 keys "+cluster.KeyS3Key+" and "+cluster.KeyS3KeySecret+".")
	fl.StringVar(&o.GCSSecret, "gcs-key-secret", "", "Secret with the new GCS key (the key of the cluster's GCS key type).")
	fl.StringVar(&o.AzureSecret, "azure-key-secret", "", "Secret with the new Azure key "+cluster.KeyAzureKey+".")
	_ = cmd.RegisterFlagCompletionFunc("s3-credentials-secret", userSecretCompletion(f, cluster.KeyS3Key))
	_ = cmd.RegisterFlagCompletionFunc("azure-key-secret", userSecretCompletion(f, cluster.KeyAzureKey))
	cmd.ValidArgsFunction = CompleteClusterNames(f)
	return cmd
}

// Validate checks that exactly one Secret is given, by a valid name; it
// sends no request.
func (o *RotateKeysOptions) Validate(cmd *cobra.Command) error {
	if err := o.validate(cmd); err != nil {
		return err
	}
	given := 0
	for _, s := range []struct {
		flag, value string
		store       repo.Type
	}{{"--s3-credentials-secret", o.S3Secret, repo.S3}, {"--gcs-key-secret", o.GCSSecret, repo.GCS}, {"--azure-key-secret", o.AzureSecret, repo.Azure}} {
		if s.value == "" {
			continue
		}
		if err := validateObjectName(s.flag, s.value); err != nil {
			return usageErrorf(cmd, "%v", err)
		}
		given++
		o.store, o.secret = s.store, s.value
	}
	if given != 1 {
		return usageErrorf(cmd, "give exactly one of --s3-credentials-secret, --gcs-key-secret and --azure-key-secret: the Secret with the new keys of that object store")
	}
	return nil
}

// Run plans (the Secret is checked), asks, proves and switches.
func (o *RotateKeysOptions) Run(ctx context.Context) error {
	c, req, err := o.request(ctx)
	if err != nil {
		return err
	}
	plan, err := rotate.PlanKeys(ctx, c, req, o.store, o.secret, o.DryRun == apply.DryRunNone)
	if err != nil {
		return err
	}
	return o.run(req.Progress, string(o.store)+" keys", plan.Steps(), []string{"Pod/" + plan.Probe.Name, "ConfigMap/" + cluster.SettingsConfigMapName(o.Name)},
		func() (any, error) { return rotate.Keys(ctx, c, req, plan) })
}

// RotateCipherPassOptions is `kubectl pgo rotate cipher-pass`, which
// refuses.
type RotateCipherPassOptions struct{ execTarget }

// NewCmdRotateCipherPass returns `kubectl pgo rotate cipher-pass NAME`.
func NewCmdRotateCipherPass(f kube.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &RotateCipherPassOptions{}
	cmd := newCommand(f, o, streams, commandHelp{"cipher-pass NAME", "Refused: pgBackRest cannot change a repository's passphrase; says what to do instead", rotateCipherPassLong, ""})
	cmd.ValidArgsFunction = CompleteClusterNames(f)
	return cmd
}

// Validate checks NAME; it sends no request.
func (o *RotateCipherPassOptions) Validate(cmd *cobra.Command) error {
	if err := validateClusterName(o.Name); err != nil {
		return usageErrorf(cmd, "%v", err)
	}
	return nil
}

// Run refuses, without a request.
func (o *RotateCipherPassOptions) Run(context.Context) error {
	return rotate.CipherPassRefusal(o.Name, o.namespace)
}
