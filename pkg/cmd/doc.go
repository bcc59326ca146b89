// Package cmd owns the kubectl pgo command tree: the root command, its
// global flags, and one constructor per subcommand (NewCmdXxx). Each
// command follows kubectl's pattern of an Options struct with Complete,
// Validate and Run, and writes only to the IOStreams it is given so tests
// can capture its output.
package cmd
