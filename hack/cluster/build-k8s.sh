#!/usr/bin/env bash
# Builds the Kubernetes control plane, kubelet, kube-proxy and CoreDNS from the Go module proxy,
# into a cache keyed by version. A warm cache makes this a no-op.
source "$(dirname "$0")/lib.sh"
require_cmds go:golang

components=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy)

build_kubernetes() {
  local missing=0 c
  for c in "${components[@]}"; do [ -x "$K8S_BIN/$c" ] || missing=1; done
  if [ $missing = 0 ]; then log "kubernetes $K8S_VERSION: cached in $K8S_BIN"; return; fi
  local minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
  local staging=0.${K8S_VERSION#v1.}
  local work; work=$(mktemp -d)
  trap 'rm -rf "$work"' RETURN
  log "kubernetes $K8S_VERSION: building ${components[*]} (cold: about 15 minutes on 2 cores)"
  cat >"$work/go.mod" <<MOD
module kpgo.local/k8sbuild

go 1.24

require k8s.io/kubernetes $K8S_VERSION
MOD
  # k8s.io/kubernetes replaces its staging modules with ./staging; point them at the published versions.
  local gomod; gomod=$(cd "$work" && go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  { echo; echo "replace ("
    grep -E '^\s+k8s.io/[a-z0-9-]+ => ./staging/' "$gomod" | awk -v v="v$staging" '{print "\t" $1 " => " $1 " " v}'
    echo ")"; } >>"$work/go.mod"
  { echo "//go:build tools"; echo "package tools"; echo "import ("
    for c in "${components[@]}"; do echo "	_ \"k8s.io/kubernetes/cmd/$c\""; done; echo ")"; } >"$work/tools.go"
  (cd "$work" && go mod tidy >/dev/null)
  mkdir -p "$K8S_BIN.tmp"
  local pkg ld=""
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld="$ld -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  for c in "${components[@]}"; do
    log "  go build $c"
    (cd "$work" && CGO_ENABLED=0 go build -trimpath -tags tools -ldflags "-s -w $ld" -o "$K8S_BIN.tmp/$c" "k8s.io/kubernetes/cmd/$c")
  done
  rm -rf "$K8S_BIN"; mkdir -p "$(dirname "$K8S_BIN")"; mv "$K8S_BIN.tmp" "$K8S_BIN"
}

build_coredns() {
  if [ -x "$COREDNS_BIN/coredns" ]; then log "coredns $COREDNS_VERSION: cached"; return; fi
  log "coredns $COREDNS_VERSION: go install"
  mkdir -p "$COREDNS_BIN.tmp"
  CGO_ENABLED=0 GOBIN="$COREDNS_BIN.tmp" go install -trimpath -ldflags "-s -w" "github.com/coredns/coredns@$COREDNS_VERSION"
  rm -rf "$COREDNS_BIN"; mv "$COREDNS_BIN.tmp" "$COREDNS_BIN"
}

case "${1:-all}" in
  kubernetes) build_kubernetes ;;
  coredns) build_coredns ;;
  all) build_kubernetes; build_coredns ;;
  *) die "usage: $0 [all|kubernetes|coredns]" ;;
esac
