#!/bin/bash
# pgbackrest with the repositories of cluster {{ .Standby.Source }}, which this
# standby cluster follows, rendered by kubectl-pgo: its pgbackrest.conf,
# certificates and keys are the Secret {{ .StandbySourceSecret }}, mounted at
# {{ .StandbySourceDir }}. The database's restore_command runs it with
# archive-get, and kubectl pgo with info. It only reads those repositories.
set -euo pipefail
# The container's own pgBackRest variables describe this cluster's
# repositories, not the source's.
for name in $(compgen -e); do
  case $name in PGBACKREST_*) unset "$name" ;; esac
done
dir={{ shq .StandbySourceDir }}
while read -r name key; do
  [ -n "$name" ] || continue
  export "$name=$(cat "$dir/$key")"
done <"$dir/{{ .StandbyEnvFile }}"
exec pgbackrest --config="$dir/{{ .StandbyConfFile }}" "$@"
