#!/usr/bin/env bash
# Starts a real single-node Kubernetes cluster on this machine: etcd, containerd, the control
# plane, kubelet, kube-proxy, CoreDNS and a hostPath provisioner, all as host processes whose PIDs
# are recorded under $STATE_DIR/pids so that down.sh stops exactly them. Running it again
# starts only what is not running. The admin kubeconfig is written to $STATE_DIR/admin.kubeconfig.
source "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
REPO_ROOT=$(cd "$HERE/../.." && pwd)
require_root
require_cmds curl:curl etcd:etcd-server containerd:containerd ctr:containerd runc:runc iptables:iptables \
  openssl:openssl ip:iproute2 conntrack:conntrack /usr/lib/cni/bridge:containernetworking-plugins \
  debootstrap:debootstrap go:golang
[ -e /proc/sys/net/bridge/bridge-nf-call-iptables ] || die "the br_netfilter kernel module is not loaded (modprobe br_netfilter)"

"$HERE/build-k8s.sh"
"$HERE/images.sh"

mkdir -p "$STATE_DIR"/{pids,logs,bin,volumes,cni/net.d,cni/ipam,containerd,kubelet}
PIDS="$STATE_DIR/pids"; LOGS="$STATE_DIR/logs"

running() { local f="$PIDS/$1.pid"; [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null; }
# start NAME CMD...: runs CMD in its own session, logging to $LOGS/NAME.log, unless it runs already.
start() {
  local name=$1; shift
  if running "$name"; then log "$name: already running (pid $(cat "$PIDS/$name.pid"))"; return; fi
  log "$name: starting"
  setsid "$@" >>"$LOGS/$name.log" 2>&1 < /dev/null &
  echo $! >"$PIDS/$name.pid"
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

# --- network: a private bridge; the supernet is blackholed and pod traffic may not leave it.
save_sysctl() { local k=$1 f="$STATE_DIR/sysctl.saved"; grep -q "^$k=" "$f" 2>/dev/null || echo "$k=$(sysctl -n "$k")" >>"$f"; }
for k in net.ipv4.ip_forward net.bridge.bridge-nf-call-iptables vm.overcommit_memory kernel.panic kernel.panic_on_oops; do save_sysctl $k; done
[ -f "$STATE_DIR/netns.before" ] || ip netns list | awk '{print $1}' >"$STATE_DIR/netns.before"
ip link show "$BRIDGE" >/dev/null 2>&1 || ip link add "$BRIDGE" type bridge
ip addr show dev "$BRIDGE" | grep -q "inet $BRIDGE_IP/" || ip addr add "$BRIDGE_IP/24" dev "$BRIDGE"
ip link set "$BRIDGE" up
ip route show type blackhole | grep -q "^blackhole $SUPERNET" || ip route add blackhole "$SUPERNET"
sysctl -qw net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1
iptables -N KPGO-EGRESS 2>/dev/null || true
iptables -F KPGO-EGRESS
iptables -A KPGO-EGRESS -s "$SUPERNET" ! -o "$BRIDGE" -j DROP
iptables -C FORWARD -j KPGO-EGRESS 2>/dev/null || iptables -I FORWARD 1 -j KPGO-EGRESS

# --- etcd
start etcd etcd --name kpgo --data-dir "$STATE_DIR/etcd" \
  --listen-client-urls http://127.0.0.1:23790 --advertise-client-urls http://127.0.0.1:23790 \
  --listen-peer-urls http://127.0.0.1:23800 --initial-advertise-peer-urls http://127.0.0.1:23800 \
  --initial-cluster kpgo=http://127.0.0.1:23800 --quota-backend-bytes 2147483648
"$HERE/pki.sh"

# --- containerd, private to this cluster; image pulls go nowhere (no registry is reachable).
CTRD="$STATE_DIR/containerd"
mkdir -p "$CTRD/certs.d"
for reg in _default docker.io ghcr.io registry.k8s.io quay.io; do
  mkdir -p "$CTRD/certs.d/$reg"
  printf 'server = "http://127.0.0.1:9"\n[host."http://127.0.0.1:9"]\n  capabilities = ["pull", "resolve"]\n' >"$CTRD/certs.d/$reg/hosts.toml"
done
cat >"$CTRD/config.toml" <<CFG
version = 2
root = "$CTRD/root"
state = "/run/kpgo-containerd"
[grpc]
  address = "$CONTAINERD_SOCK"
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
    conf_dir = "$STATE_DIR/cni/net.d"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "$CTRD/certs.d"
CFG
cat >"$STATE_DIR/cni/net.d/10-kpgo.conflist" <<CNI
{
  "cniVersion": "0.4.0",
  "name": "kpgo",
  "plugins": [
    {"type": "bridge", "bridge": "$BRIDGE", "isGateway": true, "ipMasq": false, "hairpinMode": true,
     "ipam": {"type": "host-local", "dataDir": "$STATE_DIR/cni/ipam", "ranges": [[{"subnet": "$POD_CIDR", "gateway": "$BRIDGE_IP"}]],
              "routes": [{"dst": "0.0.0.0/0"}]}},
    {"type": "portmap", "capabilities": {"portMappings": true}},
    {"type": "loopback"}
  ]
}
CNI
start containerd containerd --config "$CTRD/config.toml"
wait_until "containerd" 60 ctr -a "$CONTAINERD_SOCK" version
# Import each image archive once; the archive's file name carries its content key.
touch "$STATE_DIR/images.imported"
while read -r tar name; do
  grep -qxF "$tar" "$STATE_DIR/images.imported" && continue
  log "importing $name"
  ctr -a "$CONTAINERD_SOCK" -n k8s.io images import "$tar" >/dev/null
  echo "$tar" >>"$STATE_DIR/images.imported"
done < <("$HERE/images.sh" --print)

# --- control plane
PKI="$STATE_DIR/pki"
wait_until "etcd" 60 curl -fsS http://127.0.0.1:23790/health
start kube-apiserver "$K8S_BIN/kube-apiserver" \
  --bind-address="$BRIDGE_IP" --advertise-address="$BRIDGE_IP" --secure-port="$APISERVER_PORT" \
  --etcd-servers=http://127.0.0.1:23790 \
  --service-cluster-ip-range="$SERVICE_CIDR" --service-node-port-range=30000-32767 \
  --client-ca-file="$PKI/ca.crt" --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
  --kubelet-client-certificate="$PKI/apiserver-kubelet-client.crt" --kubelet-client-key="$PKI/apiserver-kubelet-client.key" \
  --kubelet-certificate-authority="$PKI/ca.crt" --kubelet-preferred-address-types=InternalIP,Hostname \
  --service-account-issuer="https://kubernetes.default.svc.$CLUSTER_DOMAIN" \
  --service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
  --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction \
  --allow-privileged=true --profiling=false --v=1
wait_until "kube-apiserver" 120 kubectl --kubeconfig "$KUBECONFIG_OUT" get --raw /readyz
start kube-controller-manager "$K8S_BIN/kube-controller-manager" \
  --kubeconfig="$STATE_DIR/controller-manager.kubeconfig" --bind-address=127.0.0.1 --leader-elect=false \
  --root-ca-file="$PKI/ca.crt" --service-account-private-key-file="$PKI/sa.key" \
  --use-service-account-credentials=true --cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key" \
  --service-cluster-ip-range="$SERVICE_CIDR" --cluster-cidr="$POD_CIDR" --allocate-node-cidrs=false \
  --profiling=false --v=1
start kube-scheduler "$K8S_BIN/kube-scheduler" \
  --kubeconfig="$STATE_DIR/scheduler.kubeconfig" --bind-address=127.0.0.1 --leader-elect=false --profiling=false --v=1

# --- kubelet
cat >"$STATE_DIR/kubelet/config.yaml" <<KC
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $BRIDGE_IP
readOnlyPort: 0
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $PKI/ca.crt}
authorization: {mode: Webhook}
tlsCertFile: $PKI/kubelet-serving.crt
tlsPrivateKeyFile: $PKI/kubelet-serving.key
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
containerRuntimeEndpoint: unix://$CONTAINERD_SOCK
clusterDNS: [$CLUSTER_DNS_IP]
clusterDomain: $CLUSTER_DOMAIN
resolvConf: ""
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", nodefs.inodesFree: "1%", imagefs.available: "1%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
healthzBindAddress: 127.0.0.1
KC
start kubelet "$K8S_BIN/kubelet" --config="$STATE_DIR/kubelet/config.yaml" \
  --kubeconfig="$STATE_DIR/kubelet.kubeconfig" --root-dir="$STATE_DIR/kubelet/root" \
  --hostname-override="$NODE_NAME" --node-ip="$BRIDGE_IP" --v=1
start kube-proxy "$K8S_BIN/kube-proxy" --kubeconfig="$STATE_DIR/kube-proxy.kubeconfig" \
  --proxy-mode=iptables --cluster-cidr="$POD_CIDR" --hostname-override="$NODE_NAME" \
  --conntrack-max-per-core=0 --metrics-bind-address=127.0.0.1:10249 --healthz-bind-address=127.0.0.1:10256 --v=1

# --- cluster DNS on the bridge address: only the cluster domain, nothing is forwarded off the machine.
cat >"$STATE_DIR/Corefile" <<CF
.:53 {
    bind $CLUSTER_DNS_IP
    errors
    kubernetes $CLUSTER_DOMAIN in-addr.arpa ip6.arpa {
        kubeconfig $KUBECONFIG_OUT kpgo
        pods insecure
    }
    cache 30
}
CF
start coredns "$COREDNS_BIN/coredns" -conf "$STATE_DIR/Corefile"

# --- dynamic provisioning and the default StorageClass
(cd "$REPO_ROOT" && CGO_ENABLED=0 go build -o "$STATE_DIR/bin/provisioner" ./hack/cluster/provisioner)
start provisioner "$STATE_DIR/bin/provisioner" --kubeconfig "$KUBECONFIG_OUT" \
  --base-dir "$STATE_DIR/volumes" --node "$NODE_NAME"
kubectl --kubeconfig "$KUBECONFIG_OUT" apply -f - >/dev/null <<SC
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: standard
  annotations: {storageclass.kubernetes.io/is-default-class: "true"}
provisioner: kubectl-pgo.local/hostpath
reclaimPolicy: Delete
volumeBindingMode: Immediate
SC

node_ready() { kubectl --kubeconfig "$KUBECONFIG_OUT" get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' | grep -qx True; }
wait_until "node $NODE_NAME to be Ready" 180 node_ready
wait_until "the default service account" 60 kubectl --kubeconfig "$KUBECONFIG_OUT" get serviceaccount default -n default
log "cluster is up: export KUBECONFIG=$KUBECONFIG_OUT"
