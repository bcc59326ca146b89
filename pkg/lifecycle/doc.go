// Package lifecycle creates, updates, fails over and deletes a cluster:
// what `kubectl pgo create cluster`, `update cluster`, `failover` and
// `delete cluster` do
// once their flags are read, as plain functions over *apply.Clients, an
// exec function and the writers that take their progress.
//
//   - Create (create.go): merge the settings given into the stored ones,
//     check storage classes, S3 Secrets, the passphrase Secret, kept
//     backups and permissions (settings.go), render the objects, apply them, and with Wait follow
//     the cluster until it is ready (wait.go: the stanza and the
//     database's system identifier read through pkg/inspect, by exec); a
//     client dry run renders without any server. A Bootstrap (create
//     cluster --restore-from, restore-drill) fills the data directory.
//   - Update (update.go): the objects whose rendering changes, applied,
//     then the restarts they cause followed.
//   - Find and Delete (delete.go): the cluster's objects by label, deleted
//     in stages (backups, the database, the repository host, the rest).
//     PassphraseAtRisk (passphrase.go) is what a delete would lose: the
//     only passphrase of encrypted backups that stay in a bucket.
//   - Replicas (replicas.go): the bootstrap backup of new replicas, the
//     instances a smaller --replicas drops, the wait until they stream.
//   - PlanFailover and Failover (failover_plan.go, failover.go): choose
//     the replica, stop the primary, promote, record the new primary and
//     apply what that changes (applyChanged in update.go).
//
// Flags, prompts and the wording of usage errors stay in pkg/cmd; the
// objects themselves come from pkg/cluster and the shared apply and wait
// steps from pkg/apply.
package lifecycle
