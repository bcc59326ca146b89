#!/usr/bin/env bash
# Creates the local cluster's PKI with openssl: one CA, serving and client certificates, and the
# service-account key pair. Existing files are kept, so `up` can run again.
source "$(dirname "$0")/lib.sh"
require_cmds openssl:openssl
PKI="$STATE_DIR/pki"
mkdir -p "$PKI"; chmod 700 "$PKI"; cd "$PKI"

if [ ! -f ca.crt ]; then
  openssl ecparam -name prime256v1 -genkey -noout -out ca.key 2>/dev/null
  openssl req -x509 -new -key ca.key -days 3650 -subj "/CN=kubectl-pgo-local-ca" -out ca.crt
fi

# cert NAME CN O EXT: a leaf signed by the CA; EXT is an openssl extension section body.
cert() {
  local name=$1 cn=$2 org=$3 ext=$4 subj="/CN=$2"
  [ -f "$name.crt" ] && return
  [ -n "$org" ] && subj="/O=$org$subj"
  openssl ecparam -name prime256v1 -genkey -noout -out "$name.key" 2>/dev/null
  openssl req -new -key "$name.key" -subj "$subj" -out "$name.csr"
  printf '[ext]\n%s\n' "$ext" >"$name.ext"
  openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
    -extfile "$name.ext" -extensions ext -out "$name.crt" 2>/dev/null
  rm -f "$name.csr" "$name.ext"
}
client="basicConstraints=CA:FALSE
keyUsage=digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"
serving="basicConstraints=CA:FALSE
keyUsage=digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth"

cert apiserver kube-apiserver "" "$serving
subjectAltName=DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.$CLUSTER_DOMAIN,DNS:localhost,IP:127.0.0.1,IP:$BRIDGE_IP,IP:$KUBERNETES_SVC_IP"
cert admin kubernetes-admin system:masters "$client"
cert apiserver-kubelet-client kube-apiserver-kubelet-client system:masters "$client"
cert controller-manager system:kube-controller-manager "" "$client"
cert scheduler system:kube-scheduler "" "$client"
# Each node's kubelet: a serving certificate for its address, a client one for its node name.
for i in $(seq 1 "$NODES"); do
  node=$(node_name "$i")
  cert "kubelet-serving-$node" "system:node:$node" system:nodes "$serving
subjectAltName=DNS:$node,IP:$(node_ip "$i")"
  cert "kubelet-$node" "system:node:$node" system:nodes "$client"
done
cert kube-proxy system:kube-proxy "" "$client"
[ -f sa.key ] || { openssl genrsa -out sa.key 2048 2>/dev/null; openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null; }
chmod 600 ./*.key

# kubeconfig NAME USER: a kubeconfig for one client certificate.
kubeconfig() {
  cat >"$STATE_DIR/$1.kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters:
- name: kpgo
  cluster:
    server: https://$BRIDGE_IP:$APISERVER_PORT
    certificate-authority-data: $(base64 -w0 ca.crt)
users:
- name: $2
  user:
    client-certificate-data: $(base64 -w0 "$2.crt")
    client-key-data: $(base64 -w0 "$2.key")
contexts:
- name: kpgo
  context: {cluster: kpgo, user: $2, namespace: default}
current-context: kpgo
KC
  chmod 600 "$STATE_DIR/$1.kubeconfig"
}
kubeconfig admin admin
kubeconfig controller-manager controller-manager
kubeconfig scheduler scheduler
for i in $(seq 1 "$NODES"); do kubeconfig "kubelet-$(node_name "$i")" "kubelet-$(node_name "$i")"; done
kubeconfig kube-proxy kube-proxy
