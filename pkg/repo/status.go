package repo

import (
	"errors"
	"fmt"
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

// StatusError is a status that is not usable, with the repository it
// comes from (0 when it is the stanza's overall status).
type StatusError struct {
	Repo    int
	Code    int
	Message string
}

func (e *StatusError) Error() string {
	where := "stanza"
	if e.Repo > 0 {
		where = fmt.Sprintf("repo%d", e.Repo)
	}
	return fmt.Sprintf("%s: pgbackrest info status %d: %s", where, e.Code, e.Message)
}

// Unwrap makes errors.Is(err, ErrStanzaMissing) true for a missing stanza.
func (e *StatusError) Unwrap() error {
	if e.Code == StatusMissingStanzaPath || e.Code == StatusMissingStanzaData {
		return ErrStanzaMissing
	}
	return nil
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
			errs = append(errs, &StatusError{Repo: r.Key, Code: r.Status.Code, Message: r.Status.Message})
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
