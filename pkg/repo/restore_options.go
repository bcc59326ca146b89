// pgBackRest's restore options as kubectl-pgo accepts them (--backup-opts, --pitr-target, the
// target timeline): parsing, validation and their description. Just over 500 lines; one table of
// options and their rules, read best whole.

package repo

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Recovery types of `pgbackrest restore --type` that kubectl-pgo accepts.
const (
	RecoveryDefault   = "default" // replay all archived WAL
	RecoveryImmediate = "immediate"
	RecoveryTime      = "time"
	RecoveryXID       = "xid"
	RecoveryLSN       = "lsn"
	RecoveryName      = "name"
	// RecoveryStandby leaves the restored database in standby mode: only
	// create cluster --standby sets it, never --restore-opts.
	RecoveryStandby = "standby"
)

// Target actions (--target-action).
const (
	TargetActionPromote = "promote"
	TargetActionPause   = "pause"
)

// RestoreOptions are the options of `pgbackrest restore` that a user may
// choose (kubectl pgo restore --backup-opts). The stanza, the paths, the
// repository and the delta mode are kubectl-pgo's.
type RestoreOptions struct {
	// Set is the backup label to restore; the latest (or, for a time
	// target, the newest before it) when empty.
	Set string
	// Type is the recovery type; RecoveryDefault when empty.
	Type   string
	Target string
	// TargetExclusive stops just before the target instead of just after.
	TargetExclusive bool
	// TargetAction is what PostgreSQL does at the target: promote or
	// pause. Empty leaves it to PostgreSQL (pause) unless a target is set,
	// in which case Normalize makes it promote.
	TargetAction   string
	TargetTimeline string
	DBInclude      []string
	// RecoveryOptions are key=value PostgreSQL recovery settings.
	RecoveryOptions []string
	ProcessMax      int
	// Force, with --delta, compares files by size and time stamp instead
	// of checksums.
	Force           bool
	LinkAll         bool
	Repo            int
	LogLevelConsole string

	// given holds the options that were written, by name.
	given map[string]bool
}

// Given tells whether the option name (without dashes) was written.
func (o RestoreOptions) Given(name string) bool { return o.given[name] }

// restoreOption is an option of `pgbackrest restore` that users may set.
type restoreOption struct {
	boolean  bool
	multiple bool
	set      func(o *RestoreOptions, value string) error
}

// IsBackupLabel tells whether s is a pgBackRest backup label: a full
// backup's, or a differential or incremental backup's made of its full
// backup's label and its own.
func IsBackupLabel(s string) bool { return backupLabel.MatchString(s) }

var (
	backupLabel  = regexp.MustCompile(`^[0-9]{8}-[0-9]{6}F(_[0-9]{8}-[0-9]{6}[DI])?$`)
	lsnValue     = regexp.MustCompile(`^[0-9A-Fa-f]{1,8}/[0-9A-Fa-f]{1,8}$`)
	settingName  = regexp.MustCompile(`^[a-z_][a-z0-9_.]*$`)
	logLevels    = []string{"off", "error", "warn", "info", "detail", "debug", "trace"}
	allowedTypes = []string{RecoveryDefault, RecoveryImmediate, RecoveryTime, RecoveryXID, RecoveryLSN, RecoveryName}
)

var restoreOptions = map[string]restoreOption{
	"set": {set: func(o *RestoreOptions, v string) error {
		if !backupLabel.MatchString(v) {
			return fmt.Errorf("%q is not a backup label: labels look like 20261124-120000F, or 20261124-120000F_20261124-130000I for an incremental backup (see kubectl pgo show backup)", v)
		}
		o.Set = v
		return nil
	}},
	"type": {set: func(o *RestoreOptions, v string) error {
		switch v {
		case RecoveryStandby:
			return errors.New("standby is not supported: the restored database must become the primary, and a standby would wait for WAL forever")
		case "preserve", "none":
			return fmt.Errorf("%s is not supported: kubectl pgo writes the recovery settings itself", v)
		}
		if !slices.Contains(allowedTypes, v) {
			return fmt.Errorf("%q is not a recovery type: use one of %s", v, strings.Join(allowedTypes, ", "))
		}
		o.Type = v
		return nil
	}},
	"target": {set: func(o *RestoreOptions, v string) error {
		if strings.TrimSpace(v) == "" {
			return errors.New("the target is empty")
		}
		o.Target = v
		return nil
	}},
	"target-exclusive": {boolean: true, set: func(o *RestoreOptions, v string) error {
		o.TargetExclusive = v == "y"
		return nil
	}},
	"target-action": {set: func(o *RestoreOptions, v string) error {
		switch v {
		case TargetActionPromote, TargetActionPause:
			o.TargetAction = v
			return nil
		case "shutdown":
			return errors.New("shutdown is not supported: Kubernetes would restart the database, which would recover to the target again and stop again; use pause to inspect the database at the target")
		}
		return fmt.Errorf("%q is not a target action: use promote or pause", v)
	}},
	"target-timeline": {set: func(o *RestoreOptions, v string) error {
		if v == "" {
			return errors.New("the timeline is empty: use current, latest or a timeline number")
		}
		if _, err := ParseTargetTimeline(v); err != nil {
			return err
		}
		o.TargetTimeline = v
		return nil
	}},
	"db-include": {multiple: true, set: func(o *RestoreOptions, v string) error {
		if strings.TrimSpace(v) == "" {
			return errors.New("the database name is empty")
		}
		o.DBInclude = append(o.DBInclude, v)
		return nil
	}},
	"recovery-option": {multiple: true, set: func(o *RestoreOptions, v string) error {
		key, _, ok := strings.Cut(v, "=")
		if !ok || !settingName.MatchString(key) {
			return fmt.Errorf("%q is not a setting: write key=value, e.g. recovery_min_apply_delay=0", v)
		}
		switch {
		case strings.HasPrefix(key, "recovery_target"):
			return fmt.Errorf("%s is set by --type, --target and the other target options: use those", key)
		case key == "restore_command":
			return errors.New("restore_command is written by pgBackRest, to fetch WAL from the cluster's repository")
		}
		o.RecoveryOptions = append(o.RecoveryOptions, v)
		return nil
	}},
	"process-max": {set: func(o *RestoreOptions, v string) (err error) {
		o.ProcessMax, err = numberIn(v, 1, 999, "a number of processes between 1 and 999")
		return err
	}},
	"delta": {boolean: true, set: func(_ *RestoreOptions, v string) error {
		if v != "y" {
			return errors.New("a restore always uses --delta: it keeps the files that match the backup and replaces the others")
		}
		return nil
	}},
	"force": {boolean: true, set: func(o *RestoreOptions, v string) error {
		o.Force = v == "y"
		return nil
	}},
	"link-all": {boolean: true, set: func(o *RestoreOptions, v string) error {
		o.LinkAll = v == "y"
		return nil
	}},
	"repo": {set: func(o *RestoreOptions, v string) (err error) {
		o.Repo, err = numberIn(v, 1, 256, "a repository number: use 1 for repo1")
		return err
	}},
	"log-level-console": {set: func(o *RestoreOptions, v string) error {
		if !slices.Contains(logLevels, v) {
			return fmt.Errorf("%q is not a log level: use one of %s", v, strings.Join(logLevels, ", "))
		}
		o.LogLevelConsole = v
		return nil
	}},
}

// deniedRestoreOptions are options that kubectl-pgo sets itself, with the
// reason; deniedRestorePrefixes cover whole families (pg1-path, repo2-host).
var (
	deniedRestoreOptions = map[string]string{
		"stanza":              "kubectl pgo uses the cluster's stanza, db",
		"config":              "kubectl pgo mounts the cluster's pgBackRest configuration",
		"config-path":         "kubectl pgo mounts the cluster's pgBackRest configuration",
		"config-include-path": "kubectl pgo mounts the cluster's pgBackRest configuration",
		"archive-mode":        "archiving must go on after a restore, on the new timeline",
		"tablespace-map":      "the paths inside the pod are kubectl pgo's",
		"tablespace-map-all":  "the paths inside the pod are kubectl pgo's",
		"link-map":            "the paths inside the pod are kubectl pgo's",
		"lock-path":           "the paths inside the pod are kubectl pgo's",
		"log-path":            "the paths inside the pod are kubectl pgo's",
		"spool-path":          "the paths inside the pod are kubectl pgo's",
		"log-level-file":      "the restore logs to the Job's log only",
		"online":              "it is a backup option",
		"cmd-ssh":             "the repository is reached over TLS, not SSH",
		"exec-id":             "it is internal to pgBackRest",
	}
	deniedRestorePrefixes = regexp.MustCompile(`^(pg[0-9]*|repo[0-9]*|tls)-`)
)

// allowedRestoreOptions lists the allowed option names, for messages.
func allowedRestoreOptions() string {
	names := make([]string, 0, len(restoreOptions))
	for name := range restoreOptions {
		names = append(names, "--"+name)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// ParseRestoreOptions reads pgBackRest restore options, written as on a
// command line: --name=value or --name value, --flag or --no-flag, with
// shell quoting ('...' or "..."). It accepts only the options a user may
// choose, checks their values, and refuses everything else with the
// reason. Call Normalize afterwards to check how they combine.
func ParseRestoreOptions(s string) (RestoreOptions, error) {
	o := RestoreOptions{given: map[string]bool{}}
	words, err := splitWords(s)
	if err != nil {
		return o, err
	}
	var errs []error
	for i := 0; i < len(words); i++ {
		word := words[i]
		name, value, hasValue := strings.Cut(strings.TrimPrefix(word, "--"), "=")
		if !strings.HasPrefix(word, "--") || name == "" {
			errs = append(errs, fmt.Errorf("%q is not an option: write options as --name=value", word))
			continue
		}
		negated := false
		if n, ok := strings.CutPrefix(name, "no-"); ok {
			if spec, ok := restoreOptions[n]; ok && spec.boolean {
				name, negated = n, true
			}
		}
		if reason, ok := deniedRestoreOptions[name]; ok {
			errs = append(errs, fmt.Errorf("--%s cannot be given: %s", name, reason))
			continue
		}
		if deniedRestorePrefixes.MatchString(name) {
			errs = append(errs, fmt.Errorf("--%s cannot be given: the database and repository settings come from the cluster", name))
			continue
		}
		spec, ok := restoreOptions[name]
		if !ok {
			errs = append(errs, fmt.Errorf("--%s is not a restore option kubectl pgo accepts: use %s", name, allowedRestoreOptions()))
			continue
		}
		switch {
		case spec.boolean && negated:
			if hasValue {
				errs = append(errs, fmt.Errorf("--no-%s takes no value", name))
				continue
			}
			value = "n"
		case spec.boolean && !hasValue:
			value = "y"
		case spec.boolean:
			if value != "y" && value != "n" {
				errs = append(errs, fmt.Errorf("--%s=%s: use y or n, or --%s / --no-%s", name, value, name, name))
				continue
			}
		case !hasValue:
			if i+1 >= len(words) || strings.HasPrefix(words[i+1], "--") {
				errs = append(errs, fmt.Errorf("--%s needs a value: --%s=VALUE", name, name))
				continue
			}
			i++
			value = words[i]
		}
		if o.given[name] && !spec.multiple {
			errs = append(errs, fmt.Errorf("--%s is given more than once", name))
			continue
		}
		o.given[name] = true
		if err := spec.set(&o, value); err != nil {
			errs = append(errs, fmt.Errorf("--%s: %w", name, err))
		}
	}
	return o, errors.Join(errs...)
}

// WithTimeTarget makes o a point-in-time restore to t (kubectl pgo's
// --pitr-target): --type=time, which --pitr-target implies; a --type or a
// --target of their own conflicts with it.
func (o RestoreOptions) WithTimeTarget(t time.Time) (RestoreOptions, error) {
	if o.Type != "" && o.Type != RecoveryTime {
		return o, fmt.Errorf("--pitr-target is a time target and conflicts with --type=%s in --backup-opts: give one target", o.Type)
	}
	if o.Target != "" {
		return o, errors.New("--pitr-target and --target in --backup-opts both give the target: give it once, with --pitr-target")
	}
	o.Type = RecoveryTime
	o.Target = FormatTime(t)
	o.given = cloneGiven(o.given)
	o.given["type"], o.given["target"] = true, true
	return o, nil
}

// WithTargetTimeline sets the timeline of --target-timeline (tl; nothing
// when empty), which --backup-opts must not give too.
func (o RestoreOptions) WithTargetTimeline(tl string) (RestoreOptions, error) {
	if tl == "" {
		return o, nil
	}
	if _, err := ParseTargetTimeline(tl); err != nil {
		return o, fmt.Errorf("invalid --target-timeline: %w", err)
	}
	if o.TargetTimeline != "" {
		return o, errors.New("--target-timeline is given twice, as a flag and in the restore options: give it once")
	}
	o.TargetTimeline = tl
	o.given = cloneGiven(o.given)
	o.given["target-timeline"] = true
	return o, nil
}

func cloneGiven(m map[string]bool) map[string]bool {
	c := make(map[string]bool, len(m)+2)
	for k, v := range m {
		c[k] = v
	}
	return c
}

// Normalize checks how the options combine and fills in what follows
// from them: the default type, and --target-action=promote when there is a
// target, so that the database becomes usable by itself. For a time
// target it returns the time.
func (o *RestoreOptions) Normalize() (target time.Time, err error) {
	if o.Type == "" {
		o.Type = RecoveryDefault
	}
	var errs []error
	switch o.Type {
	case RecoveryDefault, RecoveryImmediate:
		if o.Target != "" {
			errs = append(errs, fmt.Errorf("--target needs --type=time, xid, lsn or name; --type=%s takes no target", o.Type))
		}
	case RecoveryTime, RecoveryXID, RecoveryLSN, RecoveryName:
		if o.Target == "" {
			errs = append(errs, fmt.Errorf("--type=%s needs a --target", o.Type))
			break
		}
		switch o.Type {
		case RecoveryTime:
			t, err := ParseTarget(o.Target)
			if err != nil {
				errs = append(errs, err)
				break
			}
			target, o.Target = t, FormatTime(t)
		case RecoveryXID:
			if n, err := strconv.ParseUint(o.Target, 10, 64); err != nil || n < 3 {
				errs = append(errs, fmt.Errorf("--target=%s is not a transaction ID: give a number, e.g. --target=1234", o.Target))
			}
		case RecoveryLSN:
			if !lsnValue.MatchString(o.Target) {
				errs = append(errs, fmt.Errorf("--target=%s is not an LSN: give one such as 0/3000028", o.Target))
			}
		}
	}
	if o.TargetExclusive && o.Type != RecoveryTime && o.Type != RecoveryXID && o.Type != RecoveryLSN {
		errs = append(errs, fmt.Errorf("--target-exclusive applies to --type=time, xid or lsn, not %s", o.Type))
	}
	hasTarget := o.Type != RecoveryDefault
	if o.TargetAction != "" && !hasTarget {
		errs = append(errs, errors.New("--target-action needs a target: --pitr-target, or --type with --target"))
	}
	if o.TargetAction == "" && hasTarget {
		o.TargetAction = TargetActionPromote
	}
	return target, errors.Join(errs...)
}

// Args returns the options as arguments of `pgbackrest restore`, after
// Normalize, always with --delta.
func (o RestoreOptions) Args() []string {
	args := []string{"--delta"}
	add := func(name, value string) {
		if value != "" {
			args = append(args, "--"+name+"="+value)
		}
	}
	if o.Force {
		args = append(args, "--force")
	}
	if o.Repo > 0 {
		add("repo", strconv.Itoa(o.Repo))
	}
	add("set", o.Set)
	if o.Type != "" && o.Type != RecoveryDefault {
		add("type", o.Type)
	}
	add("target", o.Target)
	if o.TargetExclusive {
		args = append(args, "--target-exclusive")
	}
	add("target-action", o.TargetAction)
	add("target-timeline", o.TargetTimeline)
	for _, db := range o.DBInclude {
		add("db-include", db)
	}
	for _, r := range o.RecoveryOptions {
		add("recovery-option", r)
	}
	if o.ProcessMax > 0 {
		add("process-max", strconv.Itoa(o.ProcessMax))
	}
	if o.LinkAll {
		args = append(args, "--link-all")
	}
	// Progress in the Job's log: pgBackRest's default for the console is
	// warn, which says nothing of a restore that goes well.
	add("log-level-console", orDefault(o.LogLevelConsole, "info"))
	return args
}

// Describe says in words where the restore goes, for prompts and
// summaries: "the end of the archived WAL", "2026-11-24 12:00:00+00".
func (o RestoreOptions) Describe() string {
	switch o.Type {
	case "", RecoveryDefault:
		return "the end of the archived WAL (the latest point)"
	case RecoveryImmediate:
		return "the end of the backup (immediate)"
	case RecoveryTime:
		return o.Target
	case RecoveryXID:
		return "transaction " + o.Target
	case RecoveryLSN:
		return "LSN " + o.Target
	case RecoveryName:
		return "restore point " + strconv.Quote(o.Target)
	case RecoveryStandby:
		return "standby mode (the source's WAL is replayed until the cluster is promoted)"
	}
	return o.Type
}

// splitWords splits s as a POSIX shell splits words: on blanks, with
// '...', "..." and backslash escapes. It does not expand anything.
func splitWords(s string) ([]string, error) {
	var (
		words   []string
		cur     strings.Builder
		inWord  bool
		quote   rune
		escaped bool
	)
	for _, r := range s {
		switch {
		case escaped:
			cur.WriteRune(r)
			escaped = false
		case quote == '\'':
			if r == '\'' {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case quote == '"':
			switch r {
			case '"':
				quote = 0
			case '\\':
				escaped = true
			default:
				cur.WriteRune(r)
			}
		case r == '\\':
			escaped, inWord = true, true
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t' || r == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("the quote %c is not closed in %q", quote, s)
	}
	if escaped {
		return nil, fmt.Errorf("%q ends with a backslash", s)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// numberIn is v as a number from lo to hi; otherwise an error that says v
// is not what is wanted.
func numberIn(v string, lo, hi int, want string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%q is not %s", v, want)
	}
	return n, nil
}
