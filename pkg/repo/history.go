package repo

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// historyScript runs `pgbackrest info` (the command in "$@", after the
// list of repositories in $1, empty for every one info names, and "wal"
// or nothing in $2), then
// prints, for each of those repositories and each archive of the stanza, the listing of its history
// files (@@ls REPO ID JSON) and each file (@@file REPO ID NAME, then its
// content). repo-get decrypts an encrypted repository's files. A listing or
// a file that cannot be read prints @@error, so that a missing history is
// never mistaken for timeline 1 alone. With "wal", it also prints the
// names of the archive's WAL segments (@@wal REPO ID NAME...; a partial
// segment counts: it ends its timeline).
const historyScript = `repos=$1; wal=$2; shift 2
info=$("$@"); rc=$?
printf '%s\n' "$info"
[ "$rc" = 0 ] || exit "$rc"
[ -n "$repos" ] || repos=$(printf '%s' "$info" | grep -o '"repo-key":[0-9]*' | cut -d: -f2 | sort -u)
for a do shift; case $a in info|--output=*|--repo=*) ;; *) set -- "$@" "$a";; esac; done
for r in $repos; do
  ids=$("$@" --repo="$r" --output=text --filter='^[0-9]+-[0-9]+$' repo-ls archive/` + StanzaName + ` 2>&1) || { echo "@@error $r repo-ls archive: $ids" | tr '\n' ' '; echo; continue; }
  for id in $ids; do
    ls=$("$@" --repo="$r" --output=json --filter='\.history$' repo-ls "archive/` + StanzaName + `/$id" 2>&1) || { echo "@@error $r repo-ls $id: $ls" | tr '\n' ' '; echo; continue; }
    echo "@@ls $r $id $ls" | tr '\n' ' '; echo
    for f in $(echo "$ls" | grep -o '[0-9A-F]\{8\}\.history'); do
      echo "@@file $r $id $f"
      "$@" --repo="$r" repo-get "archive/` + StanzaName + `/$id/$f" || echo "@@error $r repo-get $id/$f"
    done
    [ -z "$wal" ] && continue
    ls=$("$@" --repo="$r" --output=text --recurse repo-ls "archive/` + StanzaName + `/$id" 2>&1) || { echo "@@error $r repo-ls $id: $ls" | tr '\n' ' '; echo; continue; }
    echo "@@wal $r $id $(printf '%s\n' "$ls" | grep -E '^[0-9A-F]{16}/[0-9A-F]{24}(-|\.partial)' | cut -c18-41 | tr '\n' ' ')"
  done
done`

// InfoCommand returns the command, run in a pgbackrest container, that
// prints `pgbackrest info --output=json` followed by the history files of
// repositories repos, or of every repository info reports when repos is
// empty (see ParseInfoOutput). args are the options of every
// pgbackrest call: the stanza, and what keeps a repository host out of the
// way; repoKey limits info to one repository (0: all).
func InfoCommand(args []string, repoKey int, repos []int) []string {
	return infoCommand(args, repoKey, repos, "")
}

// InfoWithWALCommand is InfoCommand that also lists the WAL segments of
// each archive, for WALGaps. The listing is as long as the archive: the
// read commands use it, a restore does not.
func InfoWithWALCommand(args []string, repoKey int, repos []int) []string {
	return infoCommand(args, repoKey, repos, "wal")
}

func infoCommand(args []string, repoKey int, repos []int, wal string) []string {
	var keys []string
	for _, r := range repos {
		keys = append(keys, strconv.Itoa(r))
	}
	cmd := append([]string{"sh", "-c", historyScript, "sh", strings.Join(keys, " "), wal, "pgbackrest"}, args...)
	cmd = append(cmd, "--output=json", "info")
	if repoKey > 0 {
		cmd = append(cmd, fmt.Sprintf("--repo=%d", repoKey))
	}
	return cmd
}

// ArchiveKey names an archive: a repository and an archive id ("15-1").
type ArchiveKey struct {
	Repo int
	ID   string
}

// InfoOutput is what InfoCommand printed.
type InfoOutput struct {
	Stanzas []Stanza
	// History holds the history files of each archive that was read.
	History map[ArchiveKey][]HistoryFile
	// HistoryRead is false when the output had no history part (an older
	// command, or a stub).
	HistoryRead bool
	// WAL holds the names of the WAL segments of each archive, when the
	// command listed them (InfoWithWALCommand).
	WAL map[ArchiveKey][]string
}

var (
	lsLine  = regexp.MustCompile(`^@@ls ([0-9]+) ([0-9]+-[0-9]+) (.*)$`)
	walLine = regexp.MustCompile(`^@@wal ([0-9]+) ([0-9]+-[0-9]+)((?: [0-9A-F]{24})*)$`)
)

// ParseInfoOutput reads the output of InfoCommand: the info JSON, then the
// history files.
func ParseInfoOutput(out string) (InfoOutput, error) {
	info, rest, hasHistory := strings.Cut(out, "\n@@")
	if strings.HasPrefix(out, "@@") {
		info, rest, hasHistory = "", strings.TrimPrefix(out, "@@"), true
	}
	stanzas, err := ParseInfo([]byte(info))
	if err != nil {
		return InfoOutput{}, err
	}
	res := InfoOutput{Stanzas: stanzas, History: map[ArchiveKey][]HistoryFile{}, HistoryRead: hasHistory}
	if !hasHistory {
		return res, nil
	}
	times := map[ArchiveKey]map[string]int64{}
	var cur *HistoryFile
	var curKey ArchiveKey
	flush := func() {
		if cur != nil {
			res.History[curKey] = append(res.History[curKey], *cur)
			cur = nil
		}
	}
	for _, line := range strings.Split("@@"+rest, "\n") {
		if !strings.HasPrefix(line, "@@") {
			if cur != nil {
				cur.Content += line + "\n"
			}
			continue
		}
		flush()
		switch {
		case strings.HasPrefix(line, "@@error "):
			return InfoOutput{}, fmt.Errorf("cannot read the timeline history of the archive: %s", strings.TrimSpace(strings.TrimPrefix(line, "@@error ")))
		case strings.HasPrefix(line, "@@ls "):
			m := lsLine.FindStringSubmatch(strings.TrimSpace(line))
			if m == nil {
				return InfoOutput{}, fmt.Errorf("cannot read the listing of history files: %q", line)
			}
			r, _ := strconv.Atoi(m[1])
			var files map[string]struct {
				Time int64 `json:"time"`
			}
			if err := json.Unmarshal([]byte(m[3]), &files); err != nil {
				return InfoOutput{}, fmt.Errorf("cannot read the listing of history files %q: %w", m[3], err)
			}
			k := ArchiveKey{Repo: r, ID: m[2]}
			times[k] = map[string]int64{}
			for name, f := range files {
				times[k][name] = f.Time
			}
			if _, ok := res.History[k]; !ok {
				res.History[k] = []HistoryFile{}
			}
		case strings.HasPrefix(line, "@@wal "):
			m := walLine.FindStringSubmatch(strings.TrimSpace(line))
			if m == nil {
				return InfoOutput{}, fmt.Errorf("cannot read the listing of WAL segments: %q", truncate(line, 200))
			}
			r, _ := strconv.Atoi(m[1])
			if res.WAL == nil {
				res.WAL = map[ArchiveKey][]string{}
			}
			k := ArchiveKey{Repo: r, ID: m[2]}
			res.WAL[k] = append(res.WAL[k], strings.Fields(m[3])...)
		case strings.HasPrefix(line, "@@file "):
			f := strings.Fields(line)
			if len(f) != 4 {
				return InfoOutput{}, fmt.Errorf("cannot read the history output line %q", line)
			}
			r, _ := strconv.Atoi(f[1])
			curKey = ArchiveKey{Repo: r, ID: f[2]}
			cur = &HistoryFile{Name: f[3], Archived: time.Unix(times[curKey][f[3]], 0).UTC()}
		default:
			return InfoOutput{}, fmt.Errorf("cannot read the history output line %q", line)
		}
	}
	flush()
	return res, nil
}

// TimelinesOf returns the timelines of the current archive of each
// repository of the stanza that InfoOutput read, by repository key.
func (o InfoOutput) TimelinesOf(s Stanza) (map[int]Timelines, error) {
	out := map[int]Timelines{}
	if !o.HistoryRead {
		return out, nil
	}
	keys := map[int]bool{}
	for _, a := range s.Archive {
		keys[max(a.Database.RepoKey, 1)] = true
	}
	for k := range keys {
		a, ok := s.CurrentArchive(k)
		if !ok {
			out[k] = Timelines{1: {ID: 1}}
			continue
		}
		files := o.History[ArchiveKey{Repo: k, ID: a.ID}]
		ts, err := NewTimelines(files)
		if err != nil {
			return nil, fmt.Errorf("repo%d, archive %s: %w", k, a.ID, err)
		}
		out[k] = ts
	}
	return out, nil
}
