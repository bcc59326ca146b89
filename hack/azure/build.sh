#!/usr/bin/env bash
# Installs Azurite, the Azure Blob emulator the end-to-end tests start (over TLS) with node,
# from the npm registry into the cache. A no-op when it is cached.
set -euo pipefail
source "$(dirname "$0")/../cluster/lib.sh"
[ -f "$AZURITE_BLOB_JS" ] && exit 0
command -v node >/dev/null || die "Azurite needs node (apt-get install nodejs npm)"
log "installing Azurite $AZURITE_VERSION from npm (once)"
tmp="$AZURITE_DIR.tmp.$$"
rm -rf "$tmp"
mkdir -p "$tmp"
npm install --prefix "$tmp" --no-audit --no-fund --omit=dev "azurite@$AZURITE_VERSION" >&2
[ -f "$tmp/node_modules/azurite/dist/src/blob/main.js" ] || die "npm gave no azurite/dist/src/blob/main.js"
rm -rf "$AZURITE_DIR"
mv "$tmp" "$AZURITE_DIR"
log "azurite: $AZURITE_BLOB_JS"
