package inspect

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
)

// Passphrase is where an encrypted cluster's repository passphrase lives,
// and whether it outlives the cluster: show cluster, doctor and delete
// cluster say it.
type Passphrase struct {
	// Secret, in Namespace, holds it under Key.
	Secret    string `json:"secret"`
	Namespace string `json:"namespace"`
	Key       string `json:"key"`
	// Own is true for the user's Secret (--pgbackrest-repo-cipher-secret),
	// which delete cluster never deletes; false for the repository
	// Secret, which holds a generated one.
	Own bool `json:"own"`
	// Problem says why the Secret cannot give the passphrase; empty when
	// it can.
	Problem string `json:"problem,omitempty"`
	// Copies are Secrets of the user's ("namespace/name", not kubectl-pgo's)
	// that hold the same passphrase, looked for when it is at risk.
	Copies []string `json:"copies,omitempty"`
	// LostOnDelete: delete cluster without --keep-backups would delete the
	// only copy known while backups it encrypted stay in the bucket.
	LostOnDelete bool `json:"lostOnDelete"`
}

// ReadPassphrase reads where the passphrase of spec's cluster lives; nil
// for a cluster without a cipher. keepBackups is whether the cluster is
// to be deleted with --keep-backups (false for show and doctor, which say
// what a plain delete would do). A copy is looked for in every namespace
// the user may list Secrets of, else in the cluster's.
func ReadPassphrase(ctx context.Context, client kubernetes.Interface, spec cluster.Spec, keepBackups bool) (*Passphrase, error) {
	if spec.Cipher == "" {
		return nil, nil
	}
	p := &Passphrase{Secret: spec.PassphraseSecret(), Namespace: spec.Namespace, Key: cluster.KeyCipherPass, Own: spec.CipherSecret != ""}
	s, err := client.CoreV1().Secrets(p.Namespace).Get(ctx, p.Secret, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		p.Problem = fmt.Sprintf("Secret %s/%s does not exist", p.Namespace, p.Secret)
		return p, nil
	case err != nil:
		return nil, fmt.Errorf("reading the passphrase Secret %s/%s: %w", p.Namespace, p.Secret, err)
	}
	pass := s.Data[cluster.KeyCipherPass]
	if p.Own {
		if err := cluster.CheckCipherPass(p.Namespace+"/"+p.Secret, pass); err != nil {
			p.Problem = err.Error()
		}
		return p, nil
	}
	if len(pass) == 0 {
		p.Problem = fmt.Sprintf("Secret %s/%s has no %s", p.Namespace, p.Secret, cluster.KeyCipherPass)
		return p, nil
	}
	if !spec.PassphraseLostOnDelete(keepBackups) {
		return p, nil
	}
	if p.Copies, err = passphraseCopies(ctx, client, spec.Namespace, pass); err != nil {
		return nil, err
	}
	p.LostOnDelete = len(p.Copies) == 0
	return p, nil
}

// passphraseCopies lists the Secrets not made by kubectl-pgo that hold
// pass: in every namespace, or in ns when the user may not list them all.
func passphraseCopies(ctx context.Context, client kubernetes.Interface, ns string, pass []byte) ([]string, error) {
	list, err := client.CoreV1().Secrets(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if apierrors.IsForbidden(err) {
		list, err = client.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{})
	}
	if err != nil {
		return nil, fmt.Errorf("looking for a copy of the passphrase in the Secrets of namespace %s: %w", ns, err)
	}
	var copies []string
	for _, s := range list.Items {
		if s.Labels[cluster.LabelManagedBy] != cluster.FieldManager && bytes.Equal(s.Data[cluster.KeyCipherPass], pass) {
			copies = append(copies, s.Namespace+"/"+s.Name)
		}
	}
	slices.Sort(copies)
	return copies, nil
}

// Describe says in a line where the passphrase lives and what delete
// cluster does with it; Problem is apart.
func (p *Passphrase) Describe() string {
	where := fmt.Sprintf("Secret %s/%s, key %s", p.Namespace, p.Secret, p.Key)
	var b strings.Builder
	switch {
	case p.Own:
		fmt.Fprintf(&b, "in your %s, which delete cluster never deletes", where)
	case len(p.Copies) > 0:
		fmt.Fprintf(&b, "generated, in %s (deleted with the cluster); copies in %s", where, strings.Join(p.Copies, ", "))
	case p.LostOnDelete:
		fmt.Fprintf(&b, "generated, only in %s: delete cluster without --keep-backups deletes it, and the backups left in the bucket become unreadable", where)
	default:
		fmt.Fprintf(&b, "generated, in %s (kept by delete cluster --keep-backups)", where)
	}
	return b.String()
}

// SaveAdvice is the command that keeps a copy of a generated passphrase
// of cluster name, empty when none is needed.
func (p *Passphrase) SaveAdvice(name string) string {
	if p == nil || !p.LostOnDelete {
		return ""
	}
	return "save a copy of it, which delete cluster leaves alone: " + cluster.SaveCipherPassCommand(name, p.Namespace)
}
