package cmd

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apiversion "k8s.io/apimachinery/pkg/version"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-pgo/kubectl-pgo/pkg/kube"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/printers"
	"github.com/kubectl-pgo/kubectl-pgo/pkg/version"
)

const versionLong = `Print the version of kubectl-pgo and of the Kubernetes API server.

If the server cannot be reached, the client version is still printed and the
command fails with the reason. Use --client to skip the server.`

const versionExample = `  # Client and server versions as a table
  kubectl pgo version

  # Only the plugin's version, as JSON
  kubectl pgo version --client -o json`

// VersionOptions holds the flags and clients of `kubectl pgo version`.
type VersionOptions struct {
	ClientOnly bool
	Output     *printers.OutputFlags

	factory kube.Factory
	genericiooptions.IOStreams
}

// Versions is what -o json|yaml prints; the field names match
// `kubectl version -o json`.
type Versions struct {
	ClientVersion version.Info     `json:"clientVersion"`
	ServerVersion *apiversion.Info `json:"serverVersion,omitempty"`
}

// NewVersionOptions returns options with defaults: table output, client
// and server.
func NewVersionOptions(streams genericiooptions.IOStreams) *VersionOptions {
	return &VersionOptions{
		Output:    printers.NewOutputFlags(printers.DefaultFormats...),
		IOStreams: streams,
	}
}

// NewCmdVersion returns `kubectl pgo version`.
func NewCmdVersion(f kube.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := NewVersionOptions(streams)
	cmd := newCommand(f, o, streams, commandHelp{
		"version",
		"Print the client and server versions",
		versionLong, versionExample})
	fl := cmd.Flags()
	fl.BoolVar(&o.ClientOnly, "client", o.ClientOnly, "Print only the client version; do not contact the server.")
	o.Output.AddFlags(cmd)
	cmd.Args = noArgs
	return cmd
}

// Complete records the factory; clients are built in Run, and only when the
// server is asked, so --client works without a kubeconfig.
func (o *VersionOptions) Complete(f kube.Factory, _ *cobra.Command, _ []string) error {
	o.factory = f
	return nil
}

// Validate checks the output format.
func (o *VersionOptions) Validate(*cobra.Command) error {
	return o.Output.Validate()
}

// Run prints the versions. A server that cannot be asked is reported as an
// error after the client version has been printed.
func (o *VersionOptions) Run(ctx context.Context) error {
	v := Versions{ClientVersion: version.Get()}
	var serverErr error
	if !o.ClientOnly {
		v.ServerVersion, serverErr = o.serverVersion(ctx)
	}
	if err := o.Output.Print(o.Out, versionTable(v), v); err != nil {
		return err
	}
	return serverErr
}

func (o *VersionOptions) serverVersion(ctx context.Context) (*apiversion.Info, error) {
	config, err := o.factory.RESTConfig()
	if err != nil {
		return nil, fmt.Errorf("could not determine the Kubernetes API server: %w", err)
	}
	client, err := o.factory.KubernetesClient()
	if err != nil {
		return nil, fmt.Errorf("could not create a client for the Kubernetes API server at %s: %w", config.Host, err)
	}
	info, err := client.Discovery().ServerVersionWithContext(ctx)
	if err != nil {
		// An HTTP error status means the server was reached but said no
		// (e.g. 401); anything else means it was not reached at all.
		var status apierrors.APIStatus
		if errors.As(err, &status) {
			return nil, fmt.Errorf("the Kubernetes API server at %s refused the version request: %w", config.Host, err)
		}
		return nil, fmt.Errorf("could not reach the Kubernetes API server at %s: %w", config.Host, err)
	}
	return info, nil
}

func versionTable(v Versions) *printers.Table {
	t := printers.NewTable("Component", "Version", "Git Commit", "Go Version", "Platform")
	c := v.ClientVersion
	t.AddRow("client", c.Version, c.GitCommit, c.GoVersion, c.Platform)
	if s := v.ServerVersion; s != nil {
		t.AddRow("server", s.GitVersion, s.GitCommit, s.GoVersion, s.Platform)
	}
	return t
}
