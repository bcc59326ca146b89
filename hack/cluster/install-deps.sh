#!/usr/bin/env bash
# Installs the Debian packages the local cluster needs. Idempotent; a no-op when all are present.
source "$(dirname "$0")/lib.sh"
require_root "it installs Debian packages"
packages=(etcd-server containerd runc containernetworking-plugins iptables conntrack debootstrap
  openssl iproute2 curl ca-certificates procps kmod)
missing=()
for p in "${packages[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p"); done
# Azurite, the Azure Blob emulator of the end-to-end tests, runs with node and installs with npm
# (hack/azure/build.sh); a node that came from elsewhere is kept.
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  log "apt-get install ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v go >/dev/null || die "Go is not installed: install Go 1.24 or newer (https://go.dev/doc/install) and put it on PATH"
command -v kubectl >/dev/null || die "kubectl is not on PATH: install kubectl, the plugin runs through it"
log "dependencies present"
