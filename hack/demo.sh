#!/usr/bin/env bash
# The main job on a fresh machine: build and start the local cluster, build the plugin, then
# create a PostgreSQL cluster, back it up, show the backups, and restore it to a point in time,
# checking the data. The cluster stays up afterwards; `make cluster-down` removes it.
set -euo pipefail
cd "$(dirname "$0")/.."
source hack/cluster/lib.sh
hack/cluster/install-deps.sh
hack/cluster/up.sh
make build
export PATH="$PWD/bin:$PATH" KUBECONFIG="$KUBECONFIG_OUT"
NS=${DEMO_NAMESPACE:-pgo-demo}
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }
sql() { kubectl exec -n "$NS" hippo-0 -c database -- psql -qAt -c "$1"; }

step kubectl pgo version
kubectl get namespace "$NS" >/dev/null 2>&1 || step kubectl create namespace "$NS"
step kubectl pgo create cluster hippo -n "$NS" --wait
step sql "CREATE TABLE IF NOT EXISTS orders (id int, placed timestamptz DEFAULT now()); INSERT INTO orders (id) SELECT generate_series(1, 1000);"
step kubectl pgo backup hippo -n "$NS" --type=full --wait
sleep 1
target=$(sql "SELECT now()")
sleep 1
step sql "INSERT INTO orders (id) SELECT generate_series(1001, 2000); SELECT pg_switch_wal();"
step kubectl pgo show backup hippo -n "$NS"
step kubectl pgo show cluster hippo -n "$NS"
echo; echo "rows before the restore: $(sql 'SELECT count(*) FROM orders') (restoring to $target, before rows 1001-2000)"
# Wait until the WAL holding the target has been archived, so the target is inside the recovery window.
for _ in $(seq 1 30); do
  [ "$(sql "SELECT last_archived_time > '$target' FROM pg_stat_archiver")" = t ] && break; sleep 1
done
step kubectl pgo restore hippo -n "$NS" --pitr-target="$target" --yes
rows=$(sql 'SELECT count(*) FROM orders')
echo; echo "rows after the restore: $rows (expected 1000)"
[ "$rows" = 1000 ] || die "the restore did not bring back exactly the 1000 rows inserted before $target"
cat <<MSG

The cluster is still running. Try it yourself:
  export PATH=$PWD/bin:\$PATH KUBECONFIG=$KUBECONFIG_OUT
  kubectl pgo show cluster -A
Remove the demo:   kubectl pgo delete cluster hippo -n $NS --yes
Stop the cluster:  make cluster-down
MSG
