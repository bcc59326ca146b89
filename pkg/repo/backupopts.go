package repo

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Backup types (the --type option of `pgbackrest backup`).
const (
	BackupFull = "full"
	BackupDiff = "diff"
	BackupIncr = "incr"
)

// BackupTypes are the values of --type, in the order of their size.
var BackupTypes = []string{BackupFull, BackupDiff, BackupIncr}

// CheckBackupType refuses a backup type pgBackRest does not have.
func CheckBackupType(t string) error {
	if !slices.Contains(BackupTypes, t) {
		return fmt.Errorf("backup type %q is not one of %s", t, strings.Join(BackupTypes, ", "))
	}
	return nil
}

// BackupOptions are options for `pgbackrest backup`, checked against what
// a user may set: the result of ParseBackupOptions.
type BackupOptions struct {
	// Args are the options in the order given, each one token:
	// --name=value, --name or --no-name.
	Args []string
	// Type is the value of --type, or "" when it was not given.
	Type string

	given map[string]bool // canonical names, negated or not
}

// Has tells whether the option (its canonical name, without an index:
// "start-fast", "repo-retention-full") was given, negated or not.
func (o BackupOptions) Has(name string) bool { return o.given[name] }

// optionKind is the kind of value an option takes.
type optionKind int

const (
	kindBool     optionKind = iota // --name or --no-name, no value
	kindEnum                       // one of values
	kindInt                        // an integer in [min, max]
	kindSeconds                    // seconds, fractions allowed, in (0, max]
	kindSize                       // a size: 1048576, 1MiB, 512KB ...
	kindString                     // any non-empty text
	kindKeyValue                   // key=value
)

type optionSpec struct {
	kind     optionKind
	values   []string // kindEnum; kindSize: the only sizes allowed, when set
	min, max int64    // kindInt; max for kindSeconds
	multi    bool     // may be given more than once
	what     string   // a short description for the error messages
}

// allowedBackupOptions are the options of `pgbackrest backup` (2.45) a
// user may pass in --backup-opts, by canonical name: repoN- and pgN- are
// written repo- and pg-. What is not here is refused: either it is managed
// by kubectl-pgo (managedBackupOptions), or it does not apply to a backup
// run by the plugin (e.g. --backup-standby: there is no standby).
var allowedBackupOptions = map[string]optionSpec{
	"type":                        {kind: kindEnum, values: BackupTypes},
	"annotation":                  {kind: kindKeyValue, multi: true},
	"archive-check":               {kind: kindBool},
	"archive-copy":                {kind: kindBool},
	"archive-mode-check":          {kind: kindBool},
	"archive-timeout":             {kind: kindSeconds, max: 86400},
	"buffer-size":                 {kind: kindSize, values: []string{"16KiB", "32KiB", "64KiB", "128KiB", "256KiB", "512KiB", "1MiB", "2MiB", "4MiB", "8MiB", "16MiB"}},
	"checksum-page":               {kind: kindBool},
	"compress-level":              {kind: kindInt, min: -7, max: 22},
	"compress-level-network":      {kind: kindInt, min: -7, max: 22},
	"compress-type":               {kind: kindEnum, values: []string{"none", "bz2", "gz", "lz4", "zst"}},
	"db-timeout":                  {kind: kindSeconds, max: 604800},
	"delta":                       {kind: kindBool},
	"exclude":                     {kind: kindString, multi: true, what: "a path relative to the data directory"},
	"expire-auto":                 {kind: kindBool},
	"io-timeout":                  {kind: kindSeconds, max: 3600},
	"log-level-console":           {kind: kindEnum, values: backupLogLevels},
	"log-level-stderr":            {kind: kindEnum, values: backupLogLevels},
	"log-timestamp":               {kind: kindBool},
	"manifest-save-threshold":     {kind: kindSize},
	"process-max":                 {kind: kindInt, min: 1, max: 999},
	"protocol-timeout":            {kind: kindSeconds, max: 604800},
	"repo":                        {kind: kindInt, min: 1, max: 256},
	"repo-bundle":                 {kind: kindBool},
	"repo-bundle-limit":           {kind: kindSize},
	"repo-bundle-size":            {kind: kindSize},
	"repo-retention-archive":      {kind: kindInt, min: 1, max: 9999999},
	"repo-retention-archive-type": {kind: kindEnum, values: BackupTypes},
	"repo-retention-diff":         {kind: kindInt, min: 1, max: 9999999},
	"repo-retention-full":         {kind: kindInt, min: 1, max: 9999999},
	"repo-retention-full-type":    {kind: kindEnum, values: []string{"count", "time"}},
	"repo-retention-history":      {kind: kindInt, min: 0, max: 9999999},
	"resume":                      {kind: kindBool},
	"start-fast":                  {kind: kindBool},
	"stop-auto":                   {kind: kindBool},
}

var backupLogLevels = []string{"off", "error", "warn", "info", "detail", "debug", "trace"}

// managedBackupOptions are options kubectl-pgo sets itself, from the
// cluster's configuration: where the repository and the database are, how
// they talk, where pgBackRest keeps its files. Patterns match canonical
// names (path.Match).
var managedBackupOptions = []string{
	"stanza",
	"config", "config-*",
	"repo-path", "repo-host*", "repo-type", "repo-cipher-*", "repo-hardlink",
	"repo-s3-*", "repo-gcs-*", "repo-azure-*", "repo-storage-*",
	"pg-host*", "pg-path", "pg-port", "pg-socket-path", "pg-user", "pg-database",
	"online", "force", "backup-standby",
	"tablespace-map*",
	"log-path", "lock-path", "spool-path", "log-level-file", "log-subprocess",
	"cmd", "cmd-ssh", "exec-id", "neutral-umask",
	"tls-*",
}

// indexed matches the index of an indexed option: repo1-path, pg2-host.
var indexed = regexp.MustCompile(`^(repo|pg)[0-9]+-`)

// canonical returns the option's name without an index: repo1-path and
// the deprecated repo-path are both repo-path.
func canonical(name string) string {
	return indexed.ReplaceAllString(name, "$1-")
}

func managed(name string) bool {
	for _, pattern := range managedBackupOptions {
		if ok, _ := path.Match(pattern, name); ok {
			return true
		}
	}
	return false
}

// ParseBackupOptions checks the options a user gives for `pgbackrest
// backup` (the --backup-opts flag) and returns them normalized. The text is
// split like a shell would (quotes and backslashes), options take their
// value as --name=value or --name value, and booleans are --name or
// --no-name. An option managed by kubectl-pgo, an unknown one or a bad
// value is an error that names it.
func ParseBackupOptions(text string) (BackupOptions, error) {
	return ParseBackupOptionsOf("--backup-opts", text)
}

// ParseBackupOptionsOf is ParseBackupOptions for options given in another
// flag (create schedule --schedule-opts), which its errors name.
func ParseBackupOptionsOf(flag, text string) (BackupOptions, error) {
	opts := BackupOptions{given: map[string]bool{}}
	words, err := SplitWords(text)
	if err != nil {
		return opts, fmt.Errorf("%s: %w", flag, err)
	}
	var errs []error
	for i := 0; i < len(words); i++ {
		word := words[i]
		if !strings.HasPrefix(word, "--") || len(word) == 2 {
			errs = append(errs, fmt.Errorf("unexpected %q in %s: pgBackRest options start with -- (e.g. --type=full)", word, flag))
			continue
		}
		name, value, hasValue := strings.Cut(word[2:], "=")
		negated := false
		base := canonical(name)
		if rest, ok := strings.CutPrefix(name, "no-"); ok && !hasValue {
			if _, known := allowedBackupOptions[canonical(rest)]; known || managed(canonical(rest)) {
				negated, base = true, canonical(rest)
			}
		}
		if managed(base) {
			display := name
			if negated {
				display = strings.TrimPrefix(name, "no-")
			}
			errs = append(errs, fmt.Errorf("option --%s is managed by kubectl-pgo and cannot be passed in %s", display, flag))
			continue
		}
		spec, ok := allowedBackupOptions[base]
		if !ok {
			errs = append(errs, fmt.Errorf("option --%s is unknown or not supported in %s; supported options: %s", name, flag, supportedList()))
			continue
		}
		if opts.given[base] && !spec.multi {
			errs = append(errs, fmt.Errorf("option --%s is given more than once in %s", name, flag))
			continue
		}
		if spec.kind == kindBool {
			if hasValue {
				errs = append(errs, fmt.Errorf("option --%s takes no value: write --%s or --no-%s", name, name, name))
				continue
			}
			opts.given[base] = true
			opts.Args = append(opts.Args, "--"+name)
			continue
		}
		if negated {
			errs = append(errs, fmt.Errorf("option --%s is not a boolean and cannot be negated", strings.TrimPrefix(name, "no-")))
			continue
		}
		if !hasValue {
			// --name value
			if i+1 >= len(words) || strings.HasPrefix(words[i+1], "--") {
				errs = append(errs, fmt.Errorf("option --%s needs a value (--%s=VALUE)", name, name))
				continue
			}
			i++
			value = words[i]
		}
		if err := spec.check(value); err != nil {
			errs = append(errs, fmt.Errorf("option --%s: %w", name, err))
			continue
		}
		if base == "type" {
			opts.Type = value
		}
		opts.given[base] = true
		opts.Args = append(opts.Args, "--"+name+"="+value)
	}
	if err := errors.Join(errs...); err != nil {
		return BackupOptions{}, err
	}
	return opts, nil
}

// check validates an option's value.
func (s optionSpec) check(value string) error {
	if value == "" {
		return fmt.Errorf("the value is empty")
	}
	switch s.kind {
	case kindEnum:
		if !slices.Contains(s.values, value) {
			return fmt.Errorf("%q is not allowed: use one of %s", value, strings.Join(s.values, ", "))
		}
	case kindInt:
		n, err := strconv.ParseInt(value, 10, 64)
		if err != nil || n < s.min || n > s.max {
			return fmt.Errorf("%q is not allowed: use an integer from %d to %d", value, s.min, s.max)
		}
	case kindSeconds:
		f, err := strconv.ParseFloat(value, 64)
		if err != nil || f <= 0 || f > float64(s.max) {
			return fmt.Errorf("%q is not allowed: use a number of seconds from 0.1 to %d", value, s.max)
		}
	case kindSize:
		n, err := ParseSize(value)
		if err != nil {
			return err
		}
		if len(s.values) > 0 {
			for _, v := range s.values {
				if allowed, _ := ParseSize(v); allowed == n {
					return nil
				}
			}
			return fmt.Errorf("%q is not allowed: use one of %s", value, strings.Join(s.values, ", "))
		}
	case kindKeyValue:
		if k, _, ok := strings.Cut(value, "="); !ok || k == "" {
			return fmt.Errorf("%q is not allowed: use key=value", value)
		}
	case kindString:
		if strings.ContainsAny(value, "\x00\n") {
			return fmt.Errorf("%q is not allowed: %s on one line", value, s.what)
		}
	}
	return nil
}

var sizePattern = regexp.MustCompile(`^([0-9]+)([kmgtp]?)(i?b)?$`)

// ParseSize reads a pgBackRest size: a number of bytes with an optional
// unit, where KB and KiB are both 1024 bytes (as pgBackRest reads them).
func ParseSize(value string) (int64, error) {
	m := sizePattern.FindStringSubmatch(strings.ToLower(value))
	if m == nil || (m[2] == "" && m[3] == "ib") {
		return 0, fmt.Errorf("%q is not a size: use bytes or a unit, e.g. 1048576, 1MiB, 512KiB", value)
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a size: %w", value, err)
	}
	shift := strings.Index("kmgtp", m[2]) + 1
	if m[2] == "" {
		shift = 0
	}
	if n > (1<<62)>>(10*shift) {
		return 0, fmt.Errorf("%q is too large", value)
	}
	return n << (10 * shift), nil
}

func supportedList() string {
	names := make([]string, 0, len(allowedBackupOptions))
	for name := range allowedBackupOptions {
		names = append(names, "--"+strings.Replace(name, "repo-", "repoN-", 1))
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// SplitWords splits text into words the way a POSIX shell does, without
// expansions: blanks separate words, single quotes keep everything, double
// quotes keep everything but \" \\ \$ and \`, and a backslash outside
// quotes keeps the next character.
func SplitWords(text string) ([]string, error) {
	var words []string
	var word strings.Builder
	inWord := false
	runes := []rune(text)
	for i := 0; i < len(runes); i++ {
		r := runes[i]
		switch {
		case r == ' ' || r == '\t' || r == '\n' || r == '\r':
			if inWord {
				words = append(words, word.String())
				word.Reset()
				inWord = false
			}
		case r == '\\':
			inWord = true
			if i+1 < len(runes) {
				i++
				word.WriteRune(runes[i])
			}
		case r == '\'':
			inWord = true
			end := slices.Index(runes[i+1:], '\'')
			if end < 0 {
				return nil, fmt.Errorf("unterminated single quote in %q", text)
			}
			word.WriteString(string(runes[i+1 : i+1+end]))
			i += end + 1
		case r == '"':
			inWord = true
			closed := false
			for i++; i < len(runes); i++ {
				c := runes[i]
				if c == '"' {
					closed = true
					break
				}
				if c == '\\' && i+1 < len(runes) && strings.ContainsRune("\"\\$`", runes[i+1]) {
					i++
					c = runes[i]
				}
				word.WriteRune(c)
			}
			if !closed {
				return nil, fmt.Errorf("unterminated double quote in %q", text)
			}
		default:
			inWord = true
			word.WriteRune(r)
		}
	}
	if inWord {
		words = append(words, word.String())
	}
	return words, nil
}
