#!/usr/bin/env bash
# The project's whole test run, as CI runs it: dependencies, lint, unit tests, then a fresh local
# cluster and the end-to-end tests. The cluster is taken down at the end, even when a test fails.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
hack/cluster/install-deps.sh
hack/lint.sh
echo "== unit tests"
go test -count=1 ./...
echo "== local cluster"
hack/cluster/down.sh # leftovers of an interrupted run
trap 'hack/cluster/down.sh' EXIT
hack/cluster/up.sh
echo "== end-to-end tests"
make build
hack/e2e.sh
echo "all tiers passed in $((SECONDS - start))s"
