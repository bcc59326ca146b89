package repo

import (
	"slices"
	"strings"
	"testing"
)

func gcsRepo(index int, keyType string) Repository {
	return Repository{Index: index, Type: GCS, Path: "/backrestrepo/hippo-backrest-shared-repo",
		GCS: &GCSLocation{Bucket: "pg-gcs", Endpoint: "gcs.example:4443", KeyType: keyType,
			KeyFile: "/etc/pgbackrest/gcs/key.json", VerifyTLS: true, CAFile: "/etc/pgbackrest/gcs/ca.crt", UploadChunkSize: "32MiB"}}
}

func azureRepo(index int) Repository {
	return Repository{Index: index, Type: Azure, Path: "/backrestrepo/hippo-backrest-shared-repo",
		Azure: &AzureLocation{Account: "pgacct", Container: "pg-azure", Endpoint: "azure.example:10000",
			URIStyle: URIStylePath, VerifyTLS: true, CAFile: "/etc/pgbackrest/azure/ca.crt"}}
}

// Four repositories, one of each type: every option lands under its own index, the same on
// both sides, and no key is in the file.
func TestFourRepositoriesConfig(t *testing.T) {
	repos := []Repository{localRepo(), s3Repo(2), gcsRepo(3, GCSKeyService), azureRepo(4)}
	want := []string{
		"repo1-type=posix", "repo2-type=s3", "repo2-s3-bucket=pgbackups",
		"repo3-type=gcs", "repo3-gcs-bucket=pg-gcs", "repo3-gcs-endpoint=gcs.example:4443", "repo3-gcs-key-type=service",
		"repo3-gcs-key=/etc/pgbackrest/gcs/key.json", "repo3-storage-upload-chunk-size=32MiB",
		"repo3-storage-verify-tls=y", "repo3-storage-ca-file=/etc/pgbackrest/gcs/ca.crt",
		"repo4-type=azure", "repo4-azure-account=pgacct", "repo4-azure-container=pg-azure",
		"repo4-azure-endpoint=azure.example:10000", "repo4-azure-uri-style=path", "repo4-azure-key-type=shared",
		"repo4-storage-verify-tls=y", "repo4-storage-ca-file=/etc/pgbackrest/azure/ca.crt",
	}
	for side, c := range bothSides(t, repos) {
		text := c.String()
		for _, line := range want {
			if !strings.Contains(text, line+"\n") {
				t.Errorf("%s side: no %q in\n%s", side, line, text)
			}
		}
		for _, secret := range []string{"azure-key=", "repo4-host", "repo3-host", "s3-key"} {
			if strings.Contains(text, secret) {
				t.Errorf("%s side: %q is in the file:\n%s", side, secret, text)
			}
		}
	}
	names := []string{}
	for _, r := range repos {
		names = append(names, r.Name())
	}
	if got, want := strings.Join(names, ", "), "repo1 (local), repo2 (s3), repo3 (gcs), repo4 (azure)"; got != want {
		t.Errorf("names = %s, want %s", got, want)
	}
}

// A token and a shared key reach pgBackRest through the environment only; a service key is a
// mounted file, whose path is in the configuration.
func TestObjectStoreSecrets(t *testing.T) {
	for _, tc := range []struct {
		repo Repository
		want []SecretEnv
	}{
		{gcsRepo(2, GCSKeyService), nil},
		{gcsRepo(2, GCSKeyAuto), nil},
		{gcsRepo(2, GCSKeyToken), []SecretEnv{{SecretGCSToken, "PGBACKREST_REPO2_GCS_KEY"}}},
		{azureRepo(3), []SecretEnv{{SecretAzureKey, "PGBACKREST_REPO3_AZURE_KEY"}}},
	} {
		if got := tc.repo.Secrets(); !slices.Equal(got, tc.want) {
			t.Errorf("%s (%+v): Secrets() = %v, want %v", tc.repo.Name(), tc.repo.GCS, got, tc.want)
		}
	}
	token := gcsRepo(1, GCSKeyToken)
	c, err := DatabaseHost{Repositories: []Repository{token}, PGPath: "/p", TLS: dbTLS(), Server: Server{ClientCN: "x"}}.Config()
	if err != nil {
		t.Fatal(err)
	}
	if text := c.String(); strings.Contains(text, "gcs-key=") || !strings.Contains(text, "repo1-gcs-key-type=token\n") {
		t.Errorf("a token repository's file:\n%s", text)
	}
}

func TestObjectStoreConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		modify func(*Repository)
		want   string
	}{
		{"gcs without a bucket", func(r *Repository) { *r = gcsRepo(1, ""); r.GCS.Bucket = "" }, "a GCS repository needs a bucket"},
		{"gcs without a location", func(r *Repository) { r.Type = GCS }, "a GCS repository needs a bucket"},
		{"gcs key type", func(r *Repository) { *r = gcsRepo(1, "jwt") }, `GCS key type "jwt"`},
		{"gcs service without its file", func(r *Repository) { *r = gcsRepo(1, GCSKeyService); r.GCS.KeyFile = "" }, "needs its file"},
		{"azure without an account", func(r *Repository) { *r = azureRepo(1); r.Azure.Account = "" }, "needs an account and a container"},
		{"azure without a container", func(r *Repository) { *r = azureRepo(1); r.Azure.Container = "" }, "needs an account and a container"},
		{"azure URI style", func(r *Repository) { *r = azureRepo(1); r.Azure.URIStyle = "virtual" }, `URI style "virtual"`},
		{"azure key type", func(r *Repository) { *r = azureRepo(1); r.Azure.KeyType = "oauth" }, `Azure key type "oauth"`},
		{"posix with a GCS location", func(r *Repository) { r.GCS = gcsRepo(1, "").GCS }, "a posix repository has no GCS location"},
		{"gcs with an Azure location", func(r *Repository) { *r = gcsRepo(1, ""); r.Azure = azureRepo(1).Azure }, "a gcs repository has no Azure location"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := localRepo()
			tc.modify(&r)
			_, err := DatabaseHost{Repositories: []Repository{r}, RepoHost: "r", PGPath: "/p", TLS: dbTLS(), Server: Server{ClientCN: "x"}}.Config()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Config() error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

// bothSides are the configurations of hippo's database side and repository host with repos.
func bothSides(t *testing.T, repos []Repository) map[string]Config {
	t.Helper()
	db, err := DatabaseHost{Repositories: repos, RepoHost: "r", PGPath: "/pgdata/hippo", TLS: dbTLS(), Server: Server{ClientCN: "hippo-repo"}}.Config()
	if err != nil {
		t.Fatal(err)
	}
	rh, err := RepositoryHost{Repositories: repos, PGHost: "hippo", PGPath: "/pgdata/hippo", TLS: repoTLS(), Server: Server{ClientCN: "hippo-db"}}.Config()
	if err != nil {
		t.Fatal(err)
	}
	return map[string]Config{"database": db, "repository host": rh}
}
