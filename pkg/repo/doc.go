// Package repo owns everything kubectl-pgo knows about pgBackRest itself:
// the repositories of a cluster (repo1, repo2, ...), the pgbackrest.conf of
// the database side and of the repository host (rendered as ini from typed
// structs), and the output of `pgbackrest info --output=json`.
//
// It knows nothing about Kubernetes objects: pkg/cluster decides where the
// files are mounted and passes those paths in.
package repo
