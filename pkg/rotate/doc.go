// Package rotate replaces the secret material of a running cluster without
// losing archived WAL: what `kubectl pgo rotate certs|password|keys` do once
// their flags are read, as plain functions over *apply.Clients, an exec
// function and a progress writer.
//
//   - Check (check.go): what every rotation refuses before it changes
//     anything: a restore or upgrade Job, a repository host or primary
//     that is not ready; and what it holds back (Hold, hold.go): the
//     cluster's backup schedules, suspended until it ends, and the backup
//     and dump Jobs that run, which it waits for.
//   - PlanCerts and Certs (certs.go): new database and repository leaf
//     certificates signed by the cluster's own CA (cluster.PKI.ReissueLeaves)
//     into the repository Secret; each pod's mounted copy followed until it
//     changes, PostgreSQL reloaded (pg_reload_conf, no restart) and checked
//     to serve the new certificate, each pgBackRest server sent SIGHUP (it
//     reloads its TLS files itself), then pgbackrest check.
//   - PlanNewCA and NewCA (newca.go): a new CA in three steps that every
//     pod loads in turn: both CAs trusted, the new one signs, the old one
//     dropped.
//   - PlanPassword and Password (password.go): the superuser's and the
//     replication role's passwords, the Secret first, then ALTER ROLE from
//     the files the primary mounts, then each replica's libpq password file.
//   - PlanKeys and Keys (keys.go): an object store's new credentials Secret,
//     proven by a probe pod (jobs.KeysProbe) that reads the repository and
//     writes to it with them, then the settings switched to it
//     (lifecycle.ChangeCredentials: the pods restart, since pgBackRest reads
//     the keys from the environment), then pgbackrest check.
//   - CipherPassRefusal (cipher.go): why the repository passphrase is not
//     rotated, and what to do instead.
//
// The served certificate and the mounted files are read with
// inspect.ServedCertificate and inspect.MountedFile, which doctor reads too.
package rotate
