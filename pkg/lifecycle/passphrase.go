package lifecycle

import (
	"context"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/apply"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/inspect"
)

// PassphraseRisk is an encrypted cluster whose deletion would delete the
// only passphrase known of backups that stay in its bucket.
type PassphraseRisk struct {
	Name       string
	Passphrase *inspect.Passphrase
	// Bucket is where the backups stay: "S3 bucket b at endpoint", or
	// several object stores (cluster.Spec.ObjectStores).
	Bucket string
}

// PassphraseAtRisk tells whether deleting cluster name (with
// --keep-backups when keepBackups) would delete the only passphrase
// known of backups that stay: nil when it would not, or when the cluster
// has no settings left to say.
func PassphraseAtRisk(ctx context.Context, c *apply.Clients, ns, name string, keepBackups bool) (*PassphraseRisk, error) {
	spec, found, err := readSettings(ctx, c, ns, name)
	if err != nil {
		return unreadableSettingsRisk(ctx, c, ns, name, keepBackups, err)
	}
	if !found {
		return nil, nil
	}
	p, err := inspect.ReadPassphrase(ctx, c.Client, spec, keepBackups)
	if err != nil {
		return nil, fmt.Errorf("cannot tell whether deleting cluster %q would delete the passphrase of its backups: %w; pass --discard-passphrase to delete it without this check",
			name, apply.APIError(c, err))
	}
	if p == nil || !p.LostOnDelete {
		return nil, nil
	}
	return &PassphraseRisk{Name: name, Passphrase: p, Bucket: spec.ObjectStores()}, nil
}

// Warning says what the deletion loses, and the command that saves the
// passphrase.
func (r *PassphraseRisk) Warning() string {
	p := r.Passphrase
	var b strings.Builder
	fmt.Fprintf(&b, "The backups of cluster %s in %s stay after the delete, but they are encrypted, and their passphrase is only in Secret %s/%s (key %s), which is deleted with the cluster: without it they can never be restored.\n",
		r.Name, r.Bucket, p.Namespace, p.Secret, p.Key)
	fmt.Fprintf(&b, "Save a copy first (delete cluster finds it and leaves it alone; keep one outside this Kubernetes cluster too):\n  %s\n",
		cluster.SaveCipherPassCommand(r.Name, p.Namespace))
	return b.String()
}

// Refusal is the error of a deletion without --discard-passphrase.
func (r *PassphraseRisk) Refusal() error {
	return fmt.Errorf("refusing to delete cluster %q: it would delete the passphrase of backups that stay.\n%s"+
		"Then run this delete again; or keep the Secret with --keep-backups; or, to delete it anyway and leave those backups unreadable, pass --discard-passphrase --yes. Nothing was deleted",
		r.Name, r.Warning())
}

// unreadableSettingsRisk judges a cluster whose settings cannot be read
// by its repository Secret alone: a generated passphrase in it may be
// the only key to backups in a bucket.
func unreadableSettingsRisk(ctx context.Context, c *apply.Clients, ns, name string, keepBackups bool, settingsErr error) (*PassphraseRisk, error) {
	if keepBackups {
		return nil, nil
	}
	secret, err := c.Client.CoreV1().Secrets(ns).Get(ctx, cluster.RepoConfigSecretName(name), metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("cannot tell whether deleting cluster %q would delete the passphrase of its backups (%v): %w; pass --discard-passphrase to delete it without this check",
			name, settingsErr, apply.APIError(c, err))
	case len(secret.Data[cluster.KeyCipherPass]) == 0:
		return nil, nil
	}
	p := &inspect.Passphrase{Secret: secret.Name, Namespace: ns, Key: cluster.KeyCipherPass, LostOnDelete: true}
	return &PassphraseRisk{Name: name, Passphrase: p, Bucket: fmt.Sprintf("its bucket (unknown: %v)", settingsErr)}, nil
}
