package cmd

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/doctor"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/printers"
)

const doctorLong = `Check that a cluster can be backed up and restored, and say how to fix
what is wrong. Each check is marked ✓ (ok), ! (warning) or ✗ (failed):

- the Secrets: the superuser's password and the TLS material are there;
- the certificates: valid for the cluster, and for more than 30 days;
- the database pod and the repository host's pod run;
- for each repository: the repository host answers (pgbackrest server-ping,
  both ways), the stanza exists, the last successful backup is younger
  than --max-backup-age, and the repository PVC has room (df and du in the
  repository host's pod: warning from 80%, failed from 95%);
- WAL archiving: pg_stat_archiver (the last attempt did not fail), the WAL
  segments waiting in pg_wal/archive_status, the age of the last archived
  segment, and pgbackrest check (it switches to a new WAL segment and waits
  for it in the repository; skip it with --no-check).

The command exits non-zero when a check failed (warnings do not count), so
that it can drive an alert.`

const doctorExample = `  # Is cluster hippo healthy?
  kubectl pgo doctor hippo

  # As JSON, for a monitoring script, with daily backups expected
  kubectl pgo doctor hippo --max-backup-age=26h -o json`

// The report of doctor -o json|yaml, and its checks (pkg/doctor).
type (
	DoctorReport = doctor.Report
	DoctorCheck  = doctor.Check
)

// The results of a check that test/e2e reads.
const CheckOK, CheckFailed = doctor.OK, doctor.Failed

// DoctorOptions holds the flags and clients of `kubectl pgo doctor`.
type DoctorOptions struct {
	Name         string
	MaxBackupAge time.Duration
	NoCheck      bool
	Output       *printers.OutputFlags

	namespace string
	client    kubernetes.Interface
	exec      execFunc
	now       func() time.Time
	genericiooptions.IOStreams
}

// NewDoctorOptions returns options with the defaults.
func NewDoctorOptions(streams genericiooptions.IOStreams) *DoctorOptions {
	return &DoctorOptions{MaxBackupAge: doctor.DefaultMaxBackupAge, Output: printers.NewOutputFlags(printers.DefaultFormats...), now: time.Now, IOStreams: streams}
}

// NewCmdDoctor returns `kubectl pgo doctor`.
func NewCmdDoctor(f kube.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	return newCmdDoctor(f, NewDoctorOptions(streams))
}

func newCmdDoctor(f kube.Factory, o *DoctorOptions) *cobra.Command {
	cmd := newCommand(f, o, o.IOStreams, commandHelp{
		"doctor NAME",
		"Check a cluster's Secrets, certificates, repositories, backups and WAL archiving",
		doctorLong, doctorExample})
	fl := cmd.Flags()
	cmd.ValidArgsFunction = CompleteClusterNames(f)
	fl.DurationVar(&o.MaxBackupAge, "max-backup-age", o.MaxBackupAge, "The last successful backup of each repository must be younger than this.")
	fl.BoolVar(&o.NoCheck, "no-check", false, "Do not run pgbackrest check (which switches to a new WAL segment).")
	o.Output.AddFlags(cmd)
	return cmd
}

// Complete reads the argument and the namespace.
func (o *DoctorOptions) Complete(f kube.Factory, cmd *cobra.Command, args []string) error {
	if len(args) != 1 {
		return usageErrorf(cmd, "%s takes one cluster name, got %d arguments", cmd.CommandPath(), len(args))
	}
	o.Name = args[0]
	ns, _, err := f.Namespace()
	if err != nil {
		return kubeconfigError(err)
	}
	o.namespace = ns
	o.exec = execOr(o.exec, explainedFactoryExec(f))
	if o.client == nil {
		if o.client, err = f.KubernetesClient(); err != nil {
			return kubeconfigError(err)
		}
	}
	return nil
}

// Validate refuses bad flags before any request.
func (o *DoctorOptions) Validate(cmd *cobra.Command) error {
	if err := validateClusterName(o.Name); err != nil {
		return usageErrorf(cmd, "%v", err)
	}
	if o.MaxBackupAge <= 0 {
		return usageErrorf(cmd, "--max-backup-age must be positive, got %s", o.MaxBackupAge)
	}
	if err := o.Output.Validate(); err != nil {
		return usageErrorf(cmd, "%v", err)
	}
	return nil
}

// Run gathers the facts, judges them and prints the report.
func (o *DoctorOptions) Run(ctx context.Context) error {
	spec, err := readClusterSpec(ctx, o.client, o.namespace, o.Name)
	if err != nil {
		return err
	}
	facts, err := doctor.Gather(ctx, o.client, o.exec, spec, doctor.Options{Namespace: o.namespace, Name: o.Name, Now: o.now(), NoCheck: o.NoCheck})
	if err != nil {
		return err
	}
	report := doctor.NewReport(o.Name, o.namespace, doctor.Diagnose(facts, o.MaxBackupAge))
	if o.Output.Format() == printers.FormatTable {
		err = report.WriteText(o.Out)
	} else {
		err = o.Output.Print(o.Out, nil, report)
	}
	if err != nil {
		return err
	}
	if !report.Healthy {
		var names []string
		for _, c := range report.Checks {
			if c.Status == CheckFailed {
				names = append(names, c.Name)
			}
		}
		return fmt.Errorf("cluster %q in namespace %q: %d of %d checks failed: %s",
			o.Name, o.namespace, report.Failed, len(report.Checks), strings.Join(names, ", "))
	}
	return nil
}
