#!/usr/bin/env bash
# The main job on a fresh machine: build and start the local cluster, build the plugin, and show
# it working through kubectl. The cluster stays up afterwards; `make cluster-down` removes it.
set -euo pipefail
cd "$(dirname "$0")/.."
source hack/cluster/lib.sh
hack/cluster/install-deps.sh
hack/cluster/up.sh
make build
export PATH="$PWD/bin:$PATH" KUBECONFIG="$KUBECONFIG_OUT"
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }
step kubectl plugin list
step kubectl pgo version
cat <<MSG

The cluster is still running. Try it yourself:
  export PATH=$PWD/bin:\$PATH KUBECONFIG=$KUBECONFIG_OUT
  kubectl pgo --help
Stop it and remove everything it made with: make cluster-down
MSG
