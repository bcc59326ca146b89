#!/bin/bash
# The repository host's command, rendered by kubectl-pgo: runs the
# pgBackRest server, and creates the stanza once the database answers.
# Without a local repository it runs beside the database instead.
set -uo pipefail
repo_path={{ shq .RepoPath }}
stopping=
{{- if .LocalRepo }}
mkdir -p "$repo_path"
{{- end }}

pgbackrest server &
server=$!
stop() {
  echo "kubectl-pgo: stopping the pgBackRest server"
  stopping=1
  kill -TERM "$server" 2>/dev/null
}
trap stop TERM INT

{{ if .Standby -}}
# A standby cluster's database is in recovery, which stanza-create refuses
# online: it reads pg_control from the data directory instead (--no-online),
# so that the stanza is ready when kubectl pgo promote makes it archive.
{{ end -}}
# The database may not be up yet, so try until it is. stanza-create is
# idempotent: on a restart it checks the stanza and succeeds. A short
# io-timeout, because pgBackRest retries a refused connection for twice
# that long (2 minutes by default) before it gives up.
# An archive-push of the database that runs (the first WAL segment can be
# complete before the stanza exists, as when a replica is copied) holds the
# archive lock stanza-create needs: after that failure, try again soon.
attempt=1
delay=5
out=$(mktemp)
while [ -z "$stopping" ]; do
  echo "kubectl-pgo: stanza-create, attempt $attempt"
  if pgbackrest --stanza={{ shq .Stanza }} --io-timeout=10 stanza-create{{ if .Standby }} --no-online{{ end }} 2>&1 | tee "$out"; [ "${PIPESTATUS[0]}" -eq 0 ]; then
    echo "kubectl-pgo: stanza {{ .Stanza }} is ready in $repo_path"
{{- if not .LocalRepo }}
    touch {{ shq .StanzaChecked }} # the backup lock is free now
{{- end }}
    break
  fi
  if ! kill -0 "$server" 2>/dev/null; then
    echo "kubectl-pgo: the pgBackRest server exited" >&2
    break
  fi
  if grep -q 'unable to acquire lock' "$out"; then
    echo "kubectl-pgo: stanza-create failed on a lock the database's archive-push holds; next attempt in 2s"
    sleep 2 &
  else
    echo "kubectl-pgo: stanza-create failed (is the database up?); next attempt in ${delay}s"
    sleep "$delay" &
    delay=$((delay * 2 > 60 ? 60 : delay * 2))
  fi
  wait $! # a signal interrupts wait, not sleep
  attempt=$((attempt + 1))
done
rm -f "$out"

# wait returns early when a signal arrives: go on until the server is gone.
while :; do
  wait "$server"
  status=$?
  kill -0 "$server" 2>/dev/null || break
done
exit "$status"
