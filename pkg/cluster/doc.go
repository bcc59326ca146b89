// Package cluster owns what `kubectl pgo create cluster` decides and
// renders: the cluster's settings (Spec, with defaults, validation and the
// rules for what may change later), the names and labels of its objects,
// its secret material (a CA, two TLS certificates and the superuser
// password), and the Kubernetes objects themselves, rendered from YAML
// templates embedded in the binary.
//
// Rendering is pure: it talks to no API server and returns the same bytes
// for the same input, so a re-run of create is a no-op under server-side
// apply. Generating the secret material is a separate step, because it is
// random: the create command reuses the material of the existing Secrets.
package cluster
