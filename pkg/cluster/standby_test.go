package cluster

import (
	"strings"
	"testing"
)

// A standby's settings: a valid source that is not the cluster itself, no replicas; it may not
// be added to an existing cluster nor changed; what a standby cannot do names the source.
func TestStandbySettings(t *testing.T) {
	base := Spec{Name: "dr", Namespace: "dr", Standby: &StandbySpec{Source: "hippo", SourceNamespace: "prod"}}
	base.Default()
	if err := base.Validate(); err != nil {
		t.Fatalf("a valid standby: %v", err)
	}
	withReplicas := base
	withReplicas.Replicas = 2
	if err := withReplicas.Validate(); err != nil {
		t.Errorf("a standby with replicas: %v", err)
	}
	for _, tc := range []struct {
		name   string
		change func(*Spec)
		want   string
	}{
		{"source name", func(s *Spec) { s.Standby.Source = "Bad_Name" }, `the standby's source "Bad_Name" is not a cluster name`},
		{"source namespace", func(s *Spec) { s.Standby.SourceNamespace = "Bad_NS" }, `the standby's source namespace "Bad_NS" is not valid`},
		{"itself", func(s *Spec) { s.Standby = &StandbySpec{Source: "dr", SourceNamespace: "dr"} }, `cluster "dr" cannot be a standby of itself`},
	} {
		s := base
		sb := *base.Standby
		s.Standby = &sb
		tc.change(&s)
		if err := s.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}

	plain := base
	plain.Standby = nil
	if err := CheckImmutable(plain, base); err == nil || !strings.Contains(err.Error(), "a cluster becomes a standby only when it is created with --standby") {
		t.Errorf("an existing cluster made a standby: err = %v", err)
	}
	other := base
	other.Standby = &StandbySpec{Source: "zebra", SourceNamespace: "prod"}
	if err := CheckImmutable(base, other); err == nil || !strings.Contains(err.Error(), "the standby's source is immutable: the cluster uses prod/hippo, the request says prod/zebra") {
		t.Errorf("another source: err = %v", err)
	}
	if err := CheckImmutable(base, base); err != nil {
		t.Errorf("the same standby: %v", err)
	}
	if err := CheckImmutable(base, plain); err != nil {
		t.Errorf("promoted (no standby any more): %v", err)
	}

	if err := plain.RefuseStandby("a backup"); err != nil {
		t.Errorf("RefuseStandby of a cluster that is not a standby: %v", err)
	}
	if err := base.RefuseStandby("a backup"); err == nil || !strings.Contains(err.Error(), `cluster "dr" is a standby of cluster "hippo": a backup is not possible while it is one. Promote it first (kubectl pgo promote dr -n dr)`) {
		t.Errorf("RefuseStandby: %v", err)
	}
}

// The standby's pgbackrest.conf reads the source's repositories with the files where the Secret
// is mounted: the TLS files and the S3 CA, and the source's repository host by the name given.
func TestStandbySourceConf(t *testing.T) {
	source := Spec{Name: "hippo", Namespace: "prod", StorageType: []StorageType{StorageLocal, StorageS3, StorageGCS},
		S3:  &S3Spec{Bucket: "backups", Endpoint: "s3.example:9000", URIStyle: "path", VerifyTLS: true, CASecret: "s3-ca", CredentialsSecret: "keys"},
		GCS: &GCSSpec{Bucket: "backups", CASecret: "gcs-ca", CredentialsSecret: "gcs-key"}}
	source.Default()
	flat := map[string]string{S3CAFile: "s3-ca.crt", GCSCAFile: "gcs-ca.crt", GCSKeyFile: "gcs-key.json"}
	conf, err := StandbySourceConf(source, DataDirectory("dr"), "hippo-backrest-shared-repo.prod.svc", [3]string{"ca.crt", "db.crt", "db.key"},
		func(p string) string { return flat[p] })
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"repo1-host=hippo-backrest-shared-repo.prod.svc",
		"repo1-host-ca-file=/etc/pgbackrest-source/ca.crt",
		"repo1-host-key-file=/etc/pgbackrest-source/db.key",
		"repo2-storage-ca-file=/etc/pgbackrest-source/s3-ca.crt",
		"repo3-storage-ca-file=/etc/pgbackrest-source/gcs-ca.crt",
		"repo3-gcs-key=/etc/pgbackrest-source/gcs-key.json",
		"repo2-path=/backrestrepo/hippo-backrest-shared-repo",
		"pg1-path=/pgdata/dr",
	} {
		if !strings.Contains(conf, want) {
			t.Errorf("conf lacks %q:\n%s", want, conf)
		}
	}
	if strings.Contains(conf, "/etc/pgbackrest/") {
		t.Errorf("conf names a file of the cluster's own configuration:\n%s", conf)
	}
}

func TestNormalizeStandbyHost(t *testing.T) {
	for in, want := range map[string]string{
		"hippo.prod.svc":       "hippo.prod.svc:5432",
		"hippo.prod.svc:6432":  "hippo.prod.svc:6432",
		"10.0.0.5":             "10.0.0.5:5432",
		"[2001:db8::1]:5433":   "[2001:db8::1]:5433",
		"db.example.com:15432": "db.example.com:15432",
	} {
		if got, err := NormalizeStandbyHost(in); err != nil || got != want {
			t.Errorf("NormalizeStandbyHost(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", ":5432", "h:0", "h:99999", "h:port", "host name", "user@h"} {
		if got, err := NormalizeStandbyHost(bad); err == nil {
			t.Errorf("NormalizeStandbyHost(%q) = %q, want an error", bad, got)
		}
	}
}
