package cmd

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/apply"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/jobs"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/printers"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/upgrade"
)

const upgradeLong = `Move a cluster to a newer PostgreSQL major in place, with pg_upgrade.

It takes a full backup of the old major first (--no-backup skips it), stops
the database (a clean shutdown archives its last WAL), and runs pg_upgrade in
a Job whose image has both majors (` + cluster.UpgradeImageRepository + `:MAJOR).
With --link (the default) the new data directory shares the old one's files:
fast, and no extra space; --copy copies them. Until pg_upgrade changes the old
data directory, a failure puts it back as it was. Then the database and the
repository host start with the new major's image, pgBackRest's stanza is
upgraded (stanza-upgrade), and the first full backup of the new major is
taken. The backups of the old major stay in the repository.

A cluster with replicas is refused: remove them first (update cluster
--replicas=0), and add them again after. It asks for confirmation unless
--yes; without a terminal to ask on, it refuses instead. For a move to a
new cluster instead, restore a pg_dumpall into it (restore --backup-type=pgdump
--backup-pvc=backup-OLD-pgdump-pvc).`

const upgradeExample = `  # PostgreSQL 15 to 17 in place, after a full backup
  kubectl pgo upgrade hippo --to=17

  # Copy the data files instead of linking them, without asking
  kubectl pgo upgrade hippo --to=17 --copy --yes`

// UpgradeOptions holds the flags and clients of kubectl pgo upgrade.
type UpgradeOptions struct {
	execTarget
	To                  int
	Copy, NoBackup      bool
	Image, UpgradeImage string
	Timeout             time.Duration
	confirmation

	pollInterval time.Duration
	now          func() time.Time
	genericiooptions.IOStreams
}

// NewUpgradeOptions returns options with the defaults.
func NewUpgradeOptions(streams genericiooptions.IOStreams) *UpgradeOptions {
	return &UpgradeOptions{Timeout: 30 * time.Minute, confirmation: newConfirmation(), pollInterval: 2 * time.Second, now: time.Now, IOStreams: streams}
}

// NewCmdUpgrade returns kubectl pgo upgrade NAME.
func NewCmdUpgrade(f kube.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := NewUpgradeOptions(streams)
	cmd := newCommand(f, o, o.IOStreams, commandHelp{"upgrade NAME --to=MAJOR",
		"Upgrade a cluster to a newer PostgreSQL major in place with pg_upgrade", upgradeLong, upgradeExample})
	fl := cmd.Flags()
	fl.IntVar(&o.To, "to", 0, "The PostgreSQL major to upgrade to: "+strings.Join(cluster.PostgresVersionNames(), ", ")+", newer than the cluster's.")
	fl.BoolVar(&o.Copy, "copy", false, "Copy the data files into the new data directory instead of linking them (pg_upgrade --copy): slower, and needs the space twice.")
	fl.BoolVar(&o.NoBackup, "no-backup", false, "Upgrade without taking a full backup of the old major first.")
	fl.StringVar(&o.Image, "image", "", "The cluster's image after the upgrade; the project's image of --to when empty.")
	fl.StringVar(&o.UpgradeImage, "upgrade-image", "", "The image of the upgrade Job, with the binaries of both majors; "+cluster.UpgradeImageRepository+":MAJOR when empty.")
	fl.DurationVar(&o.Timeout, "timeout", o.Timeout, "How long each step may take: the backups, the upgrade Job, the start of the new major.")
	fl.BoolVarP(&o.Yes, "yes", "y", false, "Upgrade without asking for confirmation.")
	_ = cmd.RegisterFlagCompletionFunc("to", fixedCompletions(cluster.PostgresVersionNames()...))
	cmd.ValidArgsFunction = CompleteClusterNames(f)
	return cmd
}

// Validate checks NAME and the flags; it sends no request.
func (o *UpgradeOptions) Validate(cmd *cobra.Command) error {
	if err := o.validate(cmd, printers.NewOutputFlags(printers.FormatTable)); err != nil {
		return err
	}
	if !cmd.Flags().Changed("to") {
		return usageErrorf(cmd, "--to is required: the PostgreSQL major to upgrade to (%s)", strings.Join(cluster.PostgresVersionNames(), ", "))
	}
	if !slices.Contains(cluster.PostgresVersions, o.To) {
		return usageErrorf(cmd, "--to=%d: PostgreSQL %d is not supported: use one of %s", o.To, o.To, strings.Join(cluster.PostgresVersionNames(), ", "))
	}
	for flag, image := range map[string]string{"--image": o.Image, "--upgrade-image": o.UpgradeImage} {
		if strings.ContainsAny(image, " \t\n") {
			return usageErrorf(cmd, "%s=%q is not an image reference", flag, image)
		}
	}
	if v, ok := cluster.ProjectImageVersion(o.Image); ok && v != o.To {
		return usageErrorf(cmd, "--image=%s is PostgreSQL %d, not %d (--to)", o.Image, v, o.To)
	}
	return validateTimeout(cmd, o.Timeout)
}

// Run checks the cluster (upgrade.Upgrader.Check), asks, and upgrades it.
func (o *UpgradeOptions) Run(ctx context.Context) error {
	c, err := newAPIClients(o.factory)
	if err != nil {
		return err
	}
	mode := jobs.UpgradeLink
	if o.Copy {
		mode = jobs.UpgradeCopy
	}
	u := upgrade.Upgrader{Clients: c, Exec: apply.ExecFunc(o.exec), Out: o.Out, Log: o.Out}
	plan, err := u.Check(ctx, upgrade.Request{Name: o.Name, Namespace: o.namespace, To: o.To, Mode: mode, NoBackup: o.NoBackup,
		Image: o.Image, UpgradeImage: o.UpgradeImage, Timeout: o.Timeout, Poll: o.pollInterval, Now: o.now})
	if err != nil {
		return err
	}
	err = o.confirmDelete(o.In, o.Out, func() string { return plan.Describe() + "\nUpgrade? [y/N]: " },
		fmt.Errorf("refusing to upgrade cluster %q without confirmation: stdin is not a terminal to ask on; pass --yes to upgrade. Nothing was changed", o.Name),
		fmt.Errorf("cancelled: cluster %q was not upgraded", o.Name))
	if err != nil {
		return err
	}
	return u.Run(ctx, plan)
}
