#!/usr/bin/env bash
# go vet, gofmt and staticcheck (installed into the cache on first use).
set -euo pipefail
cd "$(dirname "$0")/.."
STATICCHECK_VERSION=v0.8.2 # staticcheck 2026.2.2
bin="${KPGO_CACHE:-$HOME/.cache/kubectl-pgo}/tools/staticcheck-$STATICCHECK_VERSION"
if [ ! -x "$bin/staticcheck" ]; then
  GOBIN="$bin" go install "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION"
fi
unformatted=$(gofmt -l $(git ls-files '*.go') 2>/dev/null || true)
[ -z "$unformatted" ] || { echo "gofmt: these files need formatting: $unformatted" >&2; exit 1; }
go vet ./...
"$bin/staticcheck" ./...
echo "lint: ok"
