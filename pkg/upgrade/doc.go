// Package upgrade owns kubectl pgo upgrade: a cluster's move to a newer
// PostgreSQL major in place, with pg_upgrade in a Job (jobs.UpgradeJob)
// whose image has both majors. It checks what cannot work before anything
// changes, takes a full backup of the old major, stops the database, runs
// the Job, changes the cluster's settings to the new major
// (lifecycle.ChangeMajor), upgrades the pgBackRest stanza and takes the
// first full backup of the new major.
package upgrade
