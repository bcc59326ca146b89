#!/usr/bin/env bash
# Starts a real Kubernetes cluster of $NODES nodes (default 3) on this machine: etcd, the control
# plane, a containerd and a kubelet per node (node.sh), kube-proxy, CoreDNS and a node-local volume
# provisioner, all as host processes whose PIDs are recorded under $STATE_DIR/pids so that down.sh
# stops exactly them. Running it again starts only what is not running. The admin kubeconfig is written to $STATE_DIR/admin.kubeconfig.
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

mkdir -p "$STATE_DIR"/{pids,logs,bin,volumes,nodes}

# --- network: private bridges (kpgo0 for the control plane, kpgoN for node N's pods); the
# supernet is blackholed and pod traffic may not leave the bridges.
save_sysctl() { local k=$1 f="$STATE_DIR/sysctl.saved"; grep -q "^$k=" "$f" 2>/dev/null || echo "$k=$(sysctl -n "$k")" >>"$f"; }
for k in net.ipv4.ip_forward net.bridge.bridge-nf-call-iptables vm.overcommit_memory kernel.panic kernel.panic_on_oops; do save_sysctl $k; done
[ -f "$STATE_DIR/netns.before" ] || ip netns list | awk '{print $1}' >"$STATE_DIR/netns.before"
bridge_up "$BRIDGE" "$BRIDGE_IP" 0
ip route show type blackhole | grep -q "^blackhole $SUPERNET" || ip route add blackhole "$SUPERNET"
sysctl -qw net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1
iptables -N KPGO-EGRESS 2>/dev/null || true
iptables -F KPGO-EGRESS
iptables -A KPGO-EGRESS -s "$SUPERNET" ! -o kpgo+ -j DROP
iptables -C FORWARD -j KPGO-EGRESS 2>/dev/null || iptables -I FORWARD 1 -j KPGO-EGRESS

# --- etcd
start etcd etcd --name kpgo --data-dir "$STATE_DIR/etcd" \
  --listen-client-urls http://127.0.0.1:23790 --advertise-client-urls http://127.0.0.1:23790 \
  --listen-peer-urls http://127.0.0.1:23800 --initial-advertise-peer-urls http://127.0.0.1:23800 \
  --initial-cluster kpgo=http://127.0.0.1:23800 --quota-backend-bytes 2147483648
"$HERE/pki.sh"

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
  --service-cluster-ip-range="$SERVICE_CIDR" --cluster-cidr="$POD_CIDRS" --allocate-node-cidrs=false \
  --profiling=false --v=1
start kube-scheduler "$K8S_BIN/kube-scheduler" \
  --kubeconfig="$STATE_DIR/scheduler.kubeconfig" --bind-address=127.0.0.1 --leader-elect=false --profiling=false --v=1

# --- the nodes: a containerd and a kubelet each (node.sh), and one kube-proxy for the host.
for i in $(seq 1 "$NODES"); do "$HERE/node.sh" start "$i"; done
start kube-proxy "$K8S_BIN/kube-proxy" --kubeconfig="$STATE_DIR/kube-proxy.kubeconfig" \
  --proxy-mode=iptables --cluster-cidr="$POD_CIDRS" --hostname-override="$(node_name 1)" \
  --conntrack-max-per-core=0 --metrics-bind-address=127.0.0.1:10249 --healthz-bind-address=127.0.0.1:10256 --v=1

# --- cluster DNS on the bridge address: only the cluster domain, nothing is forwarded off the
# machine. Any other name does not exist (NXDOMAIN): a server failure there would turn the last
# step of a search-list lookup into "Temporary failure in name resolution" for a name that is
# simply not there.
cat >"$STATE_DIR/Corefile" <<CF
$CLUSTER_DOMAIN:53 in-addr.arpa:53 ip6.arpa:53 {
    bind $CLUSTER_DNS_IP
    errors
    kubernetes $CLUSTER_DOMAIN in-addr.arpa ip6.arpa {
        kubeconfig $KUBECONFIG_OUT kpgo
        pods insecure
    }
    cache 30
}
.:53 {
    bind $CLUSTER_DNS_IP
    template ANY ANY {
        rcode NXDOMAIN
    }
}
CF
start coredns "$COREDNS_BIN/coredns" -conf "$STATE_DIR/Corefile"

# --- dynamic provisioning and the default StorageClass
(cd "$REPO_ROOT" && CGO_ENABLED=0 go build -o "$STATE_DIR/bin/provisioner" ./hack/cluster/provisioner)
start provisioner "$STATE_DIR/bin/provisioner" --kubeconfig "$KUBECONFIG_OUT" --base-dir "$STATE_DIR/volumes"
# standard (the default): node-local volumes, bound where their first pod is scheduled, as a
# local-path or zonal cloud-disk provisioner does. shared: volumes any node mounts, as a network
# filesystem's.
kubectl --kubeconfig "$KUBECONFIG_OUT" apply -f - >/dev/null <<SC
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: standard
  annotations: {storageclass.kubernetes.io/is-default-class: "true"}
provisioner: kubectl-pgo.local/hostpath
reclaimPolicy: Delete
volumeBindingMode: WaitForFirstConsumer
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: shared
provisioner: kubectl-pgo.local/hostpath
reclaimPolicy: Delete
volumeBindingMode: Immediate
SC

node_ready() { kubectl --kubeconfig "$KUBECONFIG_OUT" get node "$1" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' | grep -qx True; }
for i in $(seq 1 "$NODES"); do wait_until "node $(node_name "$i") to be Ready" 180 node_ready "$(node_name "$i")"; done
wait_until "the default service account" 60 kubectl --kubeconfig "$KUBECONFIG_OUT" get serviceaccount default -n default
log "cluster is up with $NODES nodes: export KUBECONFIG=$KUBECONFIG_OUT"
