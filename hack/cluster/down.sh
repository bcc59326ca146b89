#!/usr/bin/env bash
# Stops the local cluster and removes what up.sh made: the processes it started (by PID), the
# containers and their mounts, network namespaces, iptables rules, the bridge, the blackhole
# route and the changed sysctls. It works after a half-failed `up` too, and is a no-op after `down`.
source "$(dirname "$0")/lib.sh"
require_root
[ -d "$STATE_DIR" ] || { log "no cluster state in $STATE_DIR: nothing to do"; exit 0; }
HERE=$(cd "$(dirname "$0")" && pwd)

# Each node: its kubelet first, so it restarts nothing; then its containers, containerd, shims,
# mounts, cgroups and bridge.
for i in $(started_nodes); do "$HERE/node.sh" remove "$i"; done
for name in provisioner coredns kube-proxy kube-scheduler kube-controller-manager kube-apiserver etcd; do stop "$name"; done

# Mounts under our state (kubelet volumes, overlay snapshots, sandbox shm), deepest first.
for d in "$STATE_DIR" /run/kpgo-containerd; do # also matches each node's /run/kpgo-containerd-N
  awk -v d="$d" '$2 ~ "^"d {print $2}' /proc/mounts | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
done
# Network namespaces that appeared after the first `up`.
if [ -f "$STATE_DIR/netns.before" ]; then
  for ns in $(ip netns list | awk '{print $1}'); do
    grep -qxF "$ns" "$STATE_DIR/netns.before" || ip netns delete "$ns" 2>/dev/null || true
  done
fi

# iptables: kube-proxy's and kubelet's KUBE-* chains, the CNI's, and our egress guard.
if [ -x "$K8S_BIN/kube-proxy" ]; then "$K8S_BIN/kube-proxy" --cleanup >/dev/null 2>&1 || true; fi
iptables -D FORWARD -j KPGO-EGRESS 2>/dev/null || true
iptables -F KPGO-EGRESS 2>/dev/null || true; iptables -X KPGO-EGRESS 2>/dev/null || true
for ipt in iptables ip6tables; do
  command -v "$ipt-save" >/dev/null || continue
  if "$ipt-save" | grep -qE 'KUBE-|CNI-'; then
    "$ipt-save" | grep -vE -- '(-j|-A|^:)[ ]?(KUBE-|CNI-)|^-A (KUBE|CNI)-' | "$ipt-restore" || log "warning: could not remove KUBE-/CNI- rules from $ipt"
  fi
done

ip link show "$BRIDGE" >/dev/null 2>&1 && ip link delete "$BRIDGE"
ip route del blackhole "$SUPERNET" 2>/dev/null || true
if [ -f "$STATE_DIR/sysctl.saved" ]; then
  while IFS== read -r k v; do sysctl -qw "$k=$v" 2>/dev/null || true; done <"$STATE_DIR/sysctl.saved"
fi
rm -rf "$STATE_DIR" /run/kpgo-containerd*
log "cluster is down"
