#!/usr/bin/env bash
# hack/bench.sh: benchmarks of kubectl-pgo on the running local cluster, against the baselines
# a user would pick instead. Each figure is the median of several rounds, and each comparison is
# measured side by side in the same run, so the table prints ratios, not absolute speeds of a
# shared machine. Everything it makes lives in its own namespaces, removed at the end (trap).
#
#   hack/bench.sh [--scale 50] [--rounds 3] [--clusters 10] [--read-runs 10] [--sections 1,2,...]
#                 [--partitions 0]
#
# Sections: 1 full backup (plugin, pgbackrest by hand, pg_basebackup) with MiB/s;
# 2 process-max, compress-type, start-fast; 3 incremental backup and delta restore after a 1%
# change, against a full backup and a full restore into an empty PVC; 4 show backup against the
# raw exec; 5 show backup -A over N clusters against 1 (memory too); 6 API requests per command;
# 7 start-up time and binary size; 8 archiving under an unthrottled load, synchronous against
# asynchronous (ARCH_SECONDS=120, ARCH_SCALE=10, ARCH_LOADS="pgbench bulk",
# ARCH_STORAGES="local": any of local, s3, local,s3; S3 is the tests' server, hack/s3/serve);
# 9 the replay of a PITR over REPLAY_MIB=2048 MiB of WAL: archive-get synchronous, asynchronous
# and with a larger queue, against the WAL in a local directory; 10 full backup and restore at
# SCALES="50 100 200" with process-max 1 and 2. PG_VERSION=17 makes every cluster of that major
# (--postgres-version; its image's pgBackRest, with block incremental on 17 and newer).
# The sections 2-6 need the database of section 1
# (it is made whatever the sections); 4 and 6 use the backups of the others when they ran; 8, 9
# and 10 make clusters of their own.
#
# Needs: KUBECONFIG (default the local cluster's), bin/kubectl-pgo (make build), kubectl, jq, go
# (section 8 on S3); hyperfine is installed with apt when missing (sections 4, 5, 7).
set -euo pipefail

SCALE=50 ROUNDS=3 CLUSTERS=10 READ_RUNS=10 SECTIONS=1,2,3,4,5,6,7,8,9,10
PARTITIONS=0 ARCH_SCALE=${ARCH_SCALE:-10} ARCH_SECONDS=${ARCH_SECONDS:-120} ARCH_STORAGES=${ARCH_STORAGES:-local}
REPLAY_MIB=${REPLAY_MIB:-2048} SCALES=${SCALES:-50 100 200}
NO_START_FAST_CAP=${NO_START_FAST_CAP:-90}
PG_VERSION=${PG_VERSION:-}
usage() { sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
while (($#)); do
	case $1 in
	--scale) SCALE=$2; shift 2 ;;
	--rounds) ROUNDS=$2; shift 2 ;;
	--clusters) CLUSTERS=$2; shift 2 ;;
	--read-runs) READ_RUNS=$2; shift 2 ;;
	--sections) SECTIONS=$2; shift 2 ;;
	--partitions) PARTITIONS=$2; shift 2 ;;
	-h | --help) usage ;;
	*) echo "bench: unknown argument $1" >&2; usage 2 >&2 ;;
	esac
done
[[ $PARTITIONS =~ ^[0-9]+$ ]] || { echo "bench: --partitions must be a number, got $PARTITIONS" >&2; exit 2; }
for v in SCALE ROUNDS CLUSTERS READ_RUNS; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "bench: --${v,,} must be a positive integer, got ${!v}" >&2; exit 2; }
done
[[ $REPLAY_MIB =~ ^[1-9][0-9]*$ ]] || { echo "bench: REPLAY_MIB must be a positive integer, got $REPLAY_MIB" >&2; exit 2; }
for v in $SCALES; do [[ $v =~ ^[1-9][0-9]*$ ]] || { echo "bench: SCALES must list positive integers, got $SCALES" >&2; exit 2; }; done
[[ -z $PG_VERSION || $PG_VERSION =~ ^[1-9][0-9]*$ ]] || { echo "bench: PG_VERSION must be a major such as 17, got $PG_VERSION" >&2; exit 2; }
for v in $ARCH_STORAGES; do
	[[ $v =~ ^(local|s3|local,s3)$ ]] || { echo "bench: ARCH_STORAGES lists local, s3 or local,s3, got $v" >&2; exit 2; }
done

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PGO=$ROOT/bin/kubectl-pgo
export KUBECONFIG=${KUBECONFIG:-/var/lib/kubectl-pgo-cluster/admin.kubeconfig}
[[ -x $PGO ]] || { echo "bench: $PGO is missing: run make build" >&2; exit 2; }
command -v jq >/dev/null || { echo "bench: jq is needed" >&2; exit 2; }
kubectl version >/dev/null 2>&1 || { echo "bench: the cluster in $KUBECONFIG does not answer" >&2; exit 2; }

RUN=bench-$(date +%H%M%S)-$((RANDOM % 1000))
WORK=$(mktemp -d)
NS=$RUN NS_MANY=$RUN-many
DB=pgb
LOG=${BENCH_LOG:-/tmp/$RUN.log}
: >"$LOG"
has() { [[ ,$SECTIONS, == *,$1,* ]]; }
say() { printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*" | tee -a "$LOG" >&2; }

cleanup() {
	local rc=$?
	# What was measured before a failure is still worth reading.
	((rc == 0)) || report || true
	if [[ -n ${S3_PID:-} ]]; then
		say "stopping the S3 server (pid $S3_PID)"
		kill "$S3_PID" 2>/dev/null && wait "$S3_PID" 2>/dev/null || true
	fi
	rm -rf "$WORK"
	say "cleaning up: namespaces $NS $NS_MANY"
	kubectl delete namespace "$NS" "$NS_MANY" --ignore-not-found --wait=true --timeout=5m >>"$LOG" 2>&1 || true
	say "log: $LOG"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- helpers ---------------------------------------------------------------------------------
declare -A S=()   # samples, space separated, by key
declare -A V=()   # single values, by key
now() { date +%s.%N; }
# timed KEY CMD...: runs CMD (output to the log and to $OUT), adds its seconds to S[KEY].
OUT=$(mktemp)
timed() {
	local key=$1 s e
	shift
	s=$(now)
	if ! "$@" >"$OUT" 2>&1; then
		cat "$OUT" >>"$LOG"
		say "FAILED: $*"
		tail -20 "$OUT" >&2
		return 1
	fi
	e=$(now)
	cat "$OUT" >>"$LOG"
	S[$key]+=" $(awk -v s="$s" -v e="$e" 'BEGIN { printf "%.3f", e - s }')"
}
# addsample KEY VALUE
addsample() { S[$1]+=" $2"; }
median() {
	# shellcheck disable=SC2086
	printf '%s\n' ${S[$1]:-} | sort -g | awk 'NF { a[++n] = $1 } END { if (!n) print "-"; else if (n % 2) print a[(n + 1) / 2]; else printf "%.3f\n", (a[n / 2] + a[n / 2 + 1]) / 2 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.2f", a / b }'; }
# pgbackrest's own duration of a command, from its log: "<cmd> command end: completed successfully (1234ms)"
pgbr_ms() { grep -o "$1 command end: completed successfully ([0-9]*ms)" "$OUT" | tail -1 | grep -o '[0-9]*ms' | tr -d ms; }
secs() { awk -v ms="$1" 'BEGIN { printf "%.3f", ms / 1000 }'; }

pgo() { "$PGO" -n "$NS" "$@"; }
# db_exec CLUSTER CMD...: in its database container, where pgbackrest.conf reaches the repository
# host over TLS as the restore Job does.
db_exec() { local c=$1; shift; kubectl -n "$NS" exec "$c-0" -c database -- "$@"; }
psql_db() { db_exec "$DB" psql -X -qtA -v ON_ERROR_STOP=1 -d postgres -c "$1"; }
repo_pod() { kubectl -n "${2:-$NS}" get pod -l "app.kubernetes.io/component=pgbackrest-repo,pg-cluster=$1" -o jsonpath='{.items[0].metadata.name}'; }
repo_exec() { kubectl -n "$NS" exec "$REPO" -c pgbackrest -- "$@"; }
# backup_by_hand OPTS...: the backup the Job runs, typed into the repository pod instead
backup_by_hand() { repo_exec pgbackrest --stanza=db backup --log-level-console=info "$@"; }
last_backup() { repo_exec pgbackrest --stanza=db --output=json info | jq -c '.[0].backup[-1]'; }
ensure_hyperfine() {
	command -v hyperfine >/dev/null && return
	say "installing hyperfine (apt)"
	{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hyperfine; } >>"$LOG" 2>&1
}
# hyper KEY... -- CMD...: hyperfine medians of each command into S[KEY]
hyper() {
	local keys=() json
	while [[ $1 != -- ]]; do keys+=("$1"); shift; done
	shift
	json=$(mktemp)
	hyperfine -N --warmup 1 --runs "$READ_RUNS" --export-json "$json" "$@" >>"$LOG" 2>&1
	local i=0
	for k in "${keys[@]}"; do
		S[$k]=" $(jq -r ".results[$i].median * 1000 | round / 1000" "$json")"
		i=$((i + 1))
	done
	rm -f "$json"
}
requests() { grep -o 'api requests: .*' "$OUT" | tail -1 | sed 's/api requests: //'; }

ROWS=()
# row SECTION WHAT MEDIAN_KEY BASELINE_KEY TARGET NOTE: one line of the table
row() {
	local m b r
	m=$(median "$3")
	b=$([[ -n $4 ]] && median "$4" || echo "")
	r=$([[ -n $4 ]] && ratio "$m" "$b" || echo "")
	ROWS+=("$1|$2|$m|$b|$r|$5|$6")
}

# --- the table: defined before the measures, so that a failure part-way prints what was measured -----
REPORTED=
report() {
	[[ -z $REPORTED ]] || return 0
	REPORTED=1
	{
		echo
		echo "kubectl-pgo benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM, $(kubectl version -o json 2>/dev/null | jq -r .serverVersion.gitVersion)"
		echo "pgbench scale $SCALE, $PARTITIONS partitions of pgbench_accounts: database $DB_MIB MiB; $ROUNDS rounds (reads: hyperfine, $READ_RUNS runs); medians in seconds"
		echo
		printf '%s\n' "§|measure|median s|baseline s|ratio|target|baseline and notes" "${ROWS[@]}" | column -t -s '|'
		echo
		[[ -n ${V[mibs]:-} ]] && echo "throughput ($DB_MIB MiB): ${V[mibs]}"
		[[ -n ${V[sizes]:-} ]] && echo "sizes: ${V[sizes]}"
		[[ -n ${V[many_create]:-} ]] && echo "$CLUSTERS tiny clusters (CPU requests 10m): created in parallel in ${V[many_create]} s; their memory (working set) ${V[many_mem]}; show backup -A over them: peak RSS of the plugin ${V[rss_all]}"
		[[ -n ${V[cpu_all]:-} ]] && echo "CPU time of the whole machine per show backup -A: ${V[cpu_all]} s over $CLUSTERS clusters, ${V[cpu_one]} s over 1 (on $(nproc) CPUs the first cannot take less than $(awk -v c="${V[cpu_all]}" -v n="$(nproc)" 'BEGIN { printf "%.2f", c / n }') s)"
		if has 6 || has 1 || has 5; then
			echo "API requests (KUBECTL_PGO_COUNT_REQUESTS=1), target <= 3 per read command:"
			[[ -n ${V[req_backup]:-} ]] && echo "  backup --type=full --wait: ${V[req_backup]}"
			for c in "show backup" "show cluster" "show archive"; do
				[[ -n ${V["req_$c"]:-} ]] && echo "  $c NAME: ${V["req_$c"]}"
			done
			[[ -n ${V[req_all]:-} ]] && echo "  show backup -A ($CLUSTERS clusters): ${V[req_all]}"
		fi
		for sc in $SCALES; do [[ -n ${V[scale_$sc]:-} ]] && echo "${V[scale_$sc]}"; done
		[[ -n ${V[size]:-} ]] && echo "kubectl pgo version --client: median $(median version) s ($((READ_RUNS * 3)) runs); binary ${V[size]}"
		true
	} | tee -a "$LOG"
}

# --- the database ----------------------------------------------------------------------------
say "run $RUN: scale $SCALE, $ROUNDS rounds, sections $SECTIONS; log $LOG"
kubectl create namespace "$NS" >>"$LOG"
DB_MIB=-
if has 1 || has 2 || has 3 || has 4 || has 6; then
	# The hostpath provisioner does not enforce sizes; they are sized as a user would.
	SIZE_GI=$((SCALE / 20 + 2))
	timed create pgo create cluster "$DB" --wait ${PG_VERSION:+--postgres-version="$PG_VERSION"} --timeout=10m --storage-size="${SIZE_GI}Gi" --pgbackrest-pvc-size="$((SIZE_GI * 4))Gi"
	REPO=$(repo_pod "$DB")
	say "cluster $DB ready ($(median create) s); pgbench -i -s $SCALE --partitions=$PARTITIONS"
	# --partitions splits pgbench_accounts by ranges of aid: a 1% change (a range of aid) then
	# touches one or two of them, as changes in a real database touch a few of its many files.
	timed pgbench kubectl -n "$NS" exec "$DB-0" -c database -- pgbench -i -q -s "$SCALE" --partitions="$PARTITIONS" postgres
	psql_db "CHECKPOINT" >>"$LOG"
	DB_BYTES=$(psql_db "SELECT sum(pg_database_size(oid)) FROM pg_database")
	DB_MIB=$(awk -v b="$DB_BYTES" 'BEGIN { printf "%.0f", b / 1048576 }')
	ACCOUNTS=$((SCALE * 100000))
	say "database: $DB_MIB MiB (pgbench $(median pgbench) s); warm-up full backup (not counted), which also waits for the WAL of pgbench to be archived"
	timed warmup backup_by_hand --type=full
fi

mibs() { awk -v m="$DB_MIB" -v s="$(median "$1")" 'BEGIN { if (s == "-") print "-"; else printf "%.0f MiB/s", m / s }'; }

# --- 1: full backups --------------------------------------------------------------------------
if has 1; then
	for r in $(seq "$ROUNDS"); do
		say "1: round $r/$ROUNDS: kubectl pgo backup --wait, pgbackrest backup by hand, pg_basebackup"
		KUBECTL_PGO_COUNT_REQUESTS=1 timed plugin_full pgo backup "$DB" --type=full --wait
		addsample plugin_full_pgbr "$(secs "$(pgbr_ms backup)")"
		V[req_backup]=$(requests)
		timed hand_full backup_by_hand --type=full
		addsample hand_full_pgbr "$(secs "$(pgbr_ms backup)")"
		V[repo_full]=$(last_backup | jq '.info.repository.delta')
		PW=$(kubectl -n "$NS" get secret "$DB-postgres-secret" -o jsonpath='{.data.password}' | base64 -d)
		timed basebackup repo_exec env PGPASSWORD="$PW" pg_basebackup -h "$DB" -U postgres -D /backrestrepo/bench-basebackup \
			-Ft --compress=server-lz4 -X stream -c fast
		V[basebackup_bytes]=$(repo_exec du -sb /backrestrepo/bench-basebackup | cut -f1)
		repo_exec rm -rf /backrestrepo/bench-basebackup
	done
	row 1 "kubectl pgo backup --type=full --wait (wall)" plugin_full hand_full "<= 1.3" "vs pgbackrest backup by hand (kubectl exec, wall)"
	row 1 "  pgbackrest's own time inside the Job" plugin_full_pgbr hand_full_pgbr "" "vs by hand; from the 'backup command end' lines"
	row 1 "pgbackrest full by hand, defaults (wall)" hand_full basebackup "<= 1.5 (scale >= 100)" "vs pg_basebackup -Ft --compress=server-lz4 -X stream -c fast"
	row 1 "kubectl pgo backup --wait (wall)" plugin_full basebackup "" "vs pg_basebackup"
	V[mibs]="plugin $(mibs plugin_full), by hand $(mibs hand_full), pg_basebackup $(mibs basebackup)"
	V[sizes]="repository (lz4) $((${V[repo_full]:-0} / 1048576)) MiB, pg_basebackup (server-lz4) $((${V[basebackup_bytes]:-0} / 1048576)) MiB"
fi

# --- 2: process-max, compression, start-fast ---------------------------------------------------
if has 2; then
	has 1 || for r in $(seq "$ROUNDS"); do timed hand_full backup_by_hand --type=full; done
	for r in $(seq "$ROUNDS"); do
		say "2: round $r/$ROUNDS: process-max 1, compress-type lz4 (default) / zst / gz / none, no page checksums"
		for v in pm1:--process-max=1 zst:--compress-type=zst gz:--compress-type=gz none:--compress-type=none nopage:--no-checksum-page; do
			timed "var_${v%%:*}" backup_by_hand --type=full "${v#*:}"
			V[repo_${v%%:*}]=$(last_backup | jq '.info.repository.delta')
		done
	done
	row 2 "full, process-max 1" var_pm1 hand_full "" "vs the default (process-max 2: no CPU limit)"
	row 2 "full, compress-type zst" var_zst hand_full "" "vs lz4 (default); repository $((${V[repo_zst]:-0} / 1048576)) MiB vs $((${V[repo_full]:-0} / 1048576)) MiB"
	row 2 "full, compress-type gz" var_gz hand_full "" "vs lz4; repository $((${V[repo_gz]:-0} / 1048576)) MiB"
	row 2 "full, compress-type none" var_none hand_full "" "vs lz4; repository $((${V[repo_none]:-0} / 1048576)) MiB"
	row 2 "full, --no-checksum-page" var_nopage hand_full "" "vs the default (every page's checksum verified)"
fi

# --- 3: incremental backup and delta restore after a 1% change ----------------------------------
change_1pct() {
	local from=$(((${1} - 1) * ACCOUNTS / 100 + 1)) to=$((${1} * ACCOUNTS / 100))
	psql_db "UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid BETWEEN $from AND $to" >>"$LOG"
	psql_db "CHECKPOINT" >>"$LOG"
}
restore_job_ms() {
	local ms
	ms=$(pgbr_ms restore)
	if [[ -z $ms ]]; then
		kubectl -n "$NS" logs "job/$1-restore" >"$OUT" 2>&1 || true
		ms=$(pgbr_ms restore)
	fi
	echo "${ms:-0}"
}
if has 3; then
	for r in $(seq "$ROUNDS"); do
		say "3: round $r/$ROUNDS: full; 1% change, incr; 1% change, delta restore in place; full restore into a new cluster"
		# The incremental's base: a full with the defaults (an incremental keeps the compression
		# of its full, and section 2's last full used gz).
		timed base_full backup_by_hand --type=full
		change_1pct $((2 * r))
		timed incr backup_by_hand --type=incr
		addsample incr_pgbr "$(secs "$(pgbr_ms backup)")"
		V[repo_incr]=$(last_backup | jq '.info.repository.delta')
		V[incr_size]=$(grep -o 'incr backup size = [^,]*' "$OUT" | tail -n 1 | sed 's/incr backup size = //')
		change_1pct $((2 * r + 1))
		timed delta_restore pgo restore "$DB" --yes --timeout=20m
		addsample delta_restore_pgbr "$(secs "$(restore_job_ms "$DB")")"
		timed full_restore pgo create cluster "$DB-r$r" --restore-from "$DB" --wait ${PG_VERSION:+--postgres-version="$PG_VERSION"} --timeout=20m \
			--storage-size="${SIZE_GI}Gi" --pgbackrest-pvc-size=1Gi
		addsample full_restore_pgbr "$(secs "$(restore_job_ms "$DB-r$r")")"
		pgo delete cluster "$DB-r$r" --yes >>"$LOG" 2>&1
	done
	row 3 "incr after a 1% change (by hand)" incr base_full "<= 0.3" "vs its full by hand; repository $((${V[repo_incr]:-0} / 1048576)) MiB; copied: ${V[incr_size]:-?}"
	row 3 "delta restore in place after a 1% change (wall)" delta_restore full_restore "<= 0.2 (>= 5x faster)" "kubectl pgo restore vs create cluster --restore-from (wall)"
	row 3 "  pgbackrest restore --delta, its own time" delta_restore_pgbr full_restore_pgbr "<= 0.2" "vs pgbackrest restore into an empty PVC"
fi

# --- 4: show backup against the raw exec -------------------------------------------------------
if has 4; then
	ensure_hyperfine
	say "4: show backup vs kubectl exec pgbackrest info ($READ_RUNS runs each)"
	REPO=$(repo_pod "$DB")
	hyper show_backup raw_info -- \
		"$PGO -n $NS show backup $DB" \
		"kubectl -n $NS exec $REPO -c pgbackrest -- pgbackrest --stanza=db --output=json info"
	row 4 "kubectl pgo show backup" show_backup raw_info "<= 1.3" "vs kubectl exec <repo-pod> -- pgbackrest info --output=json"
fi

# --- 5: show backup -A over N clusters against 1 -------------------------------------------------
# pods_memory_mib NS: the working set (usage - inactive file) of the namespace's pods, summed
# from their cgroups (v1 or v2) on this node; "-" when the cgroups are not found.
pods_memory_mib() {
	local total=0 found=0 uid dir usage inactive
	for uid in $(kubectl -n "$1" get pods -o jsonpath='{.items[*].metadata.uid}'); do
		dir=$(find /sys/fs/cgroup/memory /sys/fs/cgroup -maxdepth 4 -type d \( -name "pod$uid" -o -name "*pod${uid//-/_}.slice" \) 2>/dev/null | head -1)
		[[ -n $dir ]] || continue
		if [[ -f $dir/memory.usage_in_bytes ]]; then
			usage=$(cat "$dir/memory.usage_in_bytes")
			inactive=$(awk '$1 == "total_inactive_file" { print $2 }' "$dir/memory.stat")
		else
			usage=$(cat "$dir/memory.current")
			inactive=$(awk '$1 == "inactive_file" { print $2 }' "$dir/memory.stat")
		fi
		total=$((total + usage - ${inactive:-0}))
		found=$((found + 1))
	done
	((found)) && awk -v b="$total" -v n="$found" 'BEGIN { printf "%.0f MiB in %d pods", b / 1048576, n }' || echo "-"
}
# machine_cpu_seconds CMD...: the CPU time of the whole machine (/proc/stat: user, nice, system,
# irq, softirq) per run of CMD, over 5 runs, less what the machine spends in as long a time without
# it (the cluster's own background work, or anything else running).
machine_cpu_seconds() {
	local hz b e s t idle
	hz=$(getconf CLK_TCK)
	busy() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 }' /proc/stat; }
	s=$(now) b=$(busy)
	for _ in 1 2 3 4 5; do "$@" >>"$LOG" 2>&1; done
	e=$(busy) t=$(awk -v s="$s" -v e="$(now)" 'BEGIN { print e - s }')
	idle=$(busy)
	sleep "$t"
	idle=$(($(busy) - idle))
	awk -v b="$b" -v e="$e" -v i="$idle" -v hz="$hz" 'BEGIN { c = (e - b - i) / hz / 5; printf "%.2f", c < 0 ? 0 : c }'
}
# tiny_cluster NAME: a cluster as create renders it, with CPU requests of 10m instead of 100m
# (20 pods at 100m would take the whole 2-CPU node from everyone else), applied as create applies it.
tiny_cluster() {
	"$PGO" -n "$NS_MANY" create cluster "$1" --dry-run=client -o yaml --storage-size=256Mi --pgbackrest-pvc-size=256Mi |
		sed 's/\bcpu: 100m$/cpu: 10m/; s/\bcpuRequest: 100m$/cpuRequest: 10m/' |
		kubectl apply --server-side --field-manager=kubectl-pgo -f - >>"$LOG" &&
		kubectl -n "$NS_MANY" rollout status "statefulset/$1" --timeout=10m >>"$LOG" &&
		kubectl -n "$NS_MANY" rollout status "deployment/$1-backrest-shared-repo" --timeout=10m >>"$LOG"
}
if has 5; then
	ensure_hyperfine
	kubectl create namespace "$NS_MANY" >>"$LOG"
	say "5: creating $CLUSTERS tiny clusters in parallel in $NS_MANY"
	s=$(now)
	pids=()
	for i in $(seq "$CLUSTERS"); do
		tiny_cluster "c$i" >>"$LOG" 2>&1 &
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p" || { say "FAILED: a cluster of $NS_MANY"; exit 1; }; done
	V[many_create]=$(awk -v s="$s" -v e="$(now)" 'BEGIN { printf "%.0f", e - s }')
	V[many_mem]=$(pods_memory_mib "$NS_MANY")
	for i in $(seq "$CLUSTERS"); do
		kubectl -n "$NS_MANY" label configmap "c$i-pgo-config" "kpgo-bench=$RUN" >>"$LOG"
	done
	kubectl -n "$NS_MANY" label configmap c1-pgo-config "kpgo-bench-one=$RUN" >>"$LOG"
	hyper all_n all_1 -- \
		"$PGO show backup -A -l kpgo-bench=$RUN" \
		"$PGO show backup -A -l kpgo-bench-one=$RUN"
	row 5 "show backup -A over $CLUSTERS clusters" all_n all_1 "<= 2" "vs over 1 cluster"
	KUBECTL_PGO_COUNT_REQUESTS=1 /usr/bin/time -f 'maxrss %M KiB' "$PGO" show backup -A -l "kpgo-bench=$RUN" >"$OUT" 2>&1
	cat "$OUT" >>"$LOG"
	V[req_all]=$(requests)
	V[rss_all]=$(grep -o 'maxrss [0-9]*' "$OUT" | awk '{ printf "%.0f MiB", $2 / 1024 }')
	# What bounds the fan-out on one node: the CPU time the whole machine spends (API server,
	# kubelet, containerd, runc, pgBackRest, the plugin) for one run of each.
	V[cpu_all]=$(machine_cpu_seconds "$PGO" show backup -A -l "kpgo-bench=$RUN")
	V[cpu_one]=$(machine_cpu_seconds "$PGO" show backup -A -l "kpgo-bench-one=$RUN")
fi

# --- 6: API requests ------------------------------------------------------------------------------
if has 6; then
	say "6: API requests"
	for c in "show backup" "show cluster" "show archive"; do
		# shellcheck disable=SC2086
		KUBECTL_PGO_COUNT_REQUESTS=1 pgo $c "$DB" >"$OUT" 2>&1 || true
		cat "$OUT" >>"$LOG"
		V["req_$c"]=$(requests)
	done
fi

# --- 7: start-up and size ----------------------------------------------------------------------------
if has 7; then
	ensure_hyperfine
	say "7: kubectl pgo version --client"
	READ_RUNS=$((READ_RUNS * 3)) hyper version -- "$PGO version --client"
	V[size]=$(stat -c %s "$PGO" | awk '{ printf "%.1f MiB", $1 / 1048576 }')
fi

# --- 8: archiving under an unthrottled write load, synchronous against asynchronous --------------
# arch_load NAME FLAGS...: a cluster of its own (local repository), pgbench -i at ARCH_SCALE, then
# pgbench unthrottled for ARCH_SECONDS while the .ready segments, the WAL position and the
# archived count are sampled every 2 s; then how long the backlog takes to drain.
arch_psql() { db_exec "$1" psql -X -qtA -v ON_ERROR_STOP=1 -d postgres -c "$2"; }
ARCH_SAMPLE="SELECT (SELECT count(*) FROM pg_ls_archive_statusdir() WHERE name LIKE '%.ready') || ' ' || pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint || ' ' || archived_count FROM pg_stat_archiver"
# ARCH_BULK is the second load: bulk inserts (200,000 rows of 256 bytes, truncated each time),
# which write WAL as fast as the node can, where pgbench's small transactions are bound by CPU.
ARCH_BULK="end=\$((\$(date +%s) + ARCH_SECONDS)); psql -XAtq -c 'CREATE TABLE IF NOT EXISTS bulk (id int, v text)'
while [ \$(date +%s) -lt \$end ]; do psql -XAtq -c 'TRUNCATE bulk' -c \"INSERT INTO bulk SELECT g, repeat(md5(g::text), 8) FROM generate_series(1, 200000) g\" || exit; done"
arch_load() {
	local name=$1 key=$2 load=$3 peak=0 s e ready lsn archived lsn0 archived0 t0 t1
	shift 3
	timed "create_$key" pgo create cluster "$name" --wait ${PG_VERSION:+--postgres-version="$PG_VERSION"} --timeout=10m --storage-size=4Gi --pgbackrest-pvc-size=8Gi "$@"
	kubectl -n "$NS" exec "$name-0" -c database -- pgbench -i -q -s "$ARCH_SCALE" postgres >>"$LOG" 2>&1
	arch_psql "$name" "CHECKPOINT; SELECT pg_switch_wal()" >>"$LOG"
	until [[ $(arch_psql "$name" "$ARCH_SAMPLE" | cut -d' ' -f1) == 0 ]]; do sleep 2; done
	read -r _ lsn0 archived0 < <(arch_psql "$name" "$ARCH_SAMPLE")
	t0=$(now)
	if [[ $load == bulk ]]; then
		kubectl -n "$NS" exec "$name-0" -c database -- sh -c "${ARCH_BULK//ARCH_SECONDS/$ARCH_SECONDS}" >"$OUT" 2>&1 &
	else
		kubectl -n "$NS" exec "$name-0" -c database -- pgbench -n -c 4 -j 2 -T "$ARCH_SECONDS" postgres >"$OUT" 2>&1 &
	fi
	local bench=$!
	while kill -0 "$bench" 2>/dev/null; do
		read -r ready lsn archived < <(arch_psql "$name" "$ARCH_SAMPLE") || true
		((ready > peak)) && peak=$ready
		sleep 2
	done
	wait "$bench" || { say "FAILED: pgbench on $name"; tail -5 "$OUT" >&2; return 1; }
	cat "$OUT" >>"$LOG"
	t1=$(now)
	read -r ready lsn archived < <(arch_psql "$name" "$ARCH_SAMPLE")
	((ready > peak)) && peak=$ready
	s=$(now)
	until [[ $(arch_psql "$name" "$ARCH_SAMPLE" | cut -d' ' -f1) == 0 ]]; do sleep 1; done
	e=$(now)
	addsample "peak_$key" "$peak"
	addsample "drain_$key" "$(awk -v s="$s" -v e="$e" 'BEGIN { printf "%.1f", e - s }')"
	addsample "walrate_$key" "$(awk -v a="$lsn0" -v b="$lsn" -v s="$t0" -v e="$t1" 'BEGIN { printf "%.1f", (b - a) / 1048576 / (e - s) }')"
	addsample "archrate_$key" "$(awk -v a="$archived0" -v b="$archived" -v s="$t0" -v e="$t1" 'BEGIN { printf "%.1f", (b - a) * 16 / (e - s) }')"
	V[tps_$key]=$(grep -o 'tps = [0-9.]*' "$OUT" | head -1 || true)
	say "8: $name: peak $peak .ready, WAL $(median "walrate_$key") MiB/s, archived $(median "archrate_$key") MiB/s during the load, drained in $(median "drain_$key") s, ${V[tps_$key]}"
	pgo delete cluster "$name" --yes --discard-passphrase >>"$LOG" 2>&1
}
# start_s3: the end-to-end tests' S3 server (SeaweedFS over TLS, a Service name for the pods),
# started once by hack/s3/serve with room for 128 GB (each load archives gigabytes), with a bucket and the keys and CA in Secrets of $NS; S3_FLAGS are
# create cluster's flags for it.
S3_PID= S3_FLAGS=()
start_s3() {
	[[ -z $S3_PID ]] || return 0
	local weed json=$WORK/s3.json
	say "starting the S3 server (hack/s3/serve; SeaweedFS is built once into the cache)"
	"$ROOT/hack/s3/build.sh" >>"$LOG" 2>&1
	weed=$(bash -c "source '$ROOT/hack/cluster/lib.sh' && echo \$WEED_BIN")
	(cd "$ROOT" && go build -o "$WORK/s3serve" ./hack/s3/serve) >>"$LOG" 2>&1
	KPGO_WEED=$weed "$WORK/s3serve" -kubeconfig "$KUBECONFIG" -out "$json" -bucket kpgo-bench -volume-max 2000 >>"$LOG" 2>&1 &
	S3_PID=$!
	for _ in $(seq 120); do [[ -f $json ]] && break; kill -0 "$S3_PID" 2>/dev/null || break; sleep 1; done
	[[ -f $json ]] || { say "FAILED: the S3 server did not start (see $LOG)"; return 1; }
	jq -j .accessKey "$json" >"$WORK/key" && jq -j .secretKey "$json" >"$WORK/secret" && jq -r .ca "$json" >"$WORK/ca.crt"
	kubectl -n "$NS" create secret generic bench-s3-keys --from-file=aws-s3-key="$WORK/key" --from-file=aws-s3-key-secret="$WORK/secret" >>"$LOG"
	kubectl -n "$NS" create secret generic bench-s3-ca --from-file=ca.crt="$WORK/ca.crt" >>"$LOG"
	rm -f "$WORK/key" "$WORK/secret"
	S3_FLAGS=(--pgbackrest-s3-bucket="$(jq -r .bucket "$json")" --pgbackrest-s3-endpoint="$(jq -r .endpoint "$json")"
		--pgbackrest-s3-region="$(jq -r .region "$json")" --pgbackrest-s3-uri-style=path
		--pgbackrest-s3-credentials-secret=bench-s3-keys --pgbackrest-s3-ca-secret=bench-s3-ca)
}
if has 8; then
	for st in $ARCH_STORAGES; do
		tag=${st//,/-} flags=()
		if [[ $st != local ]]; then
			start_s3
			# The bucket goes with the run: its backups' passphrase need not outlive the cluster.
			flags=(--pgbackrest-storage-type="$st" "${S3_FLAGS[@]}")
		fi
		say "8: $st: each load unthrottled for ${ARCH_SECONDS}s (pgbench scale $ARCH_SCALE), synchronous, then asynchronous archiving"
		for load in ${ARCH_LOADS:-pgbench bulk}; do
			k=${load}_$tag
			arch_load "arch-sync-$load-$tag" "sync_$k" "$load" "${flags[@]}"
			arch_load "arch-async-$load-$tag" "async_$k" "$load" --pgbackrest-archive-async "${flags[@]}"
			row 8 "$st, $load: peak .ready segments, async" "peak_async_$k" "peak_sync_$k" "<= 8" "vs synchronous ${V[tps_async_$k]:-}"
			row 8 "$st, $load: backlog drained after the load (s), async" "drain_async_$k" "drain_sync_$k" "<= 10" "vs synchronous"
			row 8 "$st, $load: WAL written (MiB/s), async" "walrate_async_$k" "walrate_sync_$k" "" "vs synchronous (the load's rate)"
			row 8 "$st, $load: WAL archived during the load (MiB/s), async" "archrate_async_$k" "archrate_sync_$k" "" "vs synchronous; keeps up when it matches the WAL written"
		done
	done
fi

# --- helpers of 9 and 10: pgBackRest and a second PostgreSQL by hand in a cluster's database pod ----
# restore_by_hand CLUSTER DIR OPTS...: pgbackrest restore into an empty DIR on the data volume.
restore_by_hand() {
	local c=$1 dir=$2
	shift 2
	db_exec "$c" sh -c 'rm -rf "$1" "$1-spool" "$1.log" && mkdir -m 700 "$1" "$1-spool"' _ "$dir" &&
		db_exec "$c" pgbackrest --stanza=db --pg1-path="$dir" restore --log-level-console=info "$@"
}
# mount_of CLUSTER: the data volume's mount path (PGDATA's parent).
mount_of() { db_exec "$1" sh -c 'dirname "$PGDATA"'; }

# --- 9: the replay of a PITR over REPLAY_MIB of WAL ----------------------------------------------
# A cluster of its own writes REPLAY_MIB of WAL after a full backup (bulk inserts, each round of
# 200,000 rows numbered, the table truncated between); a commit, the target time T, a commit after
# it. Then, in turn and in each round, the backup is restored by hand into an empty directory on
# the database pod's volume (pgbackrest restore --type=time --target=T) and a second PostgreSQL
# replays to T with a restore_command that fetches with archive-get synchronously, asynchronously
# (process-max 2, the default queue of 128 MiB) and with a 1 GiB queue, or copies from a local
# directory that holds the same WAL already (the limit). Its "redo done ... elapsed" is the
# replay's time; every recovery must give the rows committed before T, checksum and count.
REPLAY_ROWS="SELECT (SELECT count(*) || '|' || md5(string_agg(b::text, ',' ORDER BY id)) FROM bulk b) || '/' || (SELECT count(*) FROM mark)"
replay_one() {
	local key=$1 cmd=$2 s e got redo bin=$RBIN
	restore_by_hand replay "$RD" --type=time "--target=$REPLAY_T" --target-action=promote \
		"--recovery-option=restore_command=$cmd" >"$OUT" 2>&1 || { cat "$OUT" >>"$LOG"; say "FAILED: restore for $key"; return 1; }
	cat "$OUT" >>"$LOG"
	s=$(now)
	db_exec replay "$bin/pg_ctl" -D "$RD" -l "$RD.log" -o "-p 5499 -k /tmp -c listen_addresses= -c archive_mode=off -c cluster_name=replay" start >>"$LOG" 2>&1
	until [[ $(db_exec replay psql -h /tmp -p 5499 -XAtq -d postgres -c 'SELECT pg_is_in_recovery()' 2>/dev/null) == f ]]; do
		if ! db_exec replay "$bin/pg_ctl" -D "$RD" status >/dev/null 2>&1; then
			db_exec replay tail -20 "$RD.log" | tee -a "$LOG" >&2
			say "FAILED: the recovery of $key stopped"
			return 1
		fi
		sleep 0.5
	done
	e=$(now)
	got=$(db_exec replay psql -h /tmp -p 5499 -XAtq -d postgres -c "$REPLAY_ROWS")
	redo=$(db_exec replay cat "$RD.log" | grep -o 'redo done at .*elapsed: [0-9.]* s' | grep -o '[0-9.]* s$' | tr -d ' s')
	db_exec replay cat "$RD.log" >>"$LOG"
	db_exec replay "$bin/pg_ctl" -D "$RD" -m immediate stop >>"$LOG" 2>&1
	if [[ $got != "$REPLAY_WANT" ]]; then
		say "FAILED: $key recovered $got, committed before T: $REPLAY_WANT"
		return 1
	fi
	addsample "replay_$key" "${redo:--}"
	addsample "replaywall_$key" "$(awk -v s="$s" -v e="$e" 'BEGIN { printf "%.3f", e - s }')"
	say "9: $key: redo ${redo:-?} s, promoted after $(awk -v s="$s" -v e="$e" 'BEGIN { printf "%.1f", e - s }') s, rows as committed before T"
}
if has 9; then
	say "9: a cluster writes $REPLAY_MIB MiB of WAL after a full backup"
	timed create_replay pgo create cluster replay --wait ${PG_VERSION:+--postgres-version="$PG_VERSION"} --timeout=10m --storage-size=8Gi --pgbackrest-pvc-size=16Gi
	arch_psql replay "CREATE TABLE bulk (id int, v text); CREATE TABLE mark (id int)" >>"$LOG"
	pgo backup replay --type=full --wait >>"$LOG" 2>&1
	lsn0=$(arch_psql replay "SELECT pg_current_wal_lsn()")
	db_exec replay sh -c 'i=0; while [ "$(psql -XAtq -c "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '"'$lsn0'"') < $1::bigint * 1048576")" = t ]; do
		i=$((i + 1)); psql -XAtq -v ON_ERROR_STOP=1 -c "TRUNCATE bulk" -c "INSERT INTO bulk SELECT g, $i || repeat(md5(g::text), 8) FROM generate_series(1, 200000) g" || exit; done; echo "$i rounds"' _ "$REPLAY_MIB" >>"$LOG"
	arch_psql replay "INSERT INTO mark VALUES (1)" >>"$LOG"
	REPLAY_WANT=$(arch_psql replay "$REPLAY_ROWS")
	sleep 1
	REPLAY_T=$(arch_psql replay "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'")
	sleep 1
	arch_psql replay "INSERT INTO mark VALUES (2)" >>"$LOG"
	# pg_switch_wal gives the end of the segment it closed, which pg_walfile_name names.
	last=$(arch_psql replay "SELECT pg_walfile_name(pg_switch_wal())")
	until [[ $(arch_psql replay "SELECT last_archived_wal >= '$last' FROM pg_stat_archiver") == t ]]; do sleep 1; done
	V[replay_wal]=$(arch_psql replay "SELECT pg_size_pretty(pg_wal_lsn_diff(pg_current_wal_lsn(), '$lsn0'))")
	RBIN=$(db_exec replay sh -c 'ls -d /usr/lib/postgresql/*/bin | tail -1')
	RD=$(mount_of replay)/bench-replay
	# The limit: the same WAL, already in a local directory (archive-get once for each segment,
	# not timed), from the backup's first segment to the last.
	first=$(kubectl -n "$NS" exec "$(repo_pod replay)" -c pgbackrest -- pgbackrest --stanza=db --output=json info | jq -r '.[0].backup[-1].archive.start')
	say "9: WAL ${V[replay_wal]} from $first to $last; copying it into a local directory (not timed)"
	db_exec replay sh -c 'set -e; d=$1-wal; rm -rf "$d"; mkdir -p "$d"; tl=${2%????????????????}
		n=$(printf "%d" "0x$(echo "$2" | cut -c9-16)") s=$(printf "%d" "0x$(echo "$2" | cut -c17-24)")
		while :; do f=$(printf "%s%08X%08X" "$tl" "$n" "$s"); pgbackrest --stanza=db archive-get "$f" "$d/$f"
			[ "$f" = "$3" ] && break; s=$((s + 1)); [ "$s" -lt 256 ] || { s=0; n=$((n + 1)); }; done; du -sm "$d"' _ "$RD" "$first" "$last" >>"$LOG"
	async="pgbackrest --stanza=db --pg1-path=$RD --archive-async --spool-path=$RD-spool --process-max=2"
	for r in $(seq "$ROUNDS"); do
		say "9: round $r/$ROUNDS: PITR replays with archive-get sync, async, async with a 1 GiB queue, and from a local directory"
		replay_one sync "pgbackrest --stanza=db --pg1-path=$RD archive-get %f \"%p\""
		replay_one async "$async archive-get %f \"%p\""
		replay_one async1g "$async --archive-get-queue-max=1073741824 archive-get %f \"%p\""
		replay_one local "cp $RD-wal/%f \"%p\""
	done
	db_exec replay rm -rf "$RD" "$RD-spool" "$RD-wal" "$RD.log"
	row 9 "PITR replay of ${V[replay_wal]} WAL, async archive-get" replay_async replay_local "<= 1.3" "vs the WAL in a local directory (redo time, from the log)"
	row 9 "  the same, async with a 1 GiB queue" replay_async1g replay_local "" "vs the local directory"
	row 9 "  the same, synchronous archive-get" replay_sync replay_local "" "vs the local directory"
	row 9 "  async, until promoted (wall)" replaywall_async replaywall_local "" "vs the local directory, start to promotion"
	row 9 "  sync, until promoted (wall)" replaywall_sync replaywall_local "" "vs the local directory, start to promotion"
	pgo delete cluster replay --yes >>"$LOG" 2>&1
fi

# --- 10: full backup and restore by size, with process-max 1 and 2 -------------------------------
# A cluster of its own, pgbench -i at each scale of SCALES in turn; each round a full backup by
# hand in the repository host and a restore by hand into an empty directory of the database
# pod's volume (what the backup and restore Jobs run), each with --process-max=1 and 2.
if has 10; then
	max=0
	for sc in $SCALES; do ((sc > max)) && max=$sc; done
	timed create_scale pgo create cluster scale --wait ${PG_VERSION:+--postgres-version="$PG_VERSION"} --timeout=10m --storage-size="$((max / 10 + 4))Gi" --pgbackrest-pvc-size="$((max / 5 + 8))Gi"
	SREPO=$(repo_pod scale)
	SD=$(mount_of scale)/bench-restore
	for sc in $SCALES; do
		say "10: scale $sc: pgbench -i"
		db_exec scale pgbench -i -q -s "$sc" postgres >>"$LOG" 2>&1
		arch_psql scale "CHECKPOINT" >>"$LOG"
		mib=$(arch_psql scale "SELECT round(sum(pg_database_size(oid)) / 1048576) FROM pg_database")
		kubectl -n "$NS" exec "$SREPO" -c pgbackrest -- pgbackrest --stanza=db backup --type=full >>"$LOG" 2>&1 # warm-up, not counted
		for r in $(seq "$ROUNDS"); do
			say "10: scale $sc ($mib MiB): round $r/$ROUNDS: full backup and restore, process-max 1 and 2"
			for pm in 1 2; do
				timed "scb_${sc}_$pm" kubectl -n "$NS" exec "$SREPO" -c pgbackrest -- pgbackrest --stanza=db backup --type=full --process-max="$pm" --log-level-console=info
				timed "scr_${sc}_$pm" restore_by_hand scale "$SD" --process-max="$pm" --type=immediate
			done
		done
		db_exec scale rm -rf "$SD" "$SD-spool"
		row 10 "scale $sc ($mib MiB): full backup, process-max 1" "scb_${sc}_1" "scb_${sc}_2" "" "vs process-max 2"
		row 10 "scale $sc ($mib MiB): restore, process-max 1" "scr_${sc}_1" "scr_${sc}_2" "" "vs process-max 2"
		V[scale_$sc]="scale $sc, $mib MiB: backup $(awk -v m="$mib" -v a="$(median "scb_${sc}_1")" -v b="$(median "scb_${sc}_2")" 'BEGIN { printf "%.0f / %.0f", m / a, m / b }') MiB/s, restore $(awk -v m="$mib" -v a="$(median "scr_${sc}_1")" -v b="$(median "scr_${sc}_2")" 'BEGIN { printf "%.0f / %.0f", m / a, m / b }') MiB/s (process-max 1 / 2)"
	done
	pgo delete cluster scale --yes >>"$LOG" 2>&1
fi

# --- 2, last: start-fast off. It runs last: when it is stopped at the cap, the database side's
# pgBackRest still waits for the checkpoint and holds the stanza's backup lock.
if has 2; then
	say "2: --no-start-fast, once, stopped after ${NO_START_FAST_CAP}s"
	# Dirty some pages first, as a real database has them.
	psql_db "UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid <= $((ACCOUNTS / 100))" >>"$LOG"
	s=$(now)
	if repo_exec timeout "$NO_START_FAST_CAP" pgbackrest --stanza=db backup --type=full --no-start-fast --log-level-console=info >"$OUT" 2>&1; then
		addsample nofast "$(awk -v s="$s" -v e="$(now)" 'BEGIN { printf "%.3f", e - s }')"
		V[nofast]="finished"
	else
		addsample nofast "$NO_START_FAST_CAP"
		V[nofast]="stopped at the cap: still waiting for the checkpoint"
	fi
	cat "$OUT" >>"$LOG"
	row 2 "full, --no-start-fast (1 run)" nofast hand_full "" "${V[nofast]}"
fi

report
