#!/usr/bin/env bash
# Starts or stops one node of the local cluster: its containerd (with the cluster's images), its
# kubelet, and everything they run. up.sh starts every node with it; the node-loss drills stop one
# and start it again.
#   node.sh start N|NAME   set up and start node N (1-9), or start it again after a stop
#   node.sh stop N|NAME    the node is lost: its kubelet, containerd, shims and containers are
#                          killed (SIGKILL), as when a machine loses power. Its volumes' data stays
#                          on disk, as a disk does, and comes back with the node.
#   node.sh list           the nodes set up, and whether each runs
# A node shares the host's network and mount namespaces; its own are the bridge kpgoN and pod
# subnet 10.88.N.0/24, its containerd (root, state, socket, CNI configuration), its kubelet root
# directory, pod log directory and cgroup (/kpgo-node-N in each cgroup v1 hierarchy).
source "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
require_root

# cgroup_dirs N: the node's cgroup in every mounted v1 hierarchy (or the unified one).
cgroup_dirs() {
  local d
  for d in /sys/fs/cgroup/*/; do
    [ -f "$d/cgroup.procs" ] || continue
    echo "${d%/}/$(node_name "$1")"
  done
  [ -f /sys/fs/cgroup/cgroup.procs ] && echo "/sys/fs/cgroup/$(node_name "$1")"
  return 0
}

start_node() {
  local i=$1 name dir sock bridge ip
  name=$(node_name "$i"); dir=$(node_dir "$i"); sock=$(node_sock "$i")
  bridge=$(node_bridge "$i"); ip=$(node_ip "$i")
  mkdir -p "$dir"/{containerd/certs.d,cni/net.d,cni/ipam,kubelet/root,pod-logs}

  # The node's bridge and address, before its kubelet binds to it.
  bridge_up "$bridge" "$ip" "$i"

  # The kubelet's cgroup root must exist in every hierarchy; cpuset needs its CPUs and memory nodes.
  local cg
  for cg in $(cgroup_dirs "$i"); do
    mkdir -p "$cg"
    if [ -f "$cg/cpuset.cpus" ] && [ -z "$(cat "$cg/cpuset.cpus")" ]; then
      cat "$(dirname "$cg")/cpuset.cpus" >"$cg/cpuset.cpus"
      cat "$(dirname "$cg")/cpuset.mems" >"$cg/cpuset.mems"
    fi
  done

  # containerd, private to this node; image pulls go nowhere (no registry is reachable).
  local reg
  for reg in _default docker.io ghcr.io registry.k8s.io quay.io; do
    mkdir -p "$dir/containerd/certs.d/$reg"
    printf 'server = "http://127.0.0.1:9"\n[host."http://127.0.0.1:9"]\n  capabilities = ["pull", "resolve"]\n' >"$dir/containerd/certs.d/$reg/hosts.toml"
  done
  cat >"$dir/containerd/config.toml" <<CFG
version = 2
root = "$dir/containerd/root"
state = "/run/kpgo-containerd-$i"
[grpc]
  address = "$sock"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "registry.k8s.io/pause:3.10"
  restrict_oom_score_adj = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$dir/cni/net.d"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "$dir/containerd/certs.d"
CFG
  cat >"$dir/cni/net.d/10-kpgo.conflist" <<CNI
{
  "cniVersion": "0.4.0",
  "name": "kpgo",
  "plugins": [
    {"type": "bridge", "bridge": "$bridge", "isGateway": true, "ipMasq": false, "hairpinMode": true,
     "ipam": {"type": "host-local", "dataDir": "$dir/cni/ipam", "ranges": [[{"subnet": "$(node_pod_cidr "$i")", "gateway": "$ip"}]],
              "routes": [{"dst": "0.0.0.0/0"}]}},
    {"type": "portmap", "capabilities": {"portMappings": true}},
    {"type": "loopback"}
  ]
}
CNI
  start "containerd-$i" containerd --config "$dir/containerd/config.toml"
  wait_until "containerd of $name" 60 ctr -a "$sock" version
  # Import each image archive once per node; the archive's file name carries its content key.
  local tar image
  touch "$dir/images.imported"
  while read -r tar image; do
    grep -qxF "$tar" "$dir/images.imported" && continue
    log "$name: importing $image"
    ctr -a "$sock" -n k8s.io images import "$tar" >/dev/null
    echo "$tar" >>"$dir/images.imported"
  done < <("$HERE/images.sh" --print)

  local pki="$STATE_DIR/pki"
  cat >"$dir/kubelet/config.yaml" <<KC
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $ip
readOnlyPort: 0
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $pki/ca.crt}
authorization: {mode: Webhook}
tlsCertFile: $pki/kubelet-serving-$name.crt
tlsPrivateKeyFile: $pki/kubelet-serving-$name.key
cgroupDriver: cgroupfs
cgroupRoot: /$name
failCgroupV1: false
failSwapOn: false
containerRuntimeEndpoint: unix://$sock
clusterDNS: [$CLUSTER_DNS_IP]
clusterDomain: $CLUSTER_DOMAIN
resolvConf: ""
podLogsDir: $dir/pod-logs
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", nodefs.inodesFree: "1%", imagefs.available: "1%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
healthzBindAddress: 127.0.0.1
healthzPort: $((10260 + i))
KC
  start "kubelet-$i" "$K8S_BIN/kubelet" --config="$dir/kubelet/config.yaml" \
    --kubeconfig="$STATE_DIR/kubelet-$name.kubeconfig" --root-dir="$dir/kubelet/root" \
    --hostname-override="$name" --node-ip="$ip" --v=1
}

# stop_node N [SIGNAL]: the kubelet first, so it restarts nothing; then every container of the
# node's containerd, containerd itself, and the shims that outlive it.
stop_node() {
  local i=$1 sig=${2:-TERM} sock t c pid
  sock=$(node_sock "$i")
  stop "kubelet-$i" "$sig"
  if [ -S "$sock" ] && ctr -a "$sock" version >/dev/null 2>&1; then
    for t in $(ctr -a "$sock" -n k8s.io tasks ls -q 2>/dev/null); do ctr -a "$sock" -n k8s.io tasks kill -s SIGKILL "$t" >/dev/null 2>&1 || true; done
    for _ in $(seq 1 20); do [ -z "$(ctr -a "$sock" -n k8s.io tasks ls -q 2>/dev/null | head -1)" ] && break; sleep 0.5; done
  fi
  stop "containerd-$i" "$sig"
  for pid in $(pgrep -f "containerd-shim.*-address $sock" || true); do kill -KILL "$pid" 2>/dev/null || true; done
}

# remove_node N: after stop_node, what the node left on the host (mounts, cgroups, its bridge).
remove_node() {
  local i=$1 cg m
  for m in $(awk -v d="$(node_dir "$i")" -v r="/run/kpgo-containerd-$i" '$2 ~ "^"d || $2 ~ "^"r {print $2}' /proc/mounts | sort -r); do
    umount -l "$m" 2>/dev/null || true
  done
  for cg in $(cgroup_dirs "$i"); do
    [ -d "$cg" ] && find "$cg" -depth -type d -exec rmdir {} \; 2>/dev/null || true
  done
  ip link show "$(node_bridge "$i")" >/dev/null 2>&1 && ip link delete "$(node_bridge "$i")"
  rm -rf "/run/kpgo-containerd-$i"
}

case "${1:-}" in
  start) start_node "$(node_index "${2:?node.sh start N}")" ;;
  stop) stop_node "$(node_index "${2:?node.sh stop N}")" KILL ;;
  # For down.sh: a graceful stop, then what the node left on the host.
  remove) i=$(node_index "${2:?node.sh remove N}"); stop_node "$i"; remove_node "$i" ;;
  list)
    for i in $(started_nodes); do
      if running "kubelet-$i"; then echo "$(node_name "$i") running"; else echo "$(node_name "$i") stopped"; fi
    done ;;
  *) die "usage: node.sh start|stop|remove N, or node.sh list" ;;
esac
