package cluster

import (
	"strings"
	"testing"
)

func TestPassphraseSecret(t *testing.T) {
	for _, tc := range []struct {
		spec        Spec
		want        string
		lost, lostK bool // a plain delete, and one with --keep-backups
	}{
		{Spec{Name: "hippo"}, "", false, false},
		{Spec{Name: "hippo", Cipher: "aes-256-cbc"}, "hippo-backrest-repo-config", false, false},
		{Spec{Name: "hippo", Cipher: "aes-256-cbc", StorageType: []StorageType{"s3"}}, "hippo-backrest-repo-config", true, false},
		{Spec{Name: "hippo", Cipher: "aes-256-cbc", StorageType: []StorageType{"local", "s3"}}, "hippo-backrest-repo-config", true, false},
		{Spec{Name: "hippo", Cipher: "aes-256-cbc", CipherSecret: "mine", StorageType: []StorageType{"s3"}}, "mine", false, false},
		// GCS and Azure objects outlive the cluster too.
		{Spec{Name: "hippo", Cipher: "aes-256-cbc", StorageType: []StorageType{"gcs"}}, "hippo-backrest-repo-config", true, false},
		{Spec{Name: "hippo", Cipher: "aes-256-cbc", StorageType: []StorageType{"local", "azure"}}, "hippo-backrest-repo-config", true, false},
	} {
		if got := tc.spec.PassphraseSecret(); got != tc.want {
			t.Errorf("%+v: PassphraseSecret() = %q, want %q", tc.spec, got, tc.want)
		}
		if got := tc.spec.PassphraseLostOnDelete(false); got != tc.lost {
			t.Errorf("%+v: PassphraseLostOnDelete(false) = %v, want %v", tc.spec, got, tc.lost)
		}
		if got := tc.spec.PassphraseLostOnDelete(true); got != tc.lostK {
			t.Errorf("%+v: PassphraseLostOnDelete(true) = %v, want %v", tc.spec, got, tc.lostK)
		}
	}
}

func TestValidateCipherSecret(t *testing.T) {
	for _, tc := range []struct {
		cipher, secret, wantErr string
	}{
		{"aes-256-cbc", "hippo-passphrase", ""},
		{"", "hippo-passphrase", "not encrypted"},
		{"aes-256-cbc", "Bad_Name", "not a valid name"},
		{"aes-256-cbc", "hippo-backrest-repo-config", "one of the Secrets of cluster"},
		{"aes-256-cbc", "hippo-postgres-secret", "one of the Secrets of cluster"},
		{"aes-256-cbc", "hippo-restore-source", "one of the Secrets of cluster"},
	} {
		s := Spec{Name: "hippo", Namespace: "pgo", Cipher: tc.cipher, CipherSecret: tc.secret}
		s.Default()
		err := s.Validate()
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s: Validate() = %v", tc.secret, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s with cipher %q: Validate() = %v, want %q", tc.secret, tc.cipher, err, tc.wantErr)
		}
	}
}

func TestCheckCipherPass(t *testing.T) {
	for _, tc := range []struct {
		pass, wantErr string
	}{
		{"0123456789abcdefghij", ""},
		{"", "has no cipher-pass"},
		{"0123456789abcdefghi", "has 19 characters: use at least 20"},
		{"0123456789abcdefghijklmnop\n", "white space"},
		{" 0123456789abcdefghijklmnop", "white space"},
	} {
		err := CheckCipherPass("pgo/mine", []byte(tc.pass))
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%q: %v", tc.pass, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%q: CheckCipherPass() = %v, want %q", tc.pass, err, tc.wantErr)
		}
		if err != nil && strings.Contains(err.Error(), strings.TrimSpace(tc.pass)) && tc.pass != "" {
			t.Errorf("the error quotes the passphrase: %v", err)
		}
	}
}

func TestCipherSecretIsImmutable(t *testing.T) {
	old := Spec{Name: "hippo", Namespace: "pgo", Cipher: "aes-256-cbc"}
	old.Default()
	next := old
	next.CipherSecret = "mine"
	if err := CheckImmutable(old, next); err == nil || !strings.Contains(err.Error(), "the passphrase Secret is immutable") {
		t.Errorf("CheckImmutable() = %v, want the passphrase Secret refused", err)
	}
}

func TestSaveCipherPassCommand(t *testing.T) {
	got := SaveCipherPassCommand("hippo", "pgo")
	want := `kubectl -n pgo create secret generic hippo-cipher-pass --from-literal=cipher-pass="$(kubectl -n pgo get secret hippo-backrest-repo-config -o jsonpath='{.data.cipher-pass}' | base64 -d)"`
	if got != want {
		t.Errorf("SaveCipherPassCommand() =\n%s\nwant\n%s", got, want)
	}
}
