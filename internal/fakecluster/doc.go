// Package fakecluster builds a fake cluster for unit tests: a clientset
// holding a cluster's objects (as create cluster renders them, its running
// pods, its Secrets), and a fake exec that answers pgbackrest and psql like
// the real containers. It also holds what several packages' tests share
// about such a cluster: its backups, the Jobs the fake API server finishes,
// and the outputs in pkg/repo/testdata.
//
// Only tests import it (files named *_test.go); it imports no command
// package (pkg/cmd), so that the domain packages' tests and the commands'
// tests build the same cluster.
package fakecluster
