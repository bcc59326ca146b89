// Package apply holds what the commands that change a cluster's objects
// share, apart from cobra and flags: the API clients (Clients), the
// --dry-run values, RBAC checks before the first change
// (CheckPermissions), reading and comparing the objects to apply
// (CurrentObjects, ObjectChanged, GetObject), printing them for -o
// (PrintObjects), the steps that --wait follows until a rollout is ready
// (WaitStep, RunWaitSteps, DatabaseReady, RepoHostReady), and the exec
// function the domain packages take (ExecFunc).
//
// pkg/lifecycle (create, update and delete cluster) and the schedule
// commands in pkg/cmd use it; it is tested without cobra. Building Clients
// from the kubeconfig, and the wording of a kubeconfig that cannot be
// used, stay in pkg/cmd (apply_cli.go).
package apply
