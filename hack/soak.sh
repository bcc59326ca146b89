#!/usr/bin/env bash
# The restore chain (test/e2e/chain_test.go) as a soak test, outside CI: KPGO_CHAIN_STEPS steps
# (default 200) of the seed KPGO_CHAIN_SEED (random unless given; the log names it) against the
# running local cluster, on a local and an S3-only repository in parallel, or only on one with
# SOAK_RUN='TestChain$/local' or SOAK_RUN='TestChain$/s3'. The log is in E2E_LOG
# (default /tmp/kpgo-soak.log); the step log of each run is at its end.
set -euo pipefail
cd "$(dirname "$0")/.."
export KPGO_CHAIN_STEPS="${KPGO_CHAIN_STEPS:-200}"
if [ -n "${KPGO_CHAIN_SEED:-}" ]; then export KPGO_CHAIN_SEED; fi
run="${SOAK_RUN:-TestChain\$}"
export E2E_LOG="${E2E_LOG:-/tmp/kpgo-soak.log}"
echo "soak: $KPGO_CHAIN_STEPS steps, seed ${KPGO_CHAIN_SEED:-random}, -run '^$run'; log in $E2E_LOG"
start=$SECONDS
status=0
hack/e2e.sh -run "^$run" -timeout 12h || status=$?
echo "soak: exit $status after $(( (SECONDS - start) / 60 )) min; seeds and results:"
grep -E 'restore chain(: seed| done)|^\s*--- (PASS|FAIL): TestChain' "$E2E_LOG" || true
exit "$status"
