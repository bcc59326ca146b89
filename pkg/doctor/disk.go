package doctor

import (
	"fmt"
	"strconv"
	"strings"
)

// DiskUsage is a line of df -P -B1.
type DiskUsage struct {
	Size, Used, Available int64
}

// Percent is df's Use%: used over what a user can have, rounded up.
func (u DiskUsage) Percent() int64 {
	total := u.Used + u.Available
	if total <= 0 {
		return 0
	}
	return (u.Used*100 + total - 1) / total
}

// ParseDF reads the output of df -P -B1 PATH.
func ParseDF(out string) (DiskUsage, error) {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 2 {
		return DiskUsage{}, fmt.Errorf("cannot read the output of df: %q", truncateString(out, 200))
	}
	fields := strings.Fields(lines[len(lines)-1])
	if len(fields) < 6 {
		return DiskUsage{}, fmt.Errorf("cannot read the output of df: %q", truncateString(out, 200))
	}
	var u DiskUsage
	for i, p := range []*int64{&u.Size, &u.Used, &u.Available} {
		v, err := strconv.ParseInt(fields[i+1], 10, 64)
		if err != nil {
			return DiskUsage{}, fmt.Errorf("cannot read the output of df: %q", truncateString(out, 200))
		}
		*p = v
	}
	return u, nil
}

// ParseDU reads the output of du -s -B1 PATH.
func ParseDU(out string) (int64, error) {
	fields := strings.Fields(out)
	if len(fields) == 0 {
		return 0, fmt.Errorf("cannot read the output of du: %q", truncateString(out, 200))
	}
	v, err := strconv.ParseInt(fields[0], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("cannot read the output of du: %q", truncateString(out, 200))
	}
	return v, nil
}

func truncateString(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
