package cluster

import (
	"reflect"
	"strings"
	"testing"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/repo"
)

func TestDefault(t *testing.T) {
	s := Spec{Name: "hippo", Namespace: "pgo", StorageSize: "1024Mi", StorageType: []StorageType{" POSIX "}}
	flagValue := s.StorageType
	s.Default()
	want := Spec{
		Name: "hippo", Namespace: "pgo", PostgresVersion: DefaultPostgresVersion, Image: DefaultImage,
		StorageSize: "1Gi", RepoPVCSize: "2Gi", StorageType: []StorageType{StorageLocal},
		RepoPath: "/backrestrepo/hippo-backrest-shared-repo", RetentionFull: 2, RetentionFullType: repo.RetentionCount,
		RepoResources: DefaultRepoResources,
	}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("Default() =\n%+v\nwant\n%+v", s, want)
	}
	if flagValue[0] != " POSIX " {
		t.Error("Default changed the caller's slice")
	}
	again := s
	again.Default()
	if !reflect.DeepEqual(again, s) {
		t.Error("Default is not idempotent")
	}
}

func TestParseStorageType(t *testing.T) {
	for in, want := range map[string][]StorageType{
		"local":     {"local"},
		"local,s3":  {"local", "s3"},
		" posix , ": {"posix"},
		"":          nil,
	} {
		if got := ParseStorageType(in); !reflect.DeepEqual(got, want) {
			t.Errorf("ParseStorageType(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestMaxNameLength(t *testing.T) {
	// <c>-backrest-shared-repo is a Service name (a DNS-1035 label, 63
	// characters) and the longest of the derived names.
	if got, want := MaxNameLength(), 63-len("-backrest-shared-repo"); got != want {
		t.Errorf("MaxNameLength() = %d, want %d", got, want)
	}
	name := longName()
	for _, r := range nameRules {
		if derived := r.name(name); len(derived) > r.max {
			t.Errorf("%s: %q has %d characters, more than %d", r.what, derived, len(derived), r.max)
		}
	}
}

func TestValidate(t *testing.T) {
	valid := func() Spec {
		s := Spec{Name: "hippo", Namespace: "pgo"}
		s.Default()
		return s
	}
	for _, tc := range []struct {
		name   string
		modify func(*Spec)
		want   []string // substrings of the error; none means valid
	}{
		{"defaults", func(*Spec) {}, nil},
		{"posix is local", func(s *Spec) { s.StorageType = []StorageType{"posix"}; s.Default() }, nil},
		{"long but valid name", func(s *Spec) { s.Name = longName(); s.RepoPath = DefaultRepoPath(s.Name) }, nil},
		{"custom resources", func(s *Spec) {
			s.Resources = Resources{CPURequest: "500m", CPULimit: "1", MemoryRequest: "1Gi", MemoryLimit: "1Gi"}
		}, nil},
		{"no name", func(s *Spec) { s.Name = "" }, []string{"a cluster name is required"}},
		{"uppercase", func(s *Spec) { s.Name = "Hippo" }, []string{`cluster name "Hippo" is not valid`, "lower case"}},
		{"starts with a digit", func(s *Spec) { s.Name = "1hippo" }, []string{`cluster name "1hippo" is not valid`}},
		{"dot", func(s *Spec) { s.Name = "hip.po" }, []string{`cluster name "hip.po" is not valid`}},
		{"trailing dash", func(s *Spec) { s.Name = "hippo-" }, []string{"is not valid"}},
		{"too long", func(s *Spec) { s.Name = longName() + "y" }, []string{
			"is too long (43 characters)", "the repository host's Service would be", "use a name of at most 42 characters"}},
		{"no namespace", func(s *Spec) { s.Namespace = "" }, []string{"a namespace is required"}},
		{"bad namespace", func(s *Spec) { s.Namespace = "Bad_NS" }, []string{`namespace "Bad_NS" is not valid`}},
		{"postgres 16", func(s *Spec) { s.PostgresVersion = 16 }, []string{"PostgreSQL version 16 is not supported: use one of 15, 17, 18"}},
		{"the image of another major", func(s *Spec) { s.PostgresVersion, s.Image = 15, ImageFor(17) },
			[]string{"image ghcr.io/kubectl-pgo/postgres:17 is PostgreSQL 17, but the cluster's PostgreSQL version is 15: give --image=ghcr.io/kubectl-pgo/postgres:15"}},
		{"the image of another major, by digest", func(s *Spec) { s.PostgresVersion, s.Image = 15, ImageFor(18)+"@sha256:0123" }, []string{"is PostgreSQL 18"}},
		{"no image", func(s *Spec) { s.Image = " " }, []string{"image"}},
		{"bad size", func(s *Spec) { s.StorageSize = "lots" }, []string{`storage size "lots" is not a quantity`}},
		{"negative size", func(s *Spec) { s.StorageSize = "-1Gi" }, []string{`storage size "-1Gi" must be more than zero`}},
		{"zero repo size", func(s *Spec) { s.RepoPVCSize = "0" }, []string{`repository PVC size "0" must be more than zero`}},
		{"no size", func(s *Spec) { s.RepoPVCSize = "" }, []string{"a repository PVC size is required"}},
		{"bad storage class", func(s *Spec) { s.StorageClass = "Fast SSD" }, []string{`storage class "Fast SSD" is not a valid name`}},
		{"unknown storage type", func(s *Spec) { s.StorageType = []StorageType{"ftp"} }, []string{`storage type "ftp" is not known: use local, s3, gcs or azure`}},
		{"s3 without settings", func(s *Spec) { s.StorageType = []StorageType{"s3"} }, []string{"needs a bucket and an endpoint"}},
		{"local and s3 without settings", func(s *Spec) { s.StorageType = ParseStorageType("local,s3") }, []string{"needs a bucket and an endpoint"}},
		{"s3 without bucket", func(s *Spec) {
			s.StorageType = []StorageType{"s3"}
			s.S3 = &S3Spec{Endpoint: "s3.example", URIStyle: "path"}
		}, []string{"needs a bucket: give --pgbackrest-s3-bucket"}},
		{"s3 without endpoint", func(s *Spec) {
			s.StorageType = []StorageType{"s3"}
			s.S3 = &S3Spec{Bucket: "b-1", URIStyle: "path"}
		}, []string{"needs an endpoint"}},
		{"s3 endpoint with scheme", func(s *Spec) {
			s.StorageType = []StorageType{"s3"}
			s.S3 = &S3Spec{Bucket: "b-1", Endpoint: "https://s3.example", URIStyle: "path"}
		}, []string{"without a scheme"}},
		{"s3 endpoint bad port", func(s *Spec) {
			s.StorageType = []StorageType{"s3"}
			s.S3 = &S3Spec{Bucket: "b-1", Endpoint: "s3.example:99999", URIStyle: "path"}
		}, []string{"port between 1 and 65535"}},
		{"s3 bad bucket", func(s *Spec) {
			s.StorageType = []StorageType{"s3"}
			s.S3 = &S3Spec{Bucket: "Bad_Bucket", Endpoint: "s3.example", URIStyle: "path"}
		}, []string{"not a valid bucket name"}},
		{"s3 URI style", func(s *Spec) {
			s.StorageType = []StorageType{"s3"}
			s.S3 = &S3Spec{Bucket: "b-1", Endpoint: "s3.example", URIStyle: "virtual"}
		}, []string{`URI style "virtual" is not known`}},
		{"s3 settings without s3", func(s *Spec) { s.S3 = &S3Spec{Bucket: "b-1", Endpoint: "s3.example"} }, []string{"S3 settings are given, but the storage type is local"}},
		{"s3 twice", func(s *Spec) { s.StorageType = ParseStorageType("local,s3,s3") }, []string{"storage type s3 is given twice in local,s3,s3"}},
		{"five repositories", func(s *Spec) { s.StorageType = ParseStorageType("local,s3,gcs,azure,s3") }, []string{"has 5 repositories: a cluster has at most 4"}},
		{"local not first", func(s *Spec) { s.StorageType = ParseStorageType("s3,local") }, []string{"the local repository comes first (repo1), e.g. local,s3"}},
		{"four repositories", func(s *Spec) {
			s.StorageType = ParseStorageType("local,s3,gcs,azure")
			s.S3 = &S3Spec{Bucket: "b-1", Endpoint: "s3.example", URIStyle: "path", CredentialsSecret: "s3keys"}
			s.GCS = &GCSSpec{Bucket: "g_1", KeyType: "service", CredentialsSecret: "gcskey"}
			s.Azure = &AzureSpec{Account: "acct1", Container: "backups", URIStyle: "host", KeyType: "shared", CredentialsSecret: "azkey"}
		}, nil},
		{"gcs without settings", func(s *Spec) { s.StorageType = ParseStorageType("local,gcs") }, []string{"storage type gcs needs a bucket and a key: give --pgbackrest-gcs-bucket"}},
		{"gcs without bucket", func(s *Spec) {
			s.StorageType = []StorageType{"gcs"}
			s.GCS = &GCSSpec{KeyType: "service", CredentialsSecret: "k"}
		}, []string{"storage type gcs needs a bucket: give --pgbackrest-gcs-bucket"}},
		{"gcs bad bucket, endpoint, key type, chunk", func(s *Spec) {
			s.StorageType = []StorageType{"gcs"}
			s.GCS = &GCSSpec{Bucket: "-Bad", Endpoint: "https://x", KeyType: "jwt", UploadChunkSize: "1000"}
		}, []string{`GCS bucket "-Bad" is not a valid bucket name`, `GCS endpoint "https://x" is not valid`, `GCS key type "jwt" is not known`, `GCS upload chunk size "1000" is not valid`}},
		{"gcs service without Secret", func(s *Spec) {
			s.StorageType = []StorageType{"gcs"}
			s.GCS = &GCSSpec{Bucket: "b-1", KeyType: "service"}
		}, []string{"GCS key type service needs a Secret with gcs-key.json: give --pgbackrest-gcs-key-secret"}},
		{"gcs auto with a Secret", func(s *Spec) {
			s.StorageType = []StorageType{"gcs"}
			s.GCS = &GCSSpec{Bucket: "b-1", KeyType: "auto", CredentialsSecret: "k"}
		}, []string{"GCS key type auto takes the workload's identity and reads no Secret"}},
		{"gcs settings without gcs", func(s *Spec) { s.GCS = &GCSSpec{Bucket: "b-1", KeyType: "token", CredentialsSecret: "k"} }, []string{"GCS settings are given, but the storage type is local: add gcs"}},
		{"azure without settings", func(s *Spec) { s.StorageType = ParseStorageType("azure") }, []string{"storage type azure needs an account, a container and a key"}},
		{"azure without account and container", func(s *Spec) {
			s.StorageType = []StorageType{"azure"}
			s.Azure = &AzureSpec{URIStyle: "path", KeyType: "sas"}
		}, []string{"needs an account: give --pgbackrest-azure-account", "needs a container: give --pgbackrest-azure-container", "needs a key: give --pgbackrest-azure-key-secret"}},
		{"azure bad names", func(s *Spec) {
			s.StorageType = []StorageType{"azure"}
			s.Azure = &AzureSpec{Account: "My-Account", Container: "a--b", URIStyle: "virtual", KeyType: "oauth", CredentialsSecret: "k"}
		}, []string{`Azure storage account "My-Account" is not a valid account name`, `Azure container "a--b" is not a valid container name`, `Azure URI style "virtual" is not known`, `Azure key type "oauth" is not known`}},
		{"cipher", func(s *Spec) { s.Cipher = "des" }, []string{`cipher "des" is not supported`}},
		{"local twice", func(s *Spec) { s.StorageType = ParseStorageType("local,posix"); s.Default() }, []string{"storage type local is given twice"}},
		{"no storage type", func(s *Spec) { s.StorageType = nil }, []string{"a storage type is required"}},
		{"relative repo path", func(s *Spec) { s.RepoPath = "backrestrepo/x" }, []string{`repository path "backrestrepo/x" is not valid`}},
		{"repo path outside the PVC", func(s *Spec) { s.RepoPath = "/var/lib/pgbackrest" }, []string{"under /backrestrepo/"}},
		{"repo path with ..", func(s *Spec) { s.RepoPath = "/backrestrepo/../etc" }, []string{"is not valid"}},
		{"no retention", func(s *Spec) { s.RetentionFull = 0 }, []string{"full backup retention 0 is not valid"}},
		{"negative retention", func(s *Spec) { s.RetentionFull = -1 }, []string{"full backup retention -1 is not valid: keep between 1 and 9999999 full backups"}},
		{"retention too large", func(s *Spec) { s.RetentionFull = 10000000 }, []string{"full backup retention 10000000 is not valid"}},
		{"retention in days", func(s *Spec) { s.RetentionFull, s.RetentionFullType, s.RetentionDiff = 30, repo.RetentionTime, 7 }, nil},
		{"retention type normalized", func(s *Spec) { s.RetentionFullType = " COUNT "; s.Default() }, nil},
		{"zero days", func(s *Spec) { s.RetentionFull, s.RetentionFullType = 0, repo.RetentionTime }, []string{"keep between 1 and 9999999 days"}},
		{"unknown retention type", func(s *Spec) { s.RetentionFullType = "weeks" }, []string{`full backup retention type "weeks" is not known: use count`}},
		{"negative diff retention", func(s *Spec) { s.RetentionDiff = -2 }, []string{"differential backup retention -2 is not valid"}},
		{"bad cpu", func(s *Spec) { s.Resources.CPURequest = "fast" }, []string{`database CPU request "fast" is not valid`}},
		{"negative memory", func(s *Spec) { s.RepoResources.MemoryLimit = "-1Gi" }, []string{`pgBackRest memory limit "-1Gi" is not valid`}},
		{"request over limit", func(s *Spec) { s.Resources.MemoryRequest = "2Gi"; s.Resources.MemoryLimit = "1Gi" }, []string{
			"database memory request 2Gi is more than its limit 1Gi"}},
		{"several errors at once", func(s *Spec) { s.Name = "Hippo"; s.StorageSize = "x" }, []string{"cluster name", "storage size"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := valid()
			tc.modify(&s)
			err := s.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want %q", tc.want)
			}
			for _, want := range tc.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Validate() = %q, want it to contain %q", err, want)
				}
			}
		})
	}
}

func TestRepositories(t *testing.T) {
	s := Spec{Name: "hippo", Namespace: "pgo", StorageType: ParseStorageType("local,s3")}
	s.Default()
	repos := s.Repositories()
	if len(repos) != 2 || repos[0].Index != 1 || repos[0].Type != "posix" || repos[1].Index != 2 || repos[1].Type != "s3" {
		t.Errorf("Repositories() = %+v", repos)
	}
	if repos[0].Path != s.RepoPath || repos[0].RetentionFull != 2 {
		t.Errorf("repo1 = %+v", repos[0])
	}
	// Retention applies to every repository.
	s.RetentionFull, s.RetentionFullType, s.RetentionDiff = 9, repo.RetentionTime, 4
	for _, r := range s.Repositories() {
		if r.RetentionFull != 9 || r.RetentionFullType != repo.RetentionTime || r.RetentionDiff != 4 {
			t.Errorf("repo%d retention = %d %s, diff %d; want 9 time, diff 4", r.Index, r.RetentionFull, r.RetentionFullType, r.RetentionDiff)
		}
	}
}

func TestProcessMax(t *testing.T) {
	tests := []struct {
		pgbackrest, database string
		want                 int
	}{
		{"", "", 2},
		{"500m", "", 1},
		{"1", "", 1},
		{"1500m", "", 2},
		{"4", "", 4},
		// Without a limit on the pgBackRest containers, the database's.
		{"", "1", 1},
		{"", "6", 6},
		{"3", "8", 3},
	}
	for _, tc := range tests {
		if got := processMax(Resources{CPULimit: tc.pgbackrest}, Resources{CPULimit: tc.database}); got != tc.want {
			t.Errorf("processMax(limits %q, %q) = %d, want %d", tc.pgbackrest, tc.database, got, tc.want)
		}
	}
}

func TestRepositoriesObjectStores(t *testing.T) {
	s := Spec{Name: "hippo", Namespace: "pgo", StorageType: ParseStorageType("local,gcs,azure"),
		GCS:   &GCSSpec{Bucket: "g-1", Endpoint: "gcs.example:4443", CredentialsSecret: "gk", CASecret: "gca", VerifyTLS: true, UploadChunkSize: "32Mi"},
		Azure: &AzureSpec{Account: "acct1", Container: "c-1", Endpoint: "az.example:10000", URIStyle: "path", KeyType: "sas", CredentialsSecret: "ak", CASecret: "aca", VerifyTLS: true}}
	s.Default()
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	repos := s.Repositories()
	if len(repos) != 3 || repos[1].Type != repo.GCS || repos[2].Type != repo.Azure || repos[1].Index != 2 || repos[2].Index != 3 {
		t.Fatalf("Repositories() = %+v", repos)
	}
	g := *repos[1].GCS
	if g != (repo.GCSLocation{Bucket: "g-1", Endpoint: "gcs.example:4443", KeyType: repo.GCSKeyService, KeyFile: GCSKeyFile, VerifyTLS: true, CAFile: GCSCAFile, UploadChunkSize: "33554432"}) {
		t.Errorf("repo2 = %+v", g)
	}
	a := *repos[2].Azure
	if a != (repo.AzureLocation{Account: "acct1", Container: "c-1", Endpoint: "az.example:10000", URIStyle: "path", KeyType: "sas", VerifyTLS: true, CAFile: AzureCAFile}) {
		t.Errorf("repo3 = %+v", a)
	}
	// A token is no file.
	s.GCS.KeyType = repo.GCSKeyToken
	if f := s.Repositories()[1].GCS.KeyFile; f != "" {
		t.Errorf("a token's key file = %q, want none", f)
	}
	if !s.HasObjectStoreRepo() || s.HasS3Repo() {
		t.Errorf("HasObjectStoreRepo, HasS3Repo = %t, %t; want true, false", s.HasObjectStoreRepo(), s.HasS3Repo())
	}
}
