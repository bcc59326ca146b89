#!/usr/bin/env bash
# Runs the end-to-end tests against the running local cluster, with bin/kubectl-pgo on PATH so
# that kubectl finds the plugin by discovery.
set -euo pipefail
cd "$(dirname "$0")/.."
source hack/cluster/lib.sh
[ -f "$KUBECONFIG_OUT" ] || die "no local cluster: run 'make cluster-up' first"
hack/s3/build.sh # the S3 server the tests start (cached)
hack/gcs/build.sh # the GCS emulator (cached)
hack/azure/build.sh # the Azure Blob emulator (cached)
# The tests check that every node the cluster was started with is Ready.
KPGO_E2E_NODES=$(started_nodes | wc -l)
export PATH="$PWD/bin:$PATH" KPGO_E2E_KUBECONFIG="$KUBECONFIG_OUT" KPGO_WEED="$WEED_BIN" KPGO_E2E_NODES
export KPGO_FAKE_GCS="$FAKE_GCS_BIN" KPGO_AZURITE_BLOB="$AZURITE_BLOB_JS"
export KPGO_NODE_SCRIPT="$PWD/hack/cluster/node.sh"
# KPGO_DRILLS=1: only the node-loss drills (test/e2e/nodeloss_test.go), which stop whole nodes and so
# run alone and one at a time.
if [ "${KPGO_DRILLS:-}" = 1 ]; then set -- -tags drills -run '^TestNode(Loss|Drain)' -parallel 1 "$@"; fi
go test -count=1 -timeout 80m -parallel 4 ./test/e2e/... -v "$@" 2>&1 | tee "${E2E_LOG:-/tmp/kpgo-e2e.log}" | grep -E '^(=== RUN|--- |PASS|FAIL|ok|panic|\s+[a-z_]+\.go:[0-9]+:|.*[0-9]+ passed, [0-9]+ failed|secret leak check|LEAK)' 
exit "${PIPESTATUS[0]}"
