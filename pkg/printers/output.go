package printers

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"
)

// Format is a value of the -o/--output flag.
type Format string

// The output formats commands can offer.
const (
	FormatTable Format = "table"
	FormatJSON  Format = "json"
	FormatYAML  Format = "yaml"
)

// DefaultFormats is what a read command offers unless it says otherwise.
var DefaultFormats = []Format{FormatTable, FormatJSON, FormatYAML}

// OutputFlags binds -o/--output for one command. The first allowed format
// is the default.
type OutputFlags struct {
	Output  string
	Allowed []Format
}

// NewOutputFlags returns flags allowing the given formats (DefaultFormats
// if none); the first one is the default.
func NewOutputFlags(allowed ...Format) *OutputFlags {
	if len(allowed) == 0 {
		allowed = DefaultFormats
	}
	return &OutputFlags{Output: string(allowed[0]), Allowed: slices.Clone(allowed)}
}

// AddFlags registers -o/--output on cmd, with shell completion of the
// allowed values.
func (o *OutputFlags) AddFlags(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&o.Output, "output", "o", o.Output,
		fmt.Sprintf("Output format. One of: (%s).", o.allowedList()))
	// The only possible error is an unknown flag name, which is ours.
	_ = cmd.RegisterFlagCompletionFunc("output", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		names := make([]string, len(o.Allowed))
		for i, f := range o.Allowed {
			names[i] = string(f)
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	})
}

// Validate rejects formats the command does not offer, naming the ones it
// does.
func (o *OutputFlags) Validate() error {
	if slices.Contains(o.Allowed, Format(o.Output)) {
		return nil
	}
	return fmt.Errorf("invalid output format %q: allowed formats are %s", o.Output, o.allowedList())
}

// Format returns the selected format; call Validate first.
func (o *OutputFlags) Format() Format {
	return Format(o.Output)
}

// Print writes v as JSON or YAML, or table when the table format is
// selected. Commands build both so one call serves every format.
func (o *OutputFlags) Print(w io.Writer, table *Table, v any) error {
	return Print(w, o.Format(), table, v)
}

func (o *OutputFlags) allowedList() string {
	names := make([]string, len(o.Allowed))
	for i, f := range o.Allowed {
		names[i] = string(f)
	}
	return strings.Join(names, ", ")
}

// Print writes table when format is FormatTable, else v as JSON or YAML.
func Print(w io.Writer, format Format, table *Table, v any) error {
	switch format {
	case FormatTable:
		if table == nil {
			return fmt.Errorf("output format %q is not supported here", format)
		}
		return table.Render(w)
	case FormatJSON:
		return PrintJSON(w, v)
	case FormatYAML:
		return PrintYAML(w, v)
	default:
		return fmt.Errorf("unknown output format %q", format)
	}
}

// PrintJSON writes v as indented JSON followed by a newline. It indents
// with four spaces, as kubectl does.
func PrintJSON(w io.Writer, v any) error {
	data, err := json.MarshalIndent(v, "", "    ")
	if err != nil {
		return fmt.Errorf("encode JSON: %w", err)
	}
	data = append(data, '\n')
	_, err = w.Write(data)
	return err
}

// PrintYAML writes v as YAML. It goes through v's JSON encoding
// (sigs.k8s.io/yaml), so json tags and Kubernetes types marshal the same way
// as in JSON output.
func PrintYAML(w io.Writer, v any) error {
	data, err := yaml.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode YAML: %w", err)
	}
	_, err = w.Write(data)
	return err
}
