#!/usr/bin/env bash
# Runs the end-to-end tests against the running local cluster, with bin/kubectl-pgo on PATH so
# that kubectl finds the plugin by discovery.
set -euo pipefail
cd "$(dirname "$0")/.."
source hack/cluster/lib.sh
[ -f "$KUBECONFIG_OUT" ] || die "no local cluster: run 'make cluster-up' first"
hack/s3/build.sh # the S3 server the tests start (cached)
export PATH="$PWD/bin:$PATH" KPGO_E2E_KUBECONFIG="$KUBECONFIG_OUT" KPGO_WEED="$WEED_BIN"
go test -count=1 -timeout 50m -parallel 4 ./test/e2e/... -v "$@" 2>&1 | tee "${E2E_LOG:-/tmp/kpgo-e2e.log}" | grep -E '^(=== RUN|--- |PASS|FAIL|ok|panic|\s+[a-z_]+\.go:[0-9]+:|.*[0-9]+ passed, [0-9]+ failed|secret leak check|LEAK)' 
exit "${PIPESTATUS[0]}"
