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
# The GCS emulator of the tests (fake-gcs-server, from the Go module proxy).
FAKE_GCS_VERSION="${FAKE_GCS_VERSION:-v1.56.1}"
FAKE_GCS_BIN="$CACHE_DIR/fake-gcs-server-$FAKE_GCS_VERSION/fake-gcs-server"
# The Azure Blob emulator of the tests (Azurite, from the npm registry, run with node).
AZURITE_VERSION="${AZURITE_VERSION:-3.37.0}"
AZURITE_DIR="$CACHE_DIR/azurite-$AZURITE_VERSION"
AZURITE_BLOB_JS="$AZURITE_DIR/node_modules/azurite/dist/src/blob/main.js"
# Runtime state of the running cluster (PIDs, PKI, data).
STATE_DIR="${KPGO_STATE:-/var/lib/kubectl-pgo-cluster}"
KUBECONFIG_OUT="$STATE_DIR/admin.kubeconfig"

# Network: pods and services share one supernet, blackholed, so nothing leaks off the machine.
# The control plane (API server, DNS, the tests' S3 server) listens on the bridge kpgo0; node N
# has its own bridge kpgoN with the pod subnet 10.88.N.0/24, and its address 10.88.N.1 is the
# node's InternalIP (its kubelet listens there).
SUPERNET=10.88.0.0/16
BRIDGE=kpgo0
BRIDGE_IP=10.88.0.1
POD_CIDRS=10.88.0.0/20
SERVICE_CIDR=10.88.128.0/24
KUBERNETES_SVC_IP=10.88.128.1
CLUSTER_DNS_IP=$BRIDGE_IP
CLUSTER_DOMAIN=cluster.local
APISERVER_PORT=6443
PIDS="$STATE_DIR/pids"
LOGS="$STATE_DIR/logs"

# Nodes: NODES kubelets (1 to 9), each with its own containerd, root directory, cgroup, bridge
# and pod subnet. They share the host's network and mount namespaces (see README, "The local
# cluster").
NODES="${NODES:-3}"
[[ "$NODES" =~ ^[1-9]$ ]] || { echo "error: NODES must be a number from 1 to 9, not \"$NODES\"" >&2; exit 2; }
node_name() { echo "kpgo-node-$1"; }
node_ip() { echo "10.88.$1.1"; }
node_bridge() { echo "kpgo$1"; }
# bridge_up NAME ADDR N: the bridge NAME, up, with ADDR/24 and a fixed MAC address. A bridge
# left to choose its own takes the lowest of its ports' addresses, so it changes as pods come
# and go; the pods' ARP entries for their gateway then name an address nobody answers for, and
# their packets to it are lost until the entry expires: DNS queries time out ("Temporary
# failure in name resolution") and connections stall for seconds.
bridge_up() {
  local name=$1 addr=$2 n=$3
  ip link show "$name" >/dev/null 2>&1 || ip link add "$name" type bridge
  ip link set dev "$name" address "$(printf '02:6b:70:67:6f:%02x' "$n")"
  # (the output is read whole: grep -q would end the pipe early, and pipefail fail it)
  [[ "$(ip addr show dev "$name")" == *"inet $addr/"* ]] || ip addr add "$addr/24" dev "$name"
  ip link set "$name" up
}
node_pod_cidr() { echo "10.88.$1.0/24"; }
node_dir() { echo "$STATE_DIR/nodes/$1"; }
node_sock() { echo "$(node_dir "$1")/containerd/containerd.sock"; }
# node_index NAME|N: the node's number, from its name or number.
node_index() {
  local n=${1#kpgo-node-}
  [[ "$n" =~ ^[1-9]$ ]] || die "no such node: $1 (nodes are kpgo-node-1 to kpgo-node-9, or their numbers)"
  echo "$n"
}
# started_nodes: the numbers of the nodes up.sh has set up, whether they run now or not.
started_nodes() { ls "$STATE_DIR/nodes" 2>/dev/null | sed -n 's/^\([1-9]\)$/\1/p'; }

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

# running NAME: whether the process up.sh recorded as NAME runs.
running() { local f="$PIDS/$1.pid"; [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null; }
# start NAME CMD...: runs CMD in its own session, logging to $LOGS/NAME.log, unless it runs already.
start() {
  local name=$1; shift
  if running "$name"; then log "$name: already running (pid $(cat "$PIDS/$name.pid"))"; return; fi
  log "$name: starting"
  mkdir -p "$PIDS" "$LOGS"
  setsid "$@" >>"$LOGS/$name.log" 2>&1 < /dev/null &
  echo $! >"$PIDS/$name.pid"
}
# stop NAME [SIGNAL]: sends SIGNAL (TERM) to the recorded PID, then SIGKILL after a grace period.
stop() {
  local f="$PIDS/$1.pid" pid
  [ -f "$f" ] || return 0
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    log "stopping $1 (pid $pid)"
    kill "-${2:-TERM}" "$pid" 2>/dev/null || true
    for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}
# wait_until DESC SECONDS CMD...: polls CMD until it succeeds.
wait_until() {
  local desc=$1 secs=$2; shift 2
  local end=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $end ] || die "timed out after ${secs}s waiting for $desc (logs: $LOGS)"
    sleep 1
  done
}
