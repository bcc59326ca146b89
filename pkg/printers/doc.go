// Package printers owns how kubectl-pgo writes results: the -o/--output
// flag, and the table, JSON and YAML renderings every read command shares,
// so all commands look and parse alike.
package printers
