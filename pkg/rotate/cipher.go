package rotate

import "fmt"

// CipherPassRefusal is why kubectl pgo rotate cipher-pass changes nothing:
// pgBackRest has no command that re-encrypts a repository or changes its
// passphrase. The passphrase (repo-cipher-pass) encrypts archive.info and
// backup.info, which hold the keys of the WAL and of each backup's
// manifest; a new passphrase could read none of them, and the existing
// backups and WAL would be lost to every restore. What replaces a
// passphrase is a new repository.
func CipherPassRefusal(name, ns string) error {
	return fmt.Errorf(`the repository passphrase of cluster %q cannot be rotated, and nothing was changed: pgBackRest cannot re-encrypt a repository or change its passphrase (the passphrase encrypts archive.info and backup.info, which hold the keys of everything else in it), so a new passphrase could not read the existing backups and WAL.
Instead, make a new repository with a new passphrase, fill it, then retire the old one:
  1. create a new cluster from this one into a repository with the new passphrase: kubectl pgo create cluster NEW --restore-from=%s -n %s --pgbackrest-repo-cipher-secret=SECRET (its first full backup is encrypted with the new passphrase);
  2. move the applications to NEW once it runs, and take a full backup of it: kubectl pgo backup NEW --type=full --wait;
  3. keep %s and its backups for the retention window your recovery needs, with its old passphrase saved, then delete it.
See "Rotation" in the README`, name, name, ns, name)
}
