// Package inspect gathers what the read commands show of a cluster, from the
// API server and by exec into its pods, without cobra:
//
//   - status.go: the pods' readiness, the stanza (pgbackrest info) and the
//     archiver (pg_stat_archiver), and the system identifier check; show
//     cluster, doctor and create cluster --wait use it;
//   - cluster.go: show cluster's report of each cluster (Clusters);
//   - passphrase.go: where an encrypted cluster's repository passphrase
//     lives and whether a delete would lose it (show cluster, doctor and
//     delete cluster use it);
//   - archive_text.go, backups_text.go: the text views of show archive and
//     show backup, written to the io.Writer a command gives, beside the
//     types they render (as repo.Summary's WriteText is).
//
// Functions take a client and an Exec (kube.ExecFunc), so that tests run
// with the fake clientset and a fake exec. The commands in pkg/cmd keep the
// flags, choose the output (-o) and the stream, and print the types defined
// here.
package inspect
