#!/usr/bin/env bash
# Builds SeaweedFS's `weed`, the S3-compatible server the end-to-end tests start (over TLS, with
# SigV4 keys), from the Go module proxy into the cache. A no-op when the binary is cached.
set -euo pipefail
source "$(dirname "$0")/../cluster/lib.sh"
[ -x "$WEED_BIN" ] && exit 0
module=github.com/seaweedfs/seaweedfs
log "building SeaweedFS weed $SEAWEEDFS_VERSION (a few minutes, once)"
# Its go.mod has a replace directive, so `go install module@version` refuses it: build inside
# the downloaded module instead.
dir=$(GOFLAGS=-mod=mod go mod download -json "$module@$SEAWEEDFS_VERSION" | sed -n 's/^\s*"Dir": "\(.*\)",$/\1/p')
[ -d "$dir" ] || die "go mod download $module@$SEAWEEDFS_VERSION gave no directory"
tmp="$WEED_BIN.tmp.$$"
mkdir -p "$(dirname "$WEED_BIN")"
(cd "$dir" && go build -trimpath -o "$tmp" ./weed)
mv "$tmp" "$WEED_BIN"
log "weed: $("$WEED_BIN" version | head -1)"
