// Package inspect gathers what the read commands show of a cluster, from the
// API server and by exec into its pods, without cobra or printing:
//
//   - status.go: the pods' readiness, the stanza (pgbackrest info) and the
//     archiver (pg_stat_archiver), and the system identifier check; show
//     cluster, doctor and create cluster --wait use it;
//   - cluster.go: show cluster's report of each cluster (Clusters).
//
// Functions take a client and an Exec (kube.ExecFunc), so that tests run
// with the fake clientset and a fake exec. The commands in pkg/cmd keep the
// flags and print the types defined here.
package inspect
