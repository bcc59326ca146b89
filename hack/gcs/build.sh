#!/usr/bin/env bash
# Builds fake-gcs-server, the GCS emulator the end-to-end tests start (over TLS), from the Go
# module proxy into the cache. A no-op when the binary is cached.
set -euo pipefail
source "$(dirname "$0")/../cluster/lib.sh"
[ -x "$FAKE_GCS_BIN" ] && exit 0
module=github.com/fsouza/fake-gcs-server
log "building fake-gcs-server $FAKE_GCS_VERSION (a minute or two, once)"
tmp="$FAKE_GCS_BIN.tmp.$$"
mkdir -p "$(dirname "$FAKE_GCS_BIN")"
# Built inside the downloaded module, with its own go.mod, like hack/s3/build.sh.
dir=$(GOFLAGS=-mod=mod go mod download -json "$module@$FAKE_GCS_VERSION" | sed -n 's/^\s*"Dir": "\(.*\)",$/\1/p')
[ -d "$dir" ] || die "go mod download $module@$FAKE_GCS_VERSION gave no directory"
(cd "$dir" && go build -trimpath -o "$tmp" .)
mv "$tmp" "$FAKE_GCS_BIN"
log "fake-gcs-server: $FAKE_GCS_BIN"
