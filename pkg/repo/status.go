package repo

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Status codes of `pgbackrest info`, for a stanza and for each repository.
const (
	StatusOK                = 0
	StatusMissingStanzaPath = 1
	StatusNoValidBackups    = 2
	StatusMissingStanzaData = 3
	StatusMixed             = 4 // "different across repos"
	StatusDatabaseMismatch  = 5 // "database mismatch across repos"
	StatusBackupNotFound    = 6 // "requested backup not found" (info --set)
	StatusOther             = 99
)

// ErrStanzaMissing means that the stanza was never created in a repository
// (stanza-create has not run yet, or it ran against another path).
var ErrStanzaMissing = errors.New("the stanza does not exist")

// What a repository's status says of its encryption, when the client's
// cipher settings do not fit it.
var (
	// ErrEncrypted: the repository is encrypted, and was read without a
	// passphrase.
	ErrEncrypted = errors.New("the repository is encrypted, and no passphrase was given")
	// ErrWrongPassphrase: the passphrase given does not decrypt it.
	ErrWrongPassphrase = errors.New("the passphrase does not decrypt the repository (a wrong passphrase, or a damaged info file)")
	// ErrNotEncrypted: a passphrase was given, the repository has none.
	ErrNotEncrypted = errors.New("the repository is not encrypted, but was read with a passphrase")
)

// StatusError is a status that is not usable, with the repository it
// comes from (0 when it is the stanza's overall status) and the cipher
// the client read it with ("none" or empty without).
type StatusError struct {
	Repo    int
	Code    int
	Message string
	Cipher  string
}

func (e *StatusError) Error() string {
	where := "stanza"
	if e.Repo > 0 {
		where = fmt.Sprintf("repo%d", e.Repo)
	}
	if c := e.cipherProblem(); c != nil {
		// The rest of pgBackRest's message quotes the undecrypted bytes.
		first, _, _ := strings.Cut(e.Message, "\n")
		return fmt.Sprintf("%s: %v (pgbackrest info status %d: %s)", where, c, e.Code, printable(first))
	}
	return fmt.Sprintf("%s: pgbackrest info status %d: %s", where, e.Code, printable(e.Message))
}

// Unwrap makes errors.Is(err, ErrStanzaMissing) true for a missing
// stanza, and errors.Is(err, ErrEncrypted) (ErrWrongPassphrase,
// ErrNotEncrypted) for a cipher that does not fit the repository.
func (e *StatusError) Unwrap() error {
	if e.Code == StatusMissingStanzaPath || e.Code == StatusMissingStanzaData {
		return ErrStanzaMissing
	}
	return e.cipherProblem()
}

// cipherProblem reads pgBackRest's message for a cipher that does not fit:
// an encrypted info file read as text fails to parse at its first line,
// which begins with OpenSSL's "Salted__" without a passphrase and with
// noise under a wrong one; a plain one read with a passphrase has no
// cipher header.
func (e *StatusError) cipherProblem() error {
	if e.Code != StatusOther {
		return nil
	}
	encrypted := e.Cipher != "" && e.Cipher != "none"
	switch {
	case strings.Contains(e.Message, "[CryptoError]") && strings.Contains(e.Message, "cipher header invalid") && encrypted:
		return ErrNotEncrypted
	case !strings.Contains(e.Message, "[FormatError] unable to load info file"):
		return nil
	case !encrypted && strings.Contains(e.Message, "Salted__"):
		return ErrEncrypted
	case encrypted:
		return ErrWrongPassphrase
	}
	return nil
}

// printable replaces what a terminal should not be given (the bytes of an
// undecrypted file that pgBackRest quotes) with '?'.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r == utf8.RuneError || (unicode.IsControl(r) && r != '\n' && r != '\t') {
			return '?'
		}
		return r
	}, s)
}

// Err turns the statuses of a stanza into an error. An empty stanza ("no
// valid backups") is fine; so is "different across repos" when every
// repository on its own is fine. Anything else is an error that carries
// pgBackRest's message. Read this rather than the exit code of `pgbackrest
// info`, which is 0 even when the repository refused the client.
func (s Stanza) Err() error {
	var errs []error
	for _, r := range s.Repo {
		if !usable(r.Status.Code) {
			errs = append(errs, &StatusError{Repo: r.Key, Code: r.Status.Code, Message: r.Status.Message, Cipher: r.Cipher})
		}
	}
	// The overall status only repeats the repositories' errors, unless no
	// repository reported anything.
	if len(errs) == 0 && !usable(s.Status.Code) && s.Status.Code != StatusMixed {
		errs = append(errs, &StatusError{Code: s.Status.Code, Message: s.Status.Message})
	}
	return errors.Join(errs...)
}

func usable(code int) bool {
	return code == StatusOK || code == StatusNoValidBackups
}
