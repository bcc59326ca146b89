# Shared settings for the local-cluster scripts. Sourced, not run.
# shellcheck shell=bash
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-v1.33.13}"
COREDNS_VERSION="${COREDNS_VERSION:-v1.12.1}"
# Build outputs live outside the repo so a fresh clone on a warm machine reuses them.
CACHE_DIR="${KPGO_CACHE:-$HOME/.cache/kubectl-pgo}"
K8S_BIN="$CACHE_DIR/kubernetes-$K8S_VERSION/bin"
COREDNS_BIN="$CACHE_DIR/coredns-$COREDNS_VERSION/bin"
IMAGES_DIR="$CACHE_DIR/images"
# The S3-compatible server of the tests (SeaweedFS, from the Go module proxy).
SEAWEEDFS_VERSION="${SEAWEEDFS_VERSION:-v0.0.0-20261109003541-7506e5f91cd6}"
WEED_BIN="$CACHE_DIR/seaweedfs-$SEAWEEDFS_VERSION/weed"
# Runtime state of the running cluster (PIDs, PKI, data).
STATE_DIR="${KPGO_STATE:-/var/lib/kubectl-pgo-cluster}"
KUBECONFIG_OUT="$STATE_DIR/admin.kubeconfig"

# Network: pods and services share one supernet, blackholed, so nothing leaks off the machine.
SUPERNET=10.88.0.0/16
POD_CIDR=10.88.0.0/24
BRIDGE=kpgo0
BRIDGE_IP=10.88.0.1
SERVICE_CIDR=10.88.128.0/24
KUBERNETES_SVC_IP=10.88.128.1
CLUSTER_DNS_IP=$BRIDGE_IP
CLUSTER_DOMAIN=cluster.local
NODE_NAME="${NODE_NAME:-kpgo-node}"
APISERVER_PORT=6443
CONTAINERD_SOCK="$STATE_DIR/containerd/containerd.sock"

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

require_root() { # $1: why root is needed
  [ "$(id -u)" = 0 ] || die "this script must run as root (${1:-it starts kubelet and containerd, and changes iptables}); rerun it as root or with sudo"
}

# require_cmds CMD:PACKAGE ... stops with the Debian package to install for each missing command.
require_cmds() {
  local missing=() pair cmd pkg
  for pair in "$@"; do
    cmd=${pair%%:*}; pkg=${pair#*:}
    if ! command -v "$cmd" >/dev/null 2>&1 && [ ! -x "$cmd" ]; then missing+=("$cmd (apt-get install $pkg)"); fi
  done
  [ ${#missing[@]} = 0 ] || die "missing: ${missing[*]}. Run hack/cluster/install-deps.sh"
}
