// Package doctor examines a cluster for kubectl pgo doctor: Gather reads
// its Secrets and pods and runs pgbackrest server-ping, info and check,
// psql, df and du in them, all at once; Diagnose judges those Facts, one
// Check per line of the report, each with the fix to apply when it does not
// pass. ParseDF and ParseDU read the repository volume's usage.
//
// It holds no cobra: pkg/cmd/doctor.go keeps the flags, chooses the output
// (-o) and writes the Report, as JSON or YAML or with Report.WriteText.
package doctor
