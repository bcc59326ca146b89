#!/usr/bin/env bash
# The project's whole test run, as CI runs it: dependencies, lint, unit tests, then a fresh local
# cluster of 3 nodes (NODES) and the end-to-end tests; with KPGO_FULL=1 (make test-full) also the
# node-loss drills and the soak. The cluster is taken down at the end, even when a test fails.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
hack/cluster/install-deps.sh
hack/lint.sh
echo "== unit tests"
go test -count=1 ./...
echo "== local cluster"
hack/cluster/down.sh # leftovers of an interrupted run
# On failure, keep the cluster's component logs (down.sh removes the state directory).
keep_logs() {
  local status=$?
  if [ $status -ne 0 ] && [ -d "${KPGO_STATE:-/var/lib/kubectl-pgo-cluster}/logs" ]; then
    local dest="${TMPDIR:-/tmp}/kubectl-pgo-logs-$(date +%Y%m%d-%H%M%S)"
    cp -r "${KPGO_STATE:-/var/lib/kubectl-pgo-cluster}/logs" "$dest" && echo "cluster logs kept in $dest" >&2
  fi
  hack/cluster/down.sh
  return $status
}
trap keep_logs EXIT
hack/cluster/up.sh
echo "== end-to-end tests"
make build
hack/e2e.sh
if [ "${KPGO_FULL:-}" = 1 ]; then
  echo "== node-loss drills"
  KPGO_DRILLS=1 E2E_LOG=/tmp/kpgo-drills.log hack/e2e.sh
  echo "== soak"
  hack/soak.sh
fi
echo "all tiers passed in $((SECONDS - start))s"
