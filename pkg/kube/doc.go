// Package kube owns kubectl-pgo's access to the Kubernetes API: building
// clients from the kubeconfig and global flags, server-side apply, exec into
// pods, and polling. Commands use it instead of client-go directly so that
// field ownership, timeouts and error messages stay consistent.
package kube
