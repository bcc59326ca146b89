package cmd

import (
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// The parent commands below only group subcommands; their children are
// registered in NewCmdPGO (root.go) so the whole tree is visible in one
// place.

// NewCmdCreate returns `kubectl pgo create`, the parent of commands that
// create things (create cluster).
func NewCmdCreate(streams genericiooptions.IOStreams) *cobra.Command {
	return newGroup(streams, "create", "Create a PostgreSQL cluster or related objects")
}

// NewCmdShow returns `kubectl pgo show`, the parent of read-only commands
// (show cluster, show backup, show archive).
func NewCmdShow(streams genericiooptions.IOStreams) *cobra.Command {
	return newGroup(streams, "show", "Show PostgreSQL clusters and their backups")
}

// NewCmdDelete returns `kubectl pgo delete`, the parent of commands that
// remove things (delete cluster, delete backup).
func NewCmdDelete(streams genericiooptions.IOStreams) *cobra.Command {
	return newGroup(streams, "delete", "Delete a PostgreSQL cluster or related objects")
}

func newGroup(streams genericiooptions.IOStreams, name, short string) *cobra.Command {
	cmd := &cobra.Command{
		Use:                   name + " COMMAND",
		Short:                 short,
		DisableFlagsInUseLine: true,
		Args:                  cobra.ArbitraryArgs,
		RunE:                  runGroup,
		Annotations:           map[string]string{groupAnnotation: "true"},
	}
	cmd.SetOut(streams.Out)
	cmd.SetErr(streams.ErrOut)
	return cmd
}
