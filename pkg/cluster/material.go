package cluster

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// Keys of the repository Secret (<c>-backrest-repo-config).
const (
	KeyCACert   = "ca.crt"
	KeyCAKey    = "ca.key"
	KeyDBCert   = "db.crt"
	KeyDBKey    = "db.key"
	KeyRepoCert = "repo.crt"
	KeyRepoKey  = "repo.key"
	// KeyCipherPass is the passphrase of encrypted repositories.
	KeyCipherPass = "cipher-pass"
)

// Keys of the postgres Secret (<c>-postgres-secret), as in v4.
const (
	KeyUsername = "username"
	KeyPassword = "password"
	// KeyReplicationPassword is the password of ReplicationUser.
	KeyReplicationPassword = "replication-password"

	// Superuser is the PostgreSQL superuser initdb creates.
	Superuser = "postgres"
)

// Material is a cluster's secret material: what Render puts in the
// Secrets. It is random, so it is generated once and then read back from
// the Secrets; see LoadOrGenerateMaterial.
type Material struct {
	PKI      PKI
	Password string
	// S3Key and S3KeySecret are the S3 keys given as flags, kept in the
	// repository Secret; empty when the user's own Secret holds them.
	S3Key, S3KeySecret string
	// CipherPass encrypts the repositories when Spec.Cipher is set and
	// Spec.CipherSecret is not (the passphrase is then the user's).
	CipherPass string
	// ReplicationPassword is ReplicationUser's: the primary sets it at
	// every start, the replicas stream with it.
	ReplicationPassword string
}

// NewPassword returns a random password: 32 bytes from crypto/rand,
// base64url without padding (43 characters), safe in a connection URI.
func NewPassword() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// LoadOrGenerateMaterial returns the material stored in the cluster's
// existing Secrets, and generates what is missing: pass nil for a Secret
// that does not exist. Reusing the stored material is what makes a re-run
// of create a no-op: new certificates or a new password would change the
// Secrets (and a new password would not even match the database's).
func LoadOrGenerateMaterial(spec Spec, repoConfig, postgres *corev1.Secret, now time.Time) (Material, error) {
	var m Material
	var err error
	if repoConfig != nil {
		if m.PKI, err = PKIFromSecret(repoConfig); err == nil {
			err = m.PKI.Verify(spec.Name, spec.Namespace, now)
			// A database certificate made before the instances' Services
			// existed lacks their names: a new one from the same CA.
			if hostname := (x509.HostnameError{}); errors.As(err, &hostname) {
				if err = m.PKI.ReissueDatabase(spec.Name, spec.Namespace, now); err == nil {
					err = m.PKI.Verify(spec.Name, spec.Namespace, now)
				}
			}
		}
		if err != nil {
			advice := "delete it to have new certificates generated"
			if spec.Cipher != "" && spec.CipherSecret == "" {
				advice = "save the repository passphrase it holds first, which create cluster takes back from that copy (" +
					SaveCipherPassCommand(spec.Name, repoConfig.Namespace) + "), then " + advice
			}
			return Material{}, fmt.Errorf("secret %s/%s cannot be reused: %w; %s", repoConfig.Namespace, repoConfig.Name, err, advice)
		}
	} else if m.PKI, err = NewPKI(spec.Name, spec.Namespace, now); err != nil {
		return Material{}, err
	}
	if repoConfig != nil {
		m.S3Key, m.S3KeySecret = string(repoConfig.Data[KeyS3Key]), string(repoConfig.Data[KeyS3KeySecret])
		m.CipherPass = string(repoConfig.Data[KeyCipherPass])
	}
	// A passphrase is made once: a new one could not read what the old
	// one encrypted. The user's own Secret holds it apart from ours.
	if spec.CipherSecret != "" {
		m.CipherPass = ""
	} else if spec.Cipher != "" && m.CipherPass == "" {
		if m.CipherPass, err = NewPassword(); err != nil {
			return Material{}, err
		}
	}
	if postgres != nil {
		if m.Password, err = PasswordFromSecret(postgres); err != nil {
			return Material{}, err
		}
	} else if m.Password, err = NewPassword(); err != nil {
		return Material{}, err
	}
	if postgres != nil {
		m.ReplicationPassword = string(postgres.Data[KeyReplicationPassword])
	}
	// Clusters made before replicas have none yet: the primary sets the
	// new one at its next start.
	if m.ReplicationPassword == "" {
		if m.ReplicationPassword, err = NewPassword(); err != nil {
			return Material{}, err
		}
	}
	return m, nil
}

// PKIFromSecret reads the PKI from the repository Secret.
func PKIFromSecret(s *corev1.Secret) (PKI, error) {
	var missing []string
	get := func(key string) []byte {
		v := s.Data[key]
		if len(v) == 0 {
			missing = append(missing, key)
		}
		return v
	}
	p := PKI{
		CACert: get(KeyCACert), CAKey: get(KeyCAKey),
		DBCert: get(KeyDBCert), DBKey: get(KeyDBKey),
		RepoCert: get(KeyRepoCert), RepoKey: get(KeyRepoKey),
	}
	if len(missing) > 0 {
		return PKI{}, fmt.Errorf("keys %v are missing", missing)
	}
	return p, nil
}

// PasswordFromSecret reads the superuser password from the postgres
// Secret.
func PasswordFromSecret(s *corev1.Secret) (string, error) {
	if len(s.Data[KeyPassword]) == 0 {
		return "", fmt.Errorf("secret %s/%s has no %s: add it, or delete the Secret only if the database was never initialized",
			s.Namespace, s.Name, KeyPassword)
	}
	return string(s.Data[KeyPassword]), nil
}
