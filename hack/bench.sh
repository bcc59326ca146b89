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
# 7 start-up time and binary size; 8 archiving under an unthrottled pgbench, synchronous against
# asynchronous (ARCH_SECONDS=120, ARCH_SCALE=10, ARCH_LOADS="pgbench bulk"). The sections 2-6 need the database of section 1 (it is made
# whatever the sections); 4 and 6 use the backups of the others when they ran.
#
# Needs: KUBECONFIG (default the local cluster's), bin/kubectl-pgo (make build), kubectl, jq;
# hyperfine is installed with apt when missing (sections 4, 5, 7).
set -euo pipefail

SCALE=50 ROUNDS=3 CLUSTERS=10 READ_RUNS=10 SECTIONS=1,2,3,4,5,6,7,8
PARTITIONS=0 ARCH_SCALE=${ARCH_SCALE:-10} ARCH_SECONDS=${ARCH_SECONDS:-120}
NO_START_FAST_CAP=${NO_START_FAST_CAP:-90}
usage() { sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
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

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PGO=$ROOT/bin/kubectl-pgo
export KUBECONFIG=${KUBECONFIG:-/var/lib/kubectl-pgo-cluster/admin.kubeconfig}
[[ -x $PGO ]] || { echo "bench: $PGO is missing: run make build" >&2; exit 2; }
command -v jq >/dev/null || { echo "bench: jq is needed" >&2; exit 2; }
kubectl version >/dev/null 2>&1 || { echo "bench: the cluster in $KUBECONFIG does not answer" >&2; exit 2; }

RUN=bench-$(date +%H%M%S)-$((RANDOM % 1000))
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
psql_db() { kubectl -n "$NS" exec "$DB-0" -c database -- psql -X -qtA -v ON_ERROR_STOP=1 -d postgres -c "$1"; }
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
	timed create pgo create cluster "$DB" --wait --timeout=10m --storage-size="${SIZE_GI}Gi" --pgbackrest-pvc-size="$((SIZE_GI * 4))Gi"
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
		timed full_restore pgo create cluster "$DB-r$r" --restore-from "$DB" --wait --timeout=20m \
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
arch_psql() { kubectl -n "$NS" exec "$1-0" -c database -- psql -X -qtA -v ON_ERROR_STOP=1 -d postgres -c "$2"; }
ARCH_SAMPLE="SELECT (SELECT count(*) FROM pg_ls_archive_statusdir() WHERE name LIKE '%.ready') || ' ' || pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint || ' ' || archived_count FROM pg_stat_archiver"
# ARCH_BULK is the second load: bulk inserts (200,000 rows of 256 bytes, truncated each time),
# which write WAL as fast as the node can, where pgbench's small transactions are bound by CPU.
ARCH_BULK="end=\$((\$(date +%s) + ARCH_SECONDS)); psql -XAtq -c 'CREATE TABLE IF NOT EXISTS bulk (id int, v text)'
while [ \$(date +%s) -lt \$end ]; do psql -XAtq -c 'TRUNCATE bulk' -c \"INSERT INTO bulk SELECT g, repeat(md5(g::text), 8) FROM generate_series(1, 200000) g\" || exit; done"
arch_load() {
	local name=$1 key=$2 load=$3 peak=0 s e ready lsn archived lsn0 archived0 t0 t1
	shift 3
	timed "create_$key" pgo create cluster "$name" --wait --timeout=10m --storage-size=4Gi --pgbackrest-pvc-size=8Gi "$@"
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
	pgo delete cluster "$name" --yes >>"$LOG" 2>&1
}
if has 8; then
	say "8: pgbench unthrottled for ${ARCH_SECONDS}s (scale $ARCH_SCALE), synchronous, then asynchronous archiving (local repository)"
	for load in ${ARCH_LOADS:-pgbench bulk}; do
		arch_load "arch-sync-$load" "sync_$load" "$load"
		arch_load "arch-async-$load" "async_$load" "$load" --pgbackrest-archive-async
		row 8 "$load: peak .ready segments, asynchronous" "peak_async_$load" "peak_sync_$load" "<= 8" "vs synchronous ${V[tps_async_$load]:-}"
		row 8 "$load: backlog drained after the load (s), async" "drain_async_$load" "drain_sync_$load" "<= 10" "vs synchronous"
		row 8 "$load: WAL written (MiB/s), asynchronous" "walrate_async_$load" "walrate_sync_$load" "" "vs synchronous (the load's rate)"
		row 8 "$load: WAL archived during the load (MiB/s), async" "archrate_async_$load" "archrate_sync_$load" "" "vs synchronous; keeps up when it matches the WAL written"
	done
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
