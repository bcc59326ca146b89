package doctor

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/cluster"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/inspect"
)

// loadedFact is one thing a pod has loaded of the cluster's Secrets: a
// mounted file, or the certificate a server presents.
type loadedFact struct {
	// where says what holds it: "PostgreSQL in hippo-0", "the files of
	// hippo-0".
	where string
	// secret and key are what it should equal; digest: value is the
	// sha256 of a password file, in hex.
	secret, key string
	digest      bool
	// served: a server's certificate, which a reload changes (else a
	// mounted file, which the kubelet changes).
	served bool
	value  string
	err    error
}

// gatherLoaded reads, in the primary (and the repository host, if the
// cluster has one), the mounted certificate and password files and the
// certificates PostgreSQL and the pgBackRest servers present.
func gatherLoaded(ctx context.Context, exec inspect.Exec, ns string, db, repoHost *corev1.Pod) []loadedFact {
	var mu sync.Mutex
	var facts []loadedFact
	var wg sync.WaitGroup
	add := func(f loadedFact, read func(ctx context.Context) (string, error)) {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(ctx, inspect.ExecTimeout)
			defer cancel()
			f.value, f.err = read(ctx)
			mu.Lock()
			facts = append(facts, f)
			mu.Unlock()
		})
	}
	if db != nil {
		p := db.Name
		add(loadedFact{where: "the files of " + p, secret: "repo", key: cluster.KeyDBCert}, func(ctx context.Context) (string, error) {
			return inspect.MountedFile(ctx, exec, ns, p, cluster.ContainerDatabase, cluster.TLSFile(cluster.KeyDBCert))
		})
		add(loadedFact{where: "PostgreSQL in " + p, secret: "repo", key: cluster.KeyDBCert, served: true}, func(ctx context.Context) (string, error) {
			return inspect.ServedCertificate(ctx, exec, ns, p)
		})
		add(loadedFact{where: "the pgBackRest server in " + p, secret: "repo", key: cluster.KeyDBCert, served: true}, func(ctx context.Context) (string, error) {
			return inspect.ServedPGBackRestCertificate(ctx, exec, ns, p, cluster.ContainerDatabase, cluster.KeyDBCert, cluster.KeyDBKey)
		})
		for path, key := range map[string]string{cluster.PasswordFile: cluster.KeyPassword, cluster.ReplicationPasswordFile: cluster.KeyReplicationPassword} {
			add(loadedFact{where: "the files of " + p, secret: "postgres", key: key, digest: true}, func(ctx context.Context) (string, error) {
				return inspect.MountedDigest(ctx, exec, ns, p, cluster.ContainerDatabase, path)
			})
		}
	}
	if repoHost != nil && (db == nil || repoHost.Name != db.Name) {
		p := repoHost.Name
		add(loadedFact{where: "the files of " + p, secret: "repo", key: cluster.KeyRepoCert}, func(ctx context.Context) (string, error) {
			return inspect.MountedFile(ctx, exec, ns, p, cluster.ContainerPGBackRest, cluster.TLSFile(cluster.KeyRepoCert))
		})
		add(loadedFact{where: "the pgBackRest server in " + p, secret: "repo", key: cluster.KeyRepoCert, served: true}, func(ctx context.Context) (string, error) {
			return inspect.ServedPGBackRestCertificate(ctx, exec, ns, p, cluster.ContainerPGBackRest, cluster.KeyRepoCert, cluster.KeyRepoKey)
		})
	}
	wg.Wait()
	return facts
}

// loadedCheck compares what the pods have loaded with what the Secrets
// hold: after a rotation (or a Secret changed by hand) a pod may still
// mount an old file (the kubelet syncs within a minute), or a server may
// still present an old certificate (it was not reloaded).
func loadedCheck(f Facts, d doctorFixes) Check {
	const name = "loaded secrets"
	secrets := map[string]*corev1.Secret{"repo": f.repoSecret, "postgres": f.postgresSecret}
	var stale, unknown []string
	servedStale, filesStale := false, false
	compared := 0
	for _, l := range f.loaded {
		s := secrets[l.secret]
		if s == nil {
			continue
		}
		want := s.Data[l.key]
		if l.err != nil {
			unknown = append(unknown, fmt.Sprintf("%s (%s): %s", l.where, l.key, strings.SplitN(l.err.Error(), "\n", 2)[0]))
			continue
		}
		compared++
		same := false
		if l.digest {
			sum := sha256.Sum256(want)
			same = strings.TrimSpace(l.value) == hex.EncodeToString(sum[:])
		} else {
			same = cluster.SameCertificate([]byte(l.value), want)
		}
		if same {
			continue
		}
		what := l.key + " differs from Secret " + s.Name
		if !l.digest {
			what = fmt.Sprintf("certificate %s, Secret %s holds %s", orUnread(cluster.CertificateSerial([]byte(l.value))), s.Name, cluster.CertificateSerial(want))
		}
		stale = append(stale, fmt.Sprintf("%s: %s", l.where, what))
		servedStale = servedStale || l.served
		filesStale = filesStale || !l.served
	}
	switch {
	case len(stale) > 0:
		var fixes []string
		if filesStale {
			fixes = append(fixes, fmt.Sprintf("a pod's files follow its Secrets within about a minute; if they stay old, restart the pod: kubectl delete pod -n %s POD", d.ns))
		}
		if servedStale {
			fixes = append(fixes, fmt.Sprintf("make the servers load the Secret's certificates: kubectl pgo rotate certs %s -n %s --reload-only", d.name, d.ns))
		}
		return Check{Name: name, Status: Warning, Detail: strings.Join(stale, "; "), Fix: strings.Join(fixes, "; ")}
	case compared == 0 && len(unknown) > 0:
		return Check{Name: name, Status: Warning, Detail: "unknown: " + strings.Join(unknown, "; "), Fix: d.podFix(cluster.PodName(d.name))}
	}
	detail := fmt.Sprintf("the pods mount and serve what the Secrets hold (%d compared)", compared)
	if len(unknown) > 0 {
		detail += "; not read: " + strings.Join(unknown, "; ")
	}
	return ok(name, detail)
}

func orUnread(s string) string {
	if s == "" {
		return "(unreadable)"
	}
	return s
}
